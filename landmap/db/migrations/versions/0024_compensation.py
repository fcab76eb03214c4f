"""Compensation and resettlement (补偿安置): standards, households, agreements, payments.

- compensation_standard: a standard of a year, in force from a day, for the whole zone
  (area '') or one of its zones (area = the zone's code, standing for the city's 区片), and
  its rates (compensation_rate): land and young crops by land class (元/亩), social security
  for land-losing farmers (元/亩), houses by structure (元/m²), attachments per item, the
  relocation subsidy per household, the transitional subsidy per person and month for a
  stated number of months, and the early-signing award per household up to a day. Never
  edited (append-only): a new standard is issued with the day it takes effect from.
- household (户): head, the ID number and phone sealed by the application (AES-GCM with a key
  the database never holds: a dump alone does not reveal them; id_digest, an HMAC of the ID
  number, keeps one household per person), members, resettlement chosen (货币安置 money, or
  产权调换 a flat of a stated area); its parcels (household_parcel), houses and attachments.
- compensation_agreement (协议): one per household; a correction is a new version naming the
  one it replaces (supersedes), in a chain the database keeps. The amount is the computed
  total plus its adjustments, each with a reason (a CHECK).
- compensation_payment (兑付): append-only; a correction is a reversal naming the payment.
  household_balance (agreed, paid) is moved only by triggers running as the owner, and its
  CHECK refuses paying beyond what is agreed, or agreeing below what is paid.
- lm_households_blocking(parcel, stage, day): the households that keep a parcel from a stage
  on a day (协议签订 and later need every household's agreement signed by then; 补偿兑付 and
  later need it paid by then); a stage change is refused by trigger too.
- acquisition_batch gains budget_yuan (the batch's compensation budget) and flats_planned
  (resettlement flats planned for it).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02
"""

from alembic import op
from sqlalchemy import text

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

DAY = "BETWEEN DATE '1949-10-01' AND DATE '2100-12-31'"
TODAY = "(recorded_at AT TIME ZONE 'Asia/Shanghai')::date"
YUAN = "numeric(14, 2)"
AUDITED = {
    "compensation_standard": (
        "compensation_standard",
        "r.year || '/' || coalesce(nullif(r.area, ''), '*') || '/' || r.effective_from",
        "id",
    ),
    "compensation_rate": (
        "compensation_rate",
        "r.standard_id || '/' || r.kind || '/' || r.class",
        "id",
    ),
    "household": ("household", "r.id", "id"),
    "household_parcel": (
        "household_parcel",
        "r.household_id || '/' || r.parcel_id",
        "household_id",
    ),
    "household_house": ("household_house", "r.household_id || '/' || r.id", "id"),
    "household_attachment": ("household_attachment", "r.household_id || '/' || r.item", "id"),
    "compensation_agreement": ("agreement", "r.number || '/v' || r.version", "id"),
    "compensation_payment": ("payment", "r.voucher", "id"),
}
APPEND_ONLY = (
    "compensation_standard",
    "compensation_rate",
    "compensation_agreement",
    "compensation_payment",
)
# the stages that need every household's agreement, and those that need it paid
AGREED_STAGES = "('agreement_signed', 'compensated', 'demolished', 'cleared')"
PAID_STAGES = "('compensated', 'demolished', 'cleared')"


def upgrade() -> None:
    schema = op.get_bind().execute(text("SELECT current_schema()")).scalar_one()
    definer = f'SECURITY DEFINER SET search_path = "{schema}", public, pg_temp'
    op.execute(f"""
    CREATE TABLE compensation_standard (
        id serial PRIMARY KEY,
        year integer NOT NULL CHECK (year BETWEEN 1990 AND 2100),
        effective_from date NOT NULL CHECK (effective_from {DAY}),
        area text NOT NULL DEFAULT '' CHECK (length(area) <= 16),
        note text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
        recorded_at timestamptz NOT NULL DEFAULT now(),
        recorded_by text NOT NULL CHECK (btrim(recorded_by) <> ''),
        UNIQUE (area, effective_from),
        CHECK (extract(year FROM effective_from) = year)
    );

    CREATE TABLE compensation_rate (
        id serial PRIMARY KEY,
        standard_id integer NOT NULL REFERENCES compensation_standard (id),
        kind varchar(16) NOT NULL CHECK (kind IN ('land', 'crops', 'social_security', 'house',
            'attachment', 'relocation', 'transition', 'early_award')),
        class text NOT NULL DEFAULT '' CHECK (length(class) <= 50),
        unit varchar(16) NOT NULL
            CHECK (unit IN ('mu', 'm2', 'item', 'household', 'person_month')),
        rate_yuan {YUAN} NOT NULL CHECK (rate_yuan >= 0 AND rate_yuan <= 100000000),
        months integer CHECK (months BETWEEN 1 AND 120),
        until date CHECK (until {DAY}),
        UNIQUE (standard_id, kind, class),
        CHECK ((kind = 'transition') = (months IS NOT NULL)),
        CHECK ((kind = 'early_award') = (until IS NOT NULL)),
        CHECK (unit = CASE kind WHEN 'land' THEN 'mu' WHEN 'crops' THEN 'mu'
                                WHEN 'social_security' THEN 'mu' WHEN 'house' THEN 'm2'
                                WHEN 'attachment' THEN 'item' WHEN 'transition' THEN 'person_month'
                                ELSE 'household' END),
        CHECK (kind NOT IN ('land', 'crops') OR class IN
               ('cultivated', 'garden', 'forest', 'other_agricultural', 'construction', 'unused')),
        CHECK (kind <> 'house' OR class IN
               ('frame', 'brick_concrete', 'brick_wood', 'earth_wood', 'simple')),
        CHECK (kind <> 'attachment' OR btrim(class) <> ''),
        CHECK (kind NOT IN ('social_security', 'relocation', 'transition', 'early_award')
               OR class = '')
    );

    -- the standard of an area in force on a day: the latest taking effect by then
    CREATE FUNCTION lm_standard_in_force(p_area text, p_day date) RETURNS integer
        LANGUAGE sql STABLE PARALLEL SAFE
        RETURN (SELECT id FROM compensation_standard
                WHERE area = p_area AND effective_from <= p_day
                ORDER BY effective_from DESC LIMIT 1);

    CREATE TABLE household (
        id serial PRIMARY KEY,
        head text NOT NULL CHECK (btrim(head) <> '' AND length(head) <= 100),
        id_sealed text NOT NULL CHECK (id_sealed LIKE 'v1:%'),
        id_digest char(64) NOT NULL UNIQUE CHECK (id_digest ~ '^[0-9a-f]{{64}}$'),
        phone_sealed text CHECK (phone_sealed LIKE 'v1:%'),
        members integer NOT NULL CHECK (members BETWEEN 1 AND 50),
        resettlement varchar(8) NOT NULL CHECK (resettlement IN ('money', 'flat')),
        flat_area_m2 numeric(10, 2) CHECK (flat_area_m2 > 0 AND flat_area_m2 <= 1000),
        note text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
        recorded_at timestamptz NOT NULL DEFAULT now(),
        recorded_by text NOT NULL CHECK (btrim(recorded_by) <> ''),
        CHECK ((resettlement = 'flat') = (flat_area_m2 IS NOT NULL))
    );

    CREATE TABLE household_parcel (
        household_id integer NOT NULL REFERENCES household (id) ON DELETE CASCADE,
        parcel_id integer NOT NULL REFERENCES parcel (id) ON DELETE RESTRICT,
        PRIMARY KEY (household_id, parcel_id)
    );
    CREATE INDEX household_parcel_parcel ON household_parcel (parcel_id);

    CREATE TABLE household_house (
        id serial PRIMARY KEY,
        household_id integer NOT NULL REFERENCES household (id) ON DELETE CASCADE,
        structure varchar(16) NOT NULL
            CHECK (structure IN ('frame', 'brick_concrete', 'brick_wood', 'earth_wood', 'simple')),
        area_m2 numeric(10, 2) NOT NULL CHECK (area_m2 > 0 AND area_m2 <= 100000),
        storeys integer NOT NULL DEFAULT 1 CHECK (storeys BETWEEN 1 AND 100),
        legal boolean NOT NULL DEFAULT true
    );
    CREATE INDEX household_house_household ON household_house (household_id);

    CREATE TABLE household_attachment (
        id serial PRIMARY KEY,
        household_id integer NOT NULL REFERENCES household (id) ON DELETE CASCADE,
        item text NOT NULL CHECK (btrim(item) <> '' AND length(item) <= 50),
        quantity numeric(12, 2) NOT NULL CHECK (quantity > 0 AND quantity <= 1000000),
        UNIQUE (household_id, item)
    );

    -- what a household is agreed and has been paid: moved by the triggers below only
    CREATE TABLE household_balance (
        household_id integer PRIMARY KEY REFERENCES household (id) ON DELETE CASCADE,
        agreed_yuan {YUAN} NOT NULL DEFAULT 0 CHECK (agreed_yuan >= 0),
        paid_yuan {YUAN} NOT NULL DEFAULT 0 CHECK (paid_yuan >= 0),
        CONSTRAINT compensation_never_overpaid CHECK (paid_yuan <= agreed_yuan)
    );
    CREATE FUNCTION lm_open_household_balance() RETURNS trigger LANGUAGE plpgsql {definer} AS $fn$
    BEGIN
        INSERT INTO household_balance (household_id) VALUES (NEW.id);
        RETURN NULL;
    END $fn$;
    CREATE TRIGGER household_balance_open AFTER INSERT ON household
        FOR EACH ROW EXECUTE FUNCTION lm_open_household_balance();

    -- the sum of an agreement's adjustments ([{{"reason", "amount_yuan"}}]); NULL when one is
    -- malformed (no reason, no number), which the CHECK then refuses
    CREATE FUNCTION lm_adjustments_sum(a jsonb) RETURNS numeric LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN jsonb_typeof(a) <> 'array' THEN NULL
                WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(a) e
                             WHERE jsonb_typeof(e) <> 'object'
                                OR jsonb_typeof(e -> 'amount_yuan') IS DISTINCT FROM 'number'
                                OR jsonb_typeof(e -> 'reason') IS DISTINCT FROM 'string'
                                OR btrim(e ->> 'reason') = '')
                     THEN NULL
                ELSE (SELECT coalesce(sum((e ->> 'amount_yuan')::numeric), 0)
                      FROM jsonb_array_elements(a) e) END;

    CREATE TABLE compensation_agreement (
        id serial PRIMARY KEY,
        household_id integer NOT NULL REFERENCES household (id),
        version integer NOT NULL CHECK (version >= 1),
        supersedes integer UNIQUE REFERENCES compensation_agreement (id),
        number text NOT NULL CHECK (btrim(number) <> '' AND length(number) <= 100),
        signed_on date NOT NULL CHECK (signed_on {DAY}),
        standard_id integer NOT NULL REFERENCES compensation_standard (id),
        computed_yuan {YUAN} NOT NULL CHECK (computed_yuan >= 0),
        adjustments jsonb NOT NULL DEFAULT '[]',
        amount_yuan {YUAN} NOT NULL CHECK (amount_yuan >= 0),
        note text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
        recorded_at timestamptz NOT NULL DEFAULT now(),
        recorded_by text NOT NULL CHECK (btrim(recorded_by) <> ''),
        UNIQUE (household_id, version),
        CHECK ((version = 1) = (supersedes IS NULL)),
        CHECK (signed_on <= {TODAY}),
        CONSTRAINT agreement_amount_explained
            CHECK (amount_yuan = computed_yuan + lm_adjustments_sum(adjustments))
    );
    CREATE INDEX compensation_agreement_number ON compensation_agreement (number);

    -- one agreement per household: a later version names the one in force and takes its
    -- number's place; an agreement number is one household's
    CREATE FUNCTION lm_apply_agreement() RETURNS trigger LANGUAGE plpgsql {definer} AS $fn$
    DECLARE
        cur compensation_agreement%ROWTYPE;
        paid numeric;
    BEGIN
        SELECT paid_yuan INTO paid FROM household_balance
        WHERE household_id = NEW.household_id FOR UPDATE;
        SELECT * INTO cur FROM compensation_agreement a
        WHERE a.household_id = NEW.household_id
          AND NOT EXISTS (SELECT 1 FROM compensation_agreement b WHERE b.supersedes = a.id);
        IF cur.id IS NULL AND NEW.supersedes IS NOT NULL
           OR cur.id IS NOT NULL AND NEW.supersedes IS DISTINCT FROM cur.id THEN
            RAISE EXCEPTION 'household % has agreement %: a new version names it',
                NEW.household_id, cur.id USING ERRCODE = 'check_violation';
        END IF;
        NEW.version := coalesce(cur.version, 0) + 1;
        IF EXISTS (SELECT 1 FROM compensation_agreement
                   WHERE number = NEW.number AND household_id <> NEW.household_id) THEN
            RAISE EXCEPTION 'agreement number % is another household''s', NEW.number
                USING ERRCODE = 'unique_violation';
        END IF;
        UPDATE household_balance SET agreed_yuan = NEW.amount_yuan
        WHERE household_id = NEW.household_id;
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER compensation_agreement_apply BEFORE INSERT ON compensation_agreement
        FOR EACH ROW EXECUTE FUNCTION lm_apply_agreement();

    CREATE TABLE compensation_payment (
        id serial PRIMARY KEY,
        household_id integer NOT NULL REFERENCES household (id),
        agreement_id integer NOT NULL REFERENCES compensation_agreement (id),
        paid_on date NOT NULL CHECK (paid_on {DAY}),
        amount_yuan {YUAN} NOT NULL CHECK (amount_yuan <> 0),
        voucher text NOT NULL UNIQUE CHECK (btrim(voucher) <> '' AND length(voucher) <= 100),
        reverses integer UNIQUE REFERENCES compensation_payment (id),
        note text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
        recorded_at timestamptz NOT NULL DEFAULT now(),
        recorded_by text NOT NULL CHECK (btrim(recorded_by) <> ''),
        CHECK ((reverses IS NULL) = (amount_yuan > 0)),
        CHECK (paid_on <= {TODAY})
    );
    CREATE INDEX compensation_payment_household ON compensation_payment (household_id, paid_on);

    -- a payment is made under the agreement in force, not before it was signed; a reversal
    -- undoes one payment of the same household exactly; the balance refuses an overpayment
    CREATE FUNCTION lm_apply_payment() RETURNS trigger LANGUAGE plpgsql {definer} AS $fn$
    DECLARE
        signed date;
    BEGIN
        PERFORM 1 FROM household_balance WHERE household_id = NEW.household_id FOR UPDATE;
        SELECT a.id, a.signed_on INTO NEW.agreement_id, signed FROM compensation_agreement a
        WHERE a.household_id = NEW.household_id
          AND NOT EXISTS (SELECT 1 FROM compensation_agreement b WHERE b.supersedes = a.id);
        IF NEW.agreement_id IS NULL THEN
            RAISE EXCEPTION 'household % has no agreement to pay', NEW.household_id
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.reverses IS NULL AND NEW.paid_on < (SELECT min(signed_on)
                FROM compensation_agreement WHERE household_id = NEW.household_id) THEN
            RAISE EXCEPTION 'a payment is not made before the agreement was signed (%)', signed
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.reverses IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM compensation_payment WHERE id = NEW.reverses
                AND household_id = NEW.household_id AND reverses IS NULL
                AND amount_yuan = -NEW.amount_yuan) THEN
            RAISE EXCEPTION 'payment % is not exactly reversed by this one', NEW.reverses
                USING ERRCODE = 'check_violation';
        END IF;
        UPDATE household_balance SET paid_yuan = paid_yuan + NEW.amount_yuan
        WHERE household_id = NEW.household_id;
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER compensation_payment_apply BEFORE INSERT ON compensation_payment
        FOR EACH ROW EXECUTE FUNCTION lm_apply_payment();

    -- where a household stands: unsigned, signed, part paid, paid (the one rule of it)
    CREATE FUNCTION lm_household_status(signed boolean, agreed numeric, paid numeric)
        RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN NOT signed THEN 'unsigned'
                WHEN paid >= coalesce(agreed, 0) THEN 'paid'
                WHEN paid > 0 THEN 'part_paid'
                ELSE 'signed' END;
    CREATE VIEW household_status AS
    SELECT h.id AS household_id, b.agreed_yuan, b.paid_yuan,
           a.id AS agreement_id, a.number AS agreement_number, a.signed_on,
           lm_household_status(a.id IS NOT NULL, b.agreed_yuan, b.paid_yuan) AS status
    FROM household h JOIN household_balance b ON b.household_id = h.id
    LEFT JOIN compensation_agreement a ON a.household_id = h.id
        AND NOT EXISTS (SELECT 1 FROM compensation_agreement n WHERE n.supersedes = a.id);

    -- the households that keep a parcel from a stage on a day, and what each lacks
    CREATE FUNCTION lm_households_blocking(p_parcel integer, p_stage text, p_day date)
        RETURNS TABLE (household_id integer, head text, lacks text)
        LANGUAGE sql STABLE {definer}
    BEGIN ATOMIC
        SELECT h.id, h.head,
               CASE WHEN NOT EXISTS (SELECT 1 FROM compensation_agreement a
                                     WHERE a.household_id = h.id AND a.signed_on <= p_day)
                    THEN 'agreement' ELSE 'payment' END
        FROM household_parcel hp JOIN household h ON h.id = hp.household_id
        JOIN household_balance b ON b.household_id = h.id
        WHERE hp.parcel_id = p_parcel AND p_stage IN {AGREED_STAGES}
          AND (NOT EXISTS (SELECT 1 FROM compensation_agreement a
                           WHERE a.household_id = h.id AND a.signed_on <= p_day)
               OR p_stage IN {PAID_STAGES} AND (
                   (SELECT coalesce(sum(amount_yuan), 0) FROM compensation_payment pay
                    WHERE pay.household_id = h.id AND pay.paid_on <= p_day) < b.agreed_yuan
                   OR b.paid_yuan < b.agreed_yuan))
        ORDER BY h.head, h.id;
    END;

    CREATE FUNCTION lm_stage_needs_households() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        names text;
    BEGIN
        IF NEW.kind = 'stage' AND NEW.to_stage IN {AGREED_STAGES} THEN
            SELECT string_agg(head || ' (' || lacks || ')', ', ') INTO names
            FROM lm_households_blocking(NEW.parcel_id, NEW.to_stage, NEW.happened_on);
            IF names IS NOT NULL THEN
                RAISE EXCEPTION 'parcel % cannot move to %: %', NEW.parcel_id, NEW.to_stage,
                    names USING ERRCODE = 'check_violation';
            END IF;
        END IF;
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER stage_change_needs_households BEFORE INSERT ON stage_change
        FOR EACH ROW EXECUTE FUNCTION lm_stage_needs_households();

    -- a household stays with its land through a split or merge: the new parcels have it
    CREATE FUNCTION lm_households_follow_lineage() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        INSERT INTO household_parcel (household_id, parcel_id)
        SELECT DISTINCT hp.household_id, r.new_parcel_id
        FROM new_rows r JOIN household_parcel hp ON hp.parcel_id = r.old_parcel_id
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $fn$;
    CREATE TRIGGER parcel_lineage_households AFTER INSERT ON parcel_lineage
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION lm_households_follow_lineage();

    -- the audit trail keeps a household's sealed numbers out too (as it does passwords)
    CREATE OR REPLACE FUNCTION lm_audit_columns(rel regclass) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT string_agg(CASE WHEN a.atttypid = 'public.geometry'::regtype
                                   THEN 'md5(_r_.' || quote_ident(a.attname) || '::text) AS '
                                        || quote_ident(a.attname || '_md5')
                                   ELSE '_r_.' || quote_ident(a.attname) END, ', '
                              ORDER BY a.attnum)
            FROM pg_attribute a
            WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
              AND a.attname NOT IN ('password_hash', 'token_hash', 'id_sealed', 'phone_sealed',
                                    'id_digest'));

    ALTER TABLE acquisition_batch
        ADD COLUMN budget_yuan numeric(16, 2) CHECK (budget_yuan >= 0),
        ADD COLUMN flats_planned integer CHECK (flats_planned BETWEEN 0 AND 100000);
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
    CREATE OR REPLACE FUNCTION lm_audit_columns(rel regclass) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT string_agg(CASE WHEN a.atttypid = 'public.geometry'::regtype
                                   THEN 'md5(_r_.' || quote_ident(a.attname) || '::text) AS '
                                        || quote_ident(a.attname || '_md5')
                                   ELSE '_r_.' || quote_ident(a.attname) END, ', '
                              ORDER BY a.attnum)
            FROM pg_attribute a
            WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
              AND a.attname NOT IN ('password_hash', 'token_hash'));
    ALTER TABLE acquisition_batch DROP COLUMN budget_yuan, DROP COLUMN flats_planned;
    DROP TRIGGER parcel_lineage_households ON parcel_lineage;
    DROP FUNCTION lm_households_follow_lineage();
    DROP TRIGGER stage_change_needs_households ON stage_change;
    DROP FUNCTION lm_stage_needs_households();
    DROP FUNCTION lm_households_blocking(integer, text, date);
    DROP VIEW household_status;
    DROP FUNCTION lm_household_status(boolean, numeric, numeric);
    DROP FUNCTION lm_standard_in_force(text, date);
    DROP TABLE compensation_payment, compensation_agreement, household_balance,
        household_attachment, household_house, household_parcel, household,
        compensation_rate, compensation_standard;
    DROP FUNCTION lm_apply_payment(), lm_apply_agreement(), lm_adjustments_sum(jsonb),
        lm_open_household_balance();
    """)
