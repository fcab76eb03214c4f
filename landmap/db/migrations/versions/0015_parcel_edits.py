"""Parcel corrections, splits and merges; retired parcels.

- A parcel is in force from created_on (NULL: loaded before this migration, in force since
  ever) until retired_on (NULL: in force now); a split or a merge retires the parcels it
  replaces (their rows, codes, stage history and every reference to them are kept) and
  creates the new ones from the same day. lm_parcel_in_force(created_on, retired_on, day)
  says whether a parcel is in force on a day (a NULL day: now): every view of the register
  filters by it. A retired parcel is kept as it was (only its zone follows a boundary change).
- parcel_lineage: which parcel became which (split 分割, merge 合并), on what day, by whom.
- parcel_correction: an attribute or geometry correction with its reason, the fields before
  and after (a geometry as its mu and fingerprint): shown in the parcel's history.
Both are append-only and audited.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

EARLIEST = "1949-10-01"
# table -> (entity name, key expression over the row ``r``, primary key column)
AUDITED = {
    "parcel_lineage": ("parcel_lineage", "(SELECT code FROM parcel WHERE id = r.new_parcel_id)"),
    "parcel_correction": ("parcel_correction", "(SELECT code FROM parcel WHERE id = r.parcel_id)"),
}
# the day a row was recorded on, China time: nothing is recorded as happening after it
RECORDED_DAY = "(recorded_at AT TIME ZONE 'Asia/Shanghai')::date"


def upgrade() -> None:
    op.execute(f"""
    ALTER TABLE parcel
        ADD COLUMN created_on date,
        ADD COLUMN retired_on date,
        ADD CONSTRAINT parcel_created_bounded
            CHECK (created_on IS NULL OR created_on >= DATE '{EARLIEST}'),
        ADD CONSTRAINT parcel_retired_bounded
            CHECK (retired_on IS NULL OR retired_on >= DATE '{EARLIEST}'),
        ADD CONSTRAINT parcel_retired_after_created
            CHECK (retired_on IS NULL OR created_on IS NULL OR retired_on >= created_on);

    -- whether a parcel is in force on a day (NULL: now, i.e. not retired)
    CREATE FUNCTION lm_parcel_in_force(created date, retired date, day date) RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN day IS NULL THEN retired IS NULL
                ELSE (created IS NULL OR created <= day) AND (retired IS NULL OR retired > day)
           END;

    -- a retired parcel is kept as it was: only its zone (lm_zone_of after a boundary change)
    CREATE FUNCTION lm_retired_parcel_kept() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        moving text[] := ARRAY['zone_id', 'updated_at', 'area_mu', 'area_mismatch'];
    BEGIN
        IF (to_jsonb(NEW) - moving) IS DISTINCT FROM (to_jsonb(OLD) - moving) THEN
            RAISE EXCEPTION 'parcel % was retired on %: it is kept as it was', OLD.code,
                OLD.retired_on USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER parcel_retired_kept BEFORE UPDATE ON parcel FOR EACH ROW
        WHEN (OLD.retired_on IS NOT NULL) EXECUTE FUNCTION lm_retired_parcel_kept();

    CREATE TABLE parcel_lineage (
        id bigserial PRIMARY KEY,
        change_set uuid NOT NULL,  -- the parcels of one split or merge
        kind varchar(8) NOT NULL CHECK (kind IN ('split', 'merge')),
        old_parcel_id integer NOT NULL REFERENCES parcel (id),
        new_parcel_id integer NOT NULL REFERENCES parcel (id),
        happened_on date NOT NULL CHECK (happened_on >= DATE '{EARLIEST}'),
        reason text NOT NULL DEFAULT '',
        recorded_by text NOT NULL CHECK (btrim(recorded_by) <> ''),
        recorded_at timestamptz NOT NULL DEFAULT now(),
        CHECK (old_parcel_id <> new_parcel_id),
        CHECK (happened_on <= {RECORDED_DAY}),
        UNIQUE (old_parcel_id, new_parcel_id)
    );
    CREATE INDEX parcel_lineage_new ON parcel_lineage (new_parcel_id);

    CREATE TABLE parcel_correction (
        id bigserial PRIMARY KEY,
        parcel_id integer NOT NULL REFERENCES parcel (id),
        kind varchar(16) NOT NULL CHECK (kind IN ('attributes', 'geometry')),
        before jsonb NOT NULL CHECK (jsonb_typeof(before) = 'object'),
        after jsonb NOT NULL CHECK (jsonb_typeof(after) = 'object'),
        reason text NOT NULL CHECK (btrim(reason) <> ''),
        happened_on date NOT NULL CHECK (happened_on >= DATE '{EARLIEST}'),
        recorded_by text NOT NULL CHECK (btrim(recorded_by) <> ''),
        recorded_at timestamptz NOT NULL DEFAULT now(),
        CHECK (happened_on <= {RECORDED_DAY})
    );
    CREATE INDEX parcel_correction_parcel ON parcel_correction (parcel_id, happened_on, id);

    CREATE TRIGGER parcel_lineage_append_only BEFORE UPDATE OR DELETE ON parcel_lineage
        FOR EACH ROW EXECUTE FUNCTION lm_append_only();
    CREATE TRIGGER parcel_correction_append_only BEFORE UPDATE OR DELETE ON parcel_correction
        FOR EACH ROW EXECUTE FUNCTION lm_append_only();
    """)
    for table, (entity, key) in AUDITED.items():
        args = f"'{entity}', '{key.replace(chr(39), chr(39) * 2)}', 'id'"
        op.execute(f"""
        CREATE TRIGGER {table}_audit_insert AFTER INSERT ON {table}
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION lm_audit({args});
        """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE parcel_correction, parcel_lineage;
    DROP TRIGGER parcel_retired_kept ON parcel;
    DROP FUNCTION lm_retired_parcel_kept(), lm_parcel_in_force(date, date, date);
    ALTER TABLE parcel DROP CONSTRAINT parcel_retired_after_created,
        DROP CONSTRAINT parcel_retired_bounded, DROP CONSTRAINT parcel_created_bounded,
        DROP COLUMN retired_on, DROP COLUMN created_on;
    """)
