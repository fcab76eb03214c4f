"""From cleared land to working land: supply, construction, buildings and enterprise statistics.

- land_supply (供地): a parcel supplied by transfer (出让: tender, auction, listing — 招拍挂 — or
  agreement) or allocation (划拨) on a day, with contract number, land user (an enterprise),
  price (万元), contracted start and completion dates (约定动工/竣工日期), planned investment
  (万元) and floor area. Append-only: a correction is a new row naming the one it corrects
  (``corrects``, at most once). The supply in force on a day (lm_supply_in_force) is the
  latest one supplied by then that no correction replaces. Its land user becomes the parcel's
  land_user_id, and a commercial plot's transfer follows (transferred, on the supply's day).
- construction_event (动工, 竣工, 投产, 停工/中止, 复工): append-only, dated, belonging to the
  supply in force on its day (there must be one); a stop carries its reason and, when known,
  the area developed and the investment made so far (for the idle-land rule).
  lm_construction_as_of gives a parcel's last event on a day under the supply in force then —
  or under the supply it corrects: a correction (``origin``, the first of its chain) keeps the
  events recorded before it.
- parcel_building: the building facts of a parcel as measured on a day (floor area, building
  footprint, structures and yards footprint for the industrial building coefficient):
  append-only, the latest measured by a day applies (lm_building_as_of).
- enterprise_statistic (月统计): one row per enterprise and month: output value, revenue, tax,
  fixed-asset investment (万元), employees, energy use (tce); corrected in place, audited.
- efficiency_class (亩均效益 classes A-D): the least tax per mu (万元/亩) of each class, kept by
  administrators; D is the rest.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

EARLIEST = "1949-10-01"
LATEST = "2100-12-31"
DAY = f"BETWEEN DATE '{EARLIEST}' AND DATE '{LATEST}'"
MONEY = "numeric(14, 2)"
AUDITED = {
    "land_supply": ("supply", "r.contract_no", "id"),
    "construction_event": ("construction", "r.parcel_id || '/' || r.event", "id"),
    "parcel_building": ("building", "r.parcel_id || '/' || r.measured_on", "id"),
    "enterprise_statistic": (
        "statistic",
        "r.enterprise_id || '/' || r.year || '-' || r.month",
        "id",
    ),
    "efficiency_class": ("efficiency_class", "r.class", "class"),
}
APPEND_ONLY = ("land_supply", "construction_event", "parcel_building")


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE land_supply (
        id serial PRIMARY KEY,
        parcel_id integer NOT NULL REFERENCES parcel (id) ON DELETE RESTRICT,
        method varchar(16) NOT NULL CHECK (method IN ('transfer', 'allocation')),
        transfer_way varchar(16)
            CHECK (transfer_way IN ('tender', 'auction', 'listing', 'agreement')),
        supplied_on date NOT NULL CHECK (supplied_on {DAY}),
        contract_no text NOT NULL CHECK (btrim(contract_no) <> '' AND length(contract_no) <= 100),
        enterprise_id integer REFERENCES enterprise (id) ON DELETE RESTRICT,
        price_wan {MONEY} NOT NULL CHECK (price_wan >= 0),
        start_due date NOT NULL CHECK (start_due {DAY}),
        completion_due date NOT NULL CHECK (completion_due {DAY}),
        investment_wan {MONEY} CHECK (investment_wan >= 0),
        floor_area_m2 {MONEY} CHECK (floor_area_m2 > 0),
        note text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
        corrects integer UNIQUE REFERENCES land_supply (id),
        origin integer NOT NULL REFERENCES land_supply (id),  -- the first of its correction chain
        recorded_at timestamptz NOT NULL DEFAULT now(),
        recorded_by text NOT NULL DEFAULT '',
        CHECK (method = 'transfer' OR transfer_way IS NULL),
        CHECK (start_due >= supplied_on AND completion_due >= start_due),
        CHECK (corrects IS DISTINCT FROM id)
    );
    CREATE INDEX land_supply_parcel ON land_supply (parcel_id, supplied_on);
    CREATE INDEX land_supply_enterprise ON land_supply (enterprise_id);

    -- the supply of a parcel in force on a day (NULL: now): the latest supplied by then that
    -- no correction replaces
    CREATE FUNCTION lm_supply_in_force(p_parcel integer, p_day date) RETURNS integer
        LANGUAGE sql STABLE PARALLEL SAFE
        RETURN (SELECT s.id FROM land_supply s
                WHERE s.parcel_id = p_parcel AND s.supplied_on <= coalesce(p_day, 'infinity')
                  AND NOT EXISTS (SELECT 1 FROM land_supply c WHERE c.corrects = s.id)
                ORDER BY s.supplied_on DESC, s.id DESC LIMIT 1);

    -- a correction is of the same parcel and of the chain of the supply it corrects
    CREATE FUNCTION lm_supply_origin() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        NEW.origin := coalesce((SELECT origin FROM land_supply WHERE id = NEW.corrects), NEW.id);
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER land_supply_origin BEFORE INSERT ON land_supply
        FOR EACH ROW EXECUTE FUNCTION lm_supply_origin();

    -- the land user and a commercial plot's transfer follow the supply in force now
    CREATE FUNCTION lm_apply_supply() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        current_id integer;
        cur land_supply%ROWTYPE;
    BEGIN
        IF NEW.corrects IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM land_supply WHERE id = NEW.corrects AND parcel_id = NEW.parcel_id
        ) THEN
            RAISE EXCEPTION 'a supply corrects a supply of the same parcel'
                USING ERRCODE = 'check_violation';
        END IF;
        current_id := lm_supply_in_force(NEW.parcel_id, NULL);
        SELECT * INTO cur FROM land_supply WHERE id = current_id;
        UPDATE parcel SET land_user_id = cur.enterprise_id
        WHERE id = NEW.parcel_id AND land_user_id IS DISTINCT FROM cur.enterprise_id;
        IF cur.method = 'transfer' THEN
            UPDATE commercial_plot SET transfer_status = 'transferred',
                                       transfer_date = cur.supplied_on
            WHERE parcel_id = NEW.parcel_id;
        END IF;
        RETURN NULL;
    END $fn$;
    CREATE TRIGGER land_supply_apply AFTER INSERT ON land_supply
        FOR EACH ROW EXECUTE FUNCTION lm_apply_supply();

    CREATE TABLE construction_event (
        id serial PRIMARY KEY,
        parcel_id integer NOT NULL REFERENCES parcel (id) ON DELETE RESTRICT,
        supply_id integer NOT NULL REFERENCES land_supply (id),
        event varchar(16) NOT NULL
            CHECK (event IN ('started', 'completed', 'commissioned', 'stopped', 'resumed')),
        happened_on date NOT NULL CHECK (happened_on {DAY}),
        note text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
        developed_m2 {MONEY} CHECK (developed_m2 >= 0),
        invested_wan {MONEY} CHECK (invested_wan >= 0),
        recorded_at timestamptz NOT NULL DEFAULT now(),
        recorded_by text NOT NULL DEFAULT '',
        CHECK (event <> 'stopped' OR btrim(note) <> '')
    );
    CREATE INDEX construction_event_parcel ON construction_event (parcel_id, happened_on);

    -- an event belongs to the supply in force on its day; without one it is refused
    CREATE FUNCTION lm_construction_supply() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        NEW.supply_id := lm_supply_in_force(NEW.parcel_id, NEW.happened_on);
        IF NEW.supply_id IS NULL THEN
            RAISE EXCEPTION 'parcel % was not supplied on %', NEW.parcel_id, NEW.happened_on
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER construction_event_supply BEFORE INSERT ON construction_event
        FOR EACH ROW EXECUTE FUNCTION lm_construction_supply();

    -- a parcel's last construction event on a day (NULL: now) under the supply in force then
    -- (or a supply it corrects: the same origin)
    CREATE FUNCTION lm_construction_as_of(p_parcel integer, p_day date) RETURNS integer
        LANGUAGE sql STABLE PARALLEL SAFE
        RETURN (SELECT e.id FROM construction_event e
                JOIN land_supply s ON s.id = e.supply_id
                WHERE e.parcel_id = p_parcel
                  AND s.origin = (SELECT origin FROM land_supply
                                  WHERE id = lm_supply_in_force(p_parcel, p_day))
                  AND e.happened_on <= coalesce(p_day, 'infinity')
                ORDER BY e.happened_on DESC, e.id DESC LIMIT 1);

    CREATE TABLE parcel_building (
        id serial PRIMARY KEY,
        parcel_id integer NOT NULL REFERENCES parcel (id) ON DELETE RESTRICT,
        measured_on date NOT NULL CHECK (measured_on {DAY}),
        floor_area_m2 {MONEY} NOT NULL CHECK (floor_area_m2 >= 0),
        footprint_m2 {MONEY} NOT NULL CHECK (footprint_m2 >= 0),
        industrial_cover_m2 {MONEY} CHECK (industrial_cover_m2 >= footprint_m2),
        note text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
        recorded_at timestamptz NOT NULL DEFAULT now(),
        recorded_by text NOT NULL DEFAULT ''
    );
    CREATE INDEX parcel_building_parcel ON parcel_building (parcel_id, measured_on);
    CREATE FUNCTION lm_building_as_of(p_parcel integer, p_day date) RETURNS integer
        LANGUAGE sql STABLE PARALLEL SAFE
        RETURN (SELECT b.id FROM parcel_building b
                WHERE b.parcel_id = p_parcel AND b.measured_on <= coalesce(p_day, 'infinity')
                ORDER BY b.measured_on DESC, b.id DESC LIMIT 1);

    CREATE TABLE enterprise_statistic (
        id serial PRIMARY KEY,
        enterprise_id integer NOT NULL REFERENCES enterprise (id) ON DELETE RESTRICT,
        year integer NOT NULL CHECK (year BETWEEN 1990 AND 2100),
        month integer NOT NULL CHECK (month BETWEEN 1 AND 12),
        output_wan {MONEY} NOT NULL CHECK (output_wan >= 0),
        revenue_wan {MONEY} NOT NULL CHECK (revenue_wan >= 0),
        tax_wan {MONEY} NOT NULL CHECK (tax_wan >= 0),
        investment_wan {MONEY} NOT NULL DEFAULT 0 CHECK (investment_wan >= 0),
        employees integer NOT NULL DEFAULT 0 CHECK (employees BETWEEN 0 AND 1000000),
        energy_tce {MONEY} CHECK (energy_tce >= 0),
        source varchar(16) NOT NULL DEFAULT 'form' CHECK (source IN ('form', 'workbook', 'demo')),
        recorded_at timestamptz NOT NULL DEFAULT now(),
        recorded_by text NOT NULL DEFAULT '',
        UNIQUE (enterprise_id, year, month)
    );

    CREATE TABLE efficiency_class (
        class char(1) PRIMARY KEY CHECK (class IN ('A', 'B', 'C')),
        min_tax_per_mu {MONEY} NOT NULL CHECK (min_tax_per_mu > 0)
    );
    -- 亩均税收 (万元/亩) at least: A 15, B 8, C 3; D below C. Offices set their own.
    INSERT INTO efficiency_class VALUES ('A', 15), ('B', 8), ('C', 3);
    CREATE FUNCTION lm_efficiency_classes_ordered() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF EXISTS (SELECT 1 FROM efficiency_class a JOIN efficiency_class b
                   ON a.class < b.class AND a.min_tax_per_mu <= b.min_tax_per_mu) THEN
            RAISE EXCEPTION 'class A needs more tax per mu than B, and B more than C'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $fn$;
    CREATE CONSTRAINT TRIGGER efficiency_class_ordered AFTER INSERT OR UPDATE ON efficiency_class
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        EXECUTE FUNCTION lm_efficiency_classes_ordered();
    """)
    for table in APPEND_ONLY:
        op.execute(f"""
        CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION lm_append_only();""")
    for table, (entity, key, pk) in AUDITED.items():
        args = f"'{entity}', '{key.replace(chr(39), chr(39) * 2)}', '{pk}'"
        op.execute(f"""
        CREATE TRIGGER {table}_audit_insert AFTER INSERT ON {table}
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION lm_audit({args});
        CREATE TRIGGER {table}_audit_update AFTER UPDATE ON {table}
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION lm_audit({args});
        CREATE TRIGGER {table}_audit_delete AFTER DELETE ON {table}
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
            EXECUTE FUNCTION lm_audit({args});
        """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE efficiency_class, enterprise_statistic;
    DROP FUNCTION lm_efficiency_classes_ordered();
    DROP FUNCTION lm_building_as_of(integer, date), lm_construction_as_of(integer, date);
    DROP TABLE parcel_building, construction_event;
    DROP FUNCTION lm_construction_supply(), lm_supply_in_force(integer, date);
    DROP TABLE land_supply;
    DROP FUNCTION lm_apply_supply(), lm_supply_origin();
    """)
