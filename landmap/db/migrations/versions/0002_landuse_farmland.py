"""Land-use patches (三调 DLTB) and permanent basic farmland (永久基本农田).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op
from sqlalchemy import text

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    srid = op.get_bind().execute(text("SELECT lm_storage_srid()")).scalar_one()
    op.execute(f"""
    -- the same shape to the millimetre: a re-projected copy of a parcel is not a change
    CREATE FUNCTION lm_same_shape(a geometry, b geometry) RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN ST_OrderingEquals(ST_SnapToGrid(a, 0.001), ST_SnapToGrid(b, 0.001));

    CREATE TABLE landuse_patch (
        id serial PRIMARY KEY,
        code varchar(40) NOT NULL UNIQUE CHECK (code ~ '^\\S+$'),
        patch_no text NOT NULL DEFAULT '',
        land_use_code varchar(16) NOT NULL CHECK (land_use_code ~ '^[0-9A-Za-z]+$'),
        land_use_name text NOT NULL DEFAULT '',
        ownership text NOT NULL DEFAULT '',
        owner_unit text NOT NULL DEFAULT '',
        location_unit text NOT NULL DEFAULT '',
        official_area_m2 numeric(14, 2) CHECK (official_area_m2 > 0),
        deduction_m2 numeric(14, 2) CHECK (deduction_m2 >= 0),
        net_area_m2 numeric(14, 2) CHECK (net_area_m2 >= 0),
        attributes jsonb NOT NULL DEFAULT '{{}}' CHECK (jsonb_typeof(attributes) = 'object'),
        geom geometry(MultiPolygon, {srid}) NOT NULL,
        area_mu double precision GENERATED ALWAYS AS (lm_area_mu(geom)) STORED,
        area_mismatch boolean GENERATED ALWAYS AS (lm_area_mismatch(geom, official_area_m2))
            STORED,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom))
    );
    CREATE INDEX landuse_patch_geom ON landuse_patch USING gist (geom);

    CREATE TABLE farmland (
        id serial PRIMARY KEY,
        code varchar(40) NOT NULL UNIQUE CHECK (code ~ '^\\S+$'),
        land_use_code varchar(16) NOT NULL DEFAULT '' CHECK (land_use_code ~ '^[0-9A-Za-z]*$'),
        official_area_m2 numeric(14, 2) CHECK (official_area_m2 > 0),
        attributes jsonb NOT NULL DEFAULT '{{}}' CHECK (jsonb_typeof(attributes) = 'object'),
        geom geometry(MultiPolygon, {srid}) NOT NULL,
        area_mu double precision GENERATED ALWAYS AS (lm_area_mu(geom)) STORED,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom))
    );
    CREATE INDEX farmland_geom ON farmland USING gist (geom);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE farmland, landuse_patch")
    op.execute("DROP FUNCTION lm_same_shape(geometry, geometry)")
