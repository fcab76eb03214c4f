"""Imports from the browser: each import record keeps its report.

The report (counts, the coordinate system and encoding decisions, the records set aside,
certificate mismatches, the projects and batches the load created, the field mapping used) is
kept in every locale, as people read it, beside the figures import_run had. It is bounded: the
loader lists at most 100 records of each kind. The field mapping and --create-projects go to
``options`` as the other options do.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE import_run
        ADD COLUMN report jsonb NOT NULL DEFAULT '{}'
            CONSTRAINT import_run_report_object CHECK (jsonb_typeof(report) = 'object')
            CONSTRAINT import_run_report_bounded CHECK (octet_length(report::text) <= 4000000);
    ALTER TABLE import_run
        ADD CONSTRAINT import_run_options_object CHECK (jsonb_typeof(options) = 'object');
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE import_run DROP CONSTRAINT import_run_options_object;
    ALTER TABLE import_run DROP COLUMN report;
    """)
