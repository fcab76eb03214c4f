"""Dates and figures bounded in the database too: no event before 1949-10-01, no NaN.

The web and the services refuse a stage move dated 0001-01-01 or a target of "Infinity";
these CHECKs make the same refusal for every other path (a script, psql as the app). A
numeric column's CHECK (x >= 0) lets NaN through (NaN sorts above every number), so the
figures also say x <> 'NaN'. Existing rows that break a rule stop the upgrade, naming the
constraint: fix them first (none exist unless someone bypassed the app).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

EARLIEST = "1949-10-01"
# (table, constraint, condition)
CHECKS = [
    ("stage_change", "stage_change_day_bounded", f"happened_on >= DATE '{EARLIEST}'"),
    ("quota_entry", "quota_entry_day_bounded", f"entry_date >= DATE '{EARLIEST}'"),
    (
        "zone_boundary",
        "zone_boundary_day_bounded",
        f"valid_from IS NULL OR valid_from >= DATE '{EARLIEST}'",
    ),
    ("quota_year", "quota_year_target_finite", "target_mu <> 'NaN'"),
    ("project_target", "project_target_finite", "target_mu <> 'NaN'"),
    ("acquisition_batch", "acquisition_batch_target_finite", "target_mu <> 'NaN'"),
    (
        "quota_entry",
        "quota_entry_figures_finite",
        "'NaN' NOT IN (mu, d_granted, d_reserved, d_consumed)",
    ),
    ("parcel", "parcel_official_area_finite", "official_area_m2 <> 'NaN'"),
]


def upgrade() -> None:
    for table, name, condition in CHECKS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({condition})")


def downgrade() -> None:
    for table, name, _condition in CHECKS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
