"""The land register: zones with versioned boundaries, projects, batches, parcels.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import context, op
from sqlalchemy import text

from landmap.geo.units import M2_PER_MU

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STAGES = [
    "state_owned",
    "not_started",
    "pre_announced",
    "surveyed",
    "plan_published",
    "agreement_signed",
    "compensated",
    "demolished",
    "cleared",
]
KINDS = ["industrial", "commercial", "housing", "infrastructure", "public"]
PROJECT_STAGES = ["pre_stage", "to_start", "under_construction", "commissioned", "relocating"]


def _in(values: list[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _ensure_extensions() -> None:
    conn = op.get_bind()
    for ext in ("postgis", "btree_gist"):
        have = conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = :e"), {"e": ext})
        if have.first() is None:
            try:
                with conn.begin_nested():
                    conn.execute(text(f"CREATE EXTENSION {ext} SCHEMA public"))
            except Exception as exc:
                raise RuntimeError(
                    f"the extension {ext} is not installed in this database and this role "
                    f"cannot install it: ask a superuser to run CREATE EXTENSION {ext};"
                ) from exc


def upgrade() -> None:
    _ensure_extensions()
    srid = int(context.config.attributes["storage_srid"])
    geom = f"geometry(MultiPolygon, {srid}) NOT NULL"
    geom_ok = "CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom))"
    op.execute(f"""
    CREATE FUNCTION lm_storage_srid() RETURNS integer
        LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN {srid};
    CREATE FUNCTION lm_mu(m2 double precision) RETURNS double precision
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN m2 / {M2_PER_MU!r};
    CREATE FUNCTION lm_area_mu(g geometry) RETURNS double precision
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN lm_mu(ST_Area(g));
    -- a computed area more than 1% off the certificate's is a finding to show
    CREATE FUNCTION lm_area_mismatch(g geometry, official_m2 numeric) RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN official_m2 IS NOT NULL AND abs(ST_Area(g) - official_m2) > 0.01 * official_m2;

    CREATE TABLE zone (
        id serial PRIMARY KEY,
        code varchar(8) NOT NULL UNIQUE CHECK (code ~ '^[A-Z][A-Z0-9]{{0,7}}$'),
        name text NOT NULL CHECK (btrim(name) <> ''),
        name_en text NOT NULL DEFAULT ''
    );

    CREATE TABLE zone_boundary (
        id serial PRIMARY KEY,
        zone_id integer NOT NULL REFERENCES zone (id),
        status varchar(16) NOT NULL CHECK (status IN ('current', 'superseded', 'draft')),
        valid_from date,
        valid_to date,
        note text NOT NULL DEFAULT '',
        created_by text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        geom {geom} {geom_ok},
        area_mu double precision GENERATED ALWAYS AS (lm_area_mu(geom)) STORED,
        CHECK (CASE status
            WHEN 'current' THEN valid_from IS NOT NULL AND valid_to IS NULL
            WHEN 'superseded' THEN valid_from IS NOT NULL AND valid_to > valid_from
            ELSE valid_from IS NULL AND valid_to IS NULL END),
        -- versions in force never overlap in time
        EXCLUDE USING gist (zone_id WITH =, daterange(valid_from, valid_to) WITH &&)
            WHERE (status <> 'draft')
    );
    CREATE UNIQUE INDEX zone_boundary_one_current ON zone_boundary (zone_id)
        WHERE status = 'current';
    CREATE INDEX zone_boundary_geom ON zone_boundary USING gist (geom);

    -- the zone whose current boundary holds most of a geometry: the one rule, as a one-row
    -- table function (inlined into set-based queries) and as a scalar
    CREATE FUNCTION lm_zone_candidates(g geometry) RETURNS TABLE (zone_id integer)
        LANGUAGE sql STABLE PARALLEL SAFE AS $fn$
        SELECT zb.zone_id FROM zone_boundary zb
        WHERE zb.status = 'current' AND ST_Intersects(zb.geom, g)
        ORDER BY ST_Covers(zb.geom, g) DESC, ST_Area(ST_Intersection(zb.geom, g)) DESC, zb.zone_id
        LIMIT 1
    $fn$;
    CREATE FUNCTION lm_zone_of(g geometry) RETURNS integer
        LANGUAGE sql STABLE PARALLEL SAFE
        RETURN (SELECT zone_id FROM lm_zone_candidates(g));

    -- make a geometry the zone's boundary from a date: the one in force until then is kept as
    -- superseded, and parcels are re-assigned to zones. Returns the new version's id, or the
    -- current one's when the geometry is unchanged.
    CREATE FUNCTION lm_set_current_boundary(
        p_zone integer, p_geom geometry, p_from date, p_by text, p_note text
    ) RETURNS integer LANGUAGE plpgsql AS $fn$
    DECLARE
        cur zone_boundary%ROWTYPE;
        new_id integer;
    BEGIN
        SELECT * INTO cur FROM zone_boundary
        WHERE zone_id = p_zone AND status = 'current' FOR UPDATE;
        IF FOUND AND ST_Equals(cur.geom, p_geom) THEN
            RETURN cur.id;
        END IF;
        IF FOUND AND cur.valid_from >= p_from THEN
            RAISE EXCEPTION 'the current boundary of this zone is in force from %; a new one '
                'must start after that date, not on %', cur.valid_from, p_from
                USING ERRCODE = 'check_violation';
        END IF;
        UPDATE zone_boundary SET status = 'superseded', valid_to = p_from WHERE id = cur.id;
        INSERT INTO zone_boundary (zone_id, status, valid_from, note, created_by, geom)
        VALUES (p_zone, 'current', p_from, p_note, p_by, p_geom) RETURNING id INTO new_id;
        UPDATE parcel p SET zone_id = lm_zone_of(p.geom)
        WHERE (p.zone_id = p_zone OR ST_Intersects(p.geom, p_geom))
          AND p.zone_id IS DISTINCT FROM lm_zone_of(p.geom);
        RETURN new_id;
    END;
    $fn$;

    CREATE TABLE project (
        id serial PRIMARY KEY,
        name text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
        kind varchar(16) NOT NULL CHECK (kind IN {_in(KINDS)}),
        stage varchar(24) NOT NULL CHECK (stage IN {_in(PROJECT_STAGES)}),
        zone_id integer REFERENCES zone (id),
        partner text NOT NULL DEFAULT '',
        financing text NOT NULL DEFAULT '',
        description text NOT NULL DEFAULT ''
    );

    CREATE TABLE project_target (
        id serial PRIMARY KEY,
        project_id integer NOT NULL REFERENCES project (id) ON DELETE CASCADE,
        label text NOT NULL CHECK (btrim(label) <> ''),
        due date NOT NULL,
        target_mu numeric(12, 2) CHECK (target_mu > 0),
        UNIQUE (project_id, label)
    );

    CREATE TABLE acquisition_batch (
        id serial PRIMARY KEY,
        project_id integer NOT NULL REFERENCES project (id),
        name text NOT NULL CHECK (btrim(name) <> ''),
        target_mu numeric(12, 2) NOT NULL CHECK (target_mu > 0),
        due date NOT NULL,
        UNIQUE (project_id, name),
        UNIQUE (id, project_id)
    );

    CREATE TABLE parcel (
        id serial PRIMARY KEY,
        code varchar(40) NOT NULL UNIQUE CHECK (code ~ '^\\S+$'),
        name text NOT NULL DEFAULT '',
        owner text NOT NULL DEFAULT '',
        location text NOT NULL DEFAULT '',
        land_use_code varchar(16) NOT NULL DEFAULT '' CHECK (land_use_code ~ '^[0-9A-Za-z]*$'),
        land_use_name text NOT NULL DEFAULT '',
        official_area_m2 numeric(14, 2) CHECK (official_area_m2 > 0),
        zone_id integer REFERENCES zone (id),
        stage varchar(24) NOT NULL DEFAULT 'not_started' CHECK (stage IN {_in(STAGES)}),
        project_id integer REFERENCES project (id),
        batch_id integer,
        attributes jsonb NOT NULL DEFAULT '{{}}' CHECK (jsonb_typeof(attributes) = 'object'),
        geom {geom} {geom_ok},
        area_mu double precision GENERATED ALWAYS AS (lm_area_mu(geom)) STORED,
        area_mismatch boolean GENERATED ALWAYS AS (lm_area_mismatch(geom, official_area_m2)) STORED,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        -- a batch belongs to the parcel's own project
        CHECK (batch_id IS NULL OR project_id IS NOT NULL),
        FOREIGN KEY (batch_id, project_id) REFERENCES acquisition_batch (id, project_id)
    );
    CREATE INDEX parcel_geom ON parcel USING gist (geom);
    CREATE INDEX parcel_zone ON parcel (zone_id);
    CREATE INDEX parcel_project ON parcel (project_id);
    CREATE INDEX parcel_batch ON parcel (batch_id);

    CREATE TABLE commercial_plot (
        parcel_id integer PRIMARY KEY REFERENCES parcel (id) ON DELETE CASCADE,
        planned_use text NOT NULL DEFAULT '',
        plot_ratio_max numeric(5, 2) CHECK (plot_ratio_max > 0),
        building_density_max numeric(5, 2) CHECK (building_density_max BETWEEN 0 AND 100),
        green_ratio_min numeric(5, 2) CHECK (green_ratio_min BETWEEN 0 AND 100),
        height_limit_m numeric(6, 1) CHECK (height_limit_m > 0),
        transfer_status varchar(16) NOT NULL DEFAULT 'planned'
            CHECK (transfer_status IN ('planned', 'listed', 'transferred')),
        transfer_date date,
        reserve_price_wan numeric(12, 2) CHECK (reserve_price_wan >= 0)
    );

    -- every file that went into the register, and how it was read
    CREATE TABLE import_run (
        id serial PRIMARY KEY,
        layer varchar(16) NOT NULL CHECK (layer IN ('parcels', 'landuse', 'farmland', 'zones')),
        file_name text NOT NULL,
        sha256 char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{{64}}$'),
        run_by text NOT NULL CHECK (btrim(run_by) <> ''),
        run_at timestamptz NOT NULL DEFAULT now(),
        crs text NOT NULL,
        crs_reason text NOT NULL,
        encoding text NOT NULL,
        encoding_reason text NOT NULL,
        records_read integer NOT NULL CHECK (records_read >= 0),
        inserted integer NOT NULL CHECK (inserted >= 0),
        updated integer NOT NULL CHECK (updated >= 0),
        rejected integer NOT NULL CHECK (rejected >= 0),
        total_mu double precision NOT NULL,
        options jsonb NOT NULL DEFAULT '{{}}'
    );
    """)


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION lm_set_current_boundary(integer, geometry, date, text, text);
    DROP TABLE import_run, commercial_plot, parcel, acquisition_batch, project_target, project;
    DROP FUNCTION lm_zone_of(geometry), lm_zone_candidates(geometry);
    DROP TABLE zone_boundary, zone;
    DROP FUNCTION lm_area_mismatch(geometry, numeric), lm_area_mu(geometry),
        lm_mu(double precision), lm_storage_srid();
    """)
