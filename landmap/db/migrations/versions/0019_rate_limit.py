"""The login rate limit's counters, shared by every server process on every machine.

- rate_limit: one row per limited key (the address, or the address and the user name tried)
  and fixed window: how many attempts it counted and when its window ends. A row whose
  window has ended counts nothing; the next attempt starts a new window in the same row,
  and rows that have ended are deleted now and then (landmap.web.ratelimit).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE rate_limit (
        key varchar(255) PRIMARY KEY,
        count integer NOT NULL CHECK (count >= 0),
        expires_at timestamptz NOT NULL
    );
    CREATE INDEX rate_limit_expires_at ON rate_limit (expires_at);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE rate_limit;")
