"""Land acquisition history (征地拆迁台账): every stage change and dispute flag, append-only,
with the documents that back it. The parcel's current stage and dispute follow the history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STAGES = (
    "('state_owned', 'not_started', 'pre_announced', 'surveyed', 'plan_published', "
    "'agreement_signed', 'compensated', 'demolished', 'cleared')"
)


def upgrade() -> None:
    op.execute(f"""
    ALTER TABLE parcel
        ADD COLUMN dispute boolean NOT NULL DEFAULT false,
        ADD COLUMN dispute_reason text NOT NULL DEFAULT '',
        ADD CONSTRAINT parcel_dispute_has_reason CHECK (NOT dispute OR btrim(dispute_reason) <> '');

    CREATE TABLE stage_change (
        id bigserial PRIMARY KEY,
        parcel_id integer NOT NULL REFERENCES parcel (id),
        change_set uuid NOT NULL,  -- the parcels moved together by one request
        kind varchar(16) NOT NULL CHECK (kind IN ('stage', 'dispute', 'resolve')),
        from_stage varchar(24) CHECK (from_stage IN {STAGES}),
        to_stage varchar(24) CHECK (to_stage IN {STAGES}),
        happened_on date NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        recorded_by text NOT NULL CHECK (btrim(recorded_by) <> ''),
        note text NOT NULL DEFAULT '',
        correction boolean NOT NULL DEFAULT false,
        reason text NOT NULL DEFAULT '',
        CHECK (kind <> 'stage'
               OR (from_stage IS NOT NULL AND to_stage IS NOT NULL AND from_stage <> to_stage)),
        CHECK (kind = 'stage' OR (from_stage IS NULL AND to_stage IS NULL)),
        CHECK (NOT correction OR btrim(reason) <> ''),
        CHECK (kind <> 'dispute' OR btrim(reason) <> ''),
        -- nothing is recorded as having happened after it was recorded (China time)
        CHECK (happened_on <= (recorded_at AT TIME ZONE 'Asia/Shanghai')::date)
    );
    CREATE INDEX stage_change_parcel ON stage_change (parcel_id, happened_on, id);
    CREATE INDEX stage_change_set ON stage_change (change_set);

    -- agreement scans, photos: one upload backs every parcel moved by the same request
    CREATE TABLE stage_document (
        id serial PRIMARY KEY,
        change_set uuid NOT NULL,
        file_name text NOT NULL CHECK (btrim(file_name) <> ''),
        content_type text NOT NULL
            CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
        size_bytes integer NOT NULL CHECK (size_bytes > 0),
        sha256 char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{{64}}$'),
        uploaded_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX stage_document_set ON stage_document (change_set);
    CREATE FUNCTION lm_document_backs_a_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM stage_change WHERE change_set = NEW.change_set) THEN
            RAISE EXCEPTION 'document % backs no recorded change', NEW.file_name
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER stage_document_backs_a_change BEFORE INSERT ON stage_document
        FOR EACH ROW EXECUTE FUNCTION lm_document_backs_a_change();

    -- history is append-only: a mistake is put right by a new (correcting) entry
    CREATE FUNCTION lm_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $fn$;
    CREATE TRIGGER stage_change_append_only BEFORE UPDATE OR DELETE ON stage_change
        FOR EACH ROW EXECUTE FUNCTION lm_append_only();
    CREATE TRIGGER stage_document_append_only BEFORE UPDATE OR DELETE ON stage_document
        FOR EACH ROW EXECUTE FUNCTION lm_append_only();

    -- a new entry moves the parcel: only from the stage it is at, never back in time
    CREATE FUNCTION lm_apply_stage_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        latest date;
        code text;
    BEGIN
        SELECT max(happened_on) INTO latest FROM stage_change
        WHERE parcel_id = NEW.parcel_id AND id <> NEW.id;
        SELECT p.code INTO code FROM parcel p WHERE p.id = NEW.parcel_id;
        IF latest IS NOT NULL AND NEW.happened_on < latest THEN
            RAISE EXCEPTION 'parcel %: % is before its last recorded change (%)',
                code, NEW.happened_on, latest USING ERRCODE = 'check_violation';
        END IF;
        PERFORM set_config('landmap.applying_history', 'on', true);
        IF NEW.kind = 'stage' THEN
            UPDATE parcel SET stage = NEW.to_stage, updated_at = now()
            WHERE id = NEW.parcel_id AND stage = NEW.from_stage;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'parcel % is not at stage % any more', code, NEW.from_stage
                    USING ERRCODE = 'serialization_failure';
            END IF;
        ELSIF NEW.kind = 'dispute' THEN
            UPDATE parcel SET dispute = true, dispute_reason = NEW.reason, updated_at = now()
            WHERE id = NEW.parcel_id;
        ELSE
            UPDATE parcel SET dispute = false, dispute_reason = '', updated_at = now()
            WHERE id = NEW.parcel_id;
        END IF;
        PERFORM set_config('landmap.applying_history', 'off', true);
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER stage_change_apply AFTER INSERT ON stage_change
        FOR EACH ROW EXECUTE FUNCTION lm_apply_stage_change();

    -- and the parcel's stage and dispute change through the history only
    CREATE FUNCTION lm_stage_via_history() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF (NEW.stage, NEW.dispute, NEW.dispute_reason)
                IS DISTINCT FROM (OLD.stage, OLD.dispute, OLD.dispute_reason)
           AND current_setting('landmap.applying_history', true) IS DISTINCT FROM 'on' THEN
            RAISE EXCEPTION 'the stage of parcel % changes only through its history', OLD.code
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER parcel_stage_via_history BEFORE UPDATE ON parcel
        FOR EACH ROW EXECUTE FUNCTION lm_stage_via_history();

    -- a parcel's stage on a date, from its history (before its first change: where it started)
    CREATE FUNCTION lm_stage_as_of(p_parcel integer, p_current text, p_day date) RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce(
        (SELECT c.to_stage FROM stage_change c
         WHERE c.parcel_id = p_parcel AND c.kind = 'stage' AND c.happened_on <= p_day
         ORDER BY c.happened_on DESC, c.id DESC LIMIT 1),
        (SELECT c.from_stage FROM stage_change c
         WHERE c.parcel_id = p_parcel AND c.kind = 'stage'
         ORDER BY c.happened_on, c.id LIMIT 1),
        p_current);

    CREATE FUNCTION lm_dispute_as_of(p_parcel integer, p_current boolean, p_day date)
        RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce(
        (SELECT c.kind = 'dispute' FROM stage_change c
         WHERE c.parcel_id = p_parcel AND c.kind <> 'stage' AND c.happened_on <= p_day
         ORDER BY c.happened_on DESC, c.id DESC LIMIT 1),
        (SELECT c.kind <> 'dispute' FROM stage_change c
         WHERE c.parcel_id = p_parcel AND c.kind <> 'stage'
         ORDER BY c.happened_on, c.id LIMIT 1),
        p_current);
    """)


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION lm_dispute_as_of(integer, boolean, date), lm_stage_as_of(integer, text, date);
    DROP TRIGGER parcel_stage_via_history ON parcel;
    DROP FUNCTION lm_stage_via_history();
    DROP TABLE stage_document, stage_change;
    DROP FUNCTION lm_apply_stage_change(), lm_append_only(), lm_document_backs_a_change();
    ALTER TABLE parcel DROP COLUMN dispute_reason, DROP COLUMN dispute;
    """)
