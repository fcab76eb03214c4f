"""Parcel corrections, splits and merges; retired parcels.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from alembic import op  # noqa: F401

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
