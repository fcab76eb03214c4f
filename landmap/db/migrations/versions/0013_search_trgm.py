"""Search as an officer searches: trigram indexes for substring search.

Parcels are found by any part of their code (the end of a ZDDM, ``JA00002``), owner (权利人),
location (坐落) and name, projects by any part of their name or their partner's (the
enterprise, 合作单位): ``ILIKE '%…%'`` answered from pg_trgm GIN indexes. A query of one or
two characters has no trigram: the planner then takes a scan (or the code's B-tree, in
order), which at a zone's size is fast enough (scripts/bench_search.py measures both).

pg_trgm is installed once per database, in public beside PostGIS (as 0001 does with its
extensions); the downgrade drops the indexes and leaves the extension, which other schemas of
the database may use.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from alembic import op
from sqlalchemy import text

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

INDEXES = {
    "parcel_code_trgm": ("parcel", "code"),
    "parcel_owner_trgm": ("parcel", "owner"),
    "parcel_location_trgm": ("parcel", "location"),
    "parcel_name_trgm": ("parcel", "name"),
    "project_name_trgm": ("project", "name"),
    "project_partner_trgm": ("project", "partner"),
}


def _installed(conn) -> bool:
    found = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
    return found.first() is not None


def _ensure_pg_trgm() -> None:
    """pg_trgm in public; another schema's migration may be installing it at the same time
    (the tests migrate several at once): then it is there once that one commits."""
    conn = op.get_bind()
    if _installed(conn):
        return
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    except Exception as exc:
        if not _installed(conn):
            raise RuntimeError(
                "the extension pg_trgm is not installed in this database and this role "
                "cannot install it: ask a superuser to run CREATE EXTENSION pg_trgm;"
            ) from exc


def upgrade() -> None:
    _ensure_pg_trgm()
    for name, (table, column) in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} public.gin_trgm_ops)")


def downgrade() -> None:
    op.execute(f"DROP INDEX {', '.join(INDEXES)}")
