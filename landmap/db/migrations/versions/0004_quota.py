"""Land-use quota ledger (用地指标台账): append-only entries and per-year, per-source balances
that can never go below zero, decided by a row lock and a CHECK in the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    -- the year's target: mu to obtain (a setting per year)
    CREATE TABLE quota_year (
        year integer PRIMARY KEY CHECK (year BETWEEN 1990 AND 2100),
        target_mu numeric(12, 2) NOT NULL CHECK (target_mu >= 0),
        note text NOT NULL DEFAULT ''
    );

    CREATE TABLE quota_balance (
        year integer NOT NULL CHECK (year BETWEEN 1990 AND 2100),
        source varchar(16) NOT NULL CHECK (source IN ('plan', 'linkage', 'other')),
        granted_mu numeric(14, 4) NOT NULL DEFAULT 0,
        reserved_mu numeric(14, 4) NOT NULL DEFAULT 0,
        consumed_mu numeric(14, 4) NOT NULL DEFAULT 0,
        remaining_mu numeric(14, 4) GENERATED ALWAYS AS
            (granted_mu - reserved_mu - consumed_mu) STORED,
        PRIMARY KEY (year, source),
        CONSTRAINT quota_never_overdrawn CHECK (granted_mu - reserved_mu - consumed_mu >= 0),
        CHECK (reserved_mu >= 0 AND consumed_mu >= 0 AND granted_mu >= 0)
    );

    CREATE TABLE quota_entry (
        id serial PRIMARY KEY,
        year integer NOT NULL,
        source varchar(16) NOT NULL,
        kind varchar(16) NOT NULL
            CHECK (kind IN ('grant', 'reserve', 'consume', 'release', 'correct')),
        mu numeric(14, 4) NOT NULL CHECK (mu > 0),
        -- what the entry does to the year's buckets
        d_granted numeric(14, 4) NOT NULL,
        d_reserved numeric(14, 4) NOT NULL,
        d_consumed numeric(14, 4) NOT NULL,
        project_id integer REFERENCES project (id),
        batch_id integer,
        reverses integer UNIQUE REFERENCES quota_entry (id),
        ref text NOT NULL DEFAULT '',
        note text NOT NULL DEFAULT '',
        entry_date date NOT NULL,  -- the date of the document: grant, approval, decision
        recorded_by text NOT NULL CHECK (btrim(recorded_by) <> ''),
        recorded_at timestamptz NOT NULL DEFAULT now(),
        CHECK (entry_date <= (recorded_at AT TIME ZONE 'Asia/Shanghai')::date),
        FOREIGN KEY (year, source) REFERENCES quota_balance (year, source),
        FOREIGN KEY (batch_id, project_id) REFERENCES acquisition_batch (id, project_id),
        CHECK (batch_id IS NULL OR project_id IS NOT NULL),
        CHECK ((kind = 'correct') = (reverses IS NOT NULL)),
        CHECK (kind NOT IN ('reserve', 'consume', 'release') OR project_id IS NOT NULL),
        CHECK (kind <> 'grant' OR (d_granted = mu AND d_reserved = 0 AND d_consumed = 0)),
        CHECK (kind <> 'reserve' OR (d_granted = 0 AND d_reserved = mu AND d_consumed = 0)),
        CHECK (kind <> 'release' OR (d_granted = 0 AND d_reserved = -mu AND d_consumed = 0)),
        CHECK (kind <> 'consume' OR (d_granted = 0 AND d_consumed = mu AND d_reserved <= 0
                                     AND d_reserved >= -mu))
    );
    CREATE INDEX quota_entry_year ON quota_entry (year, source);
    CREATE INDEX quota_entry_project ON quota_entry (project_id, batch_id);

    CREATE TRIGGER quota_entry_append_only BEFORE UPDATE OR DELETE ON quota_entry
        FOR EACH ROW EXECUTE FUNCTION lm_append_only();

    -- every entry moves its year's balance under a row lock; the CHECK refuses an overdraft
    -- (and what is released or consumed for a project or batch was reserved for it first;
    -- a correction exactly reverses the entry it names)
    CREATE FUNCTION lm_apply_quota_entry() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        orig quota_entry%ROWTYPE;
        outstanding numeric;
    BEGIN
        UPDATE quota_balance SET
            granted_mu = granted_mu + NEW.d_granted,
            reserved_mu = reserved_mu + NEW.d_reserved,
            consumed_mu = consumed_mu + NEW.d_consumed
        WHERE year = NEW.year AND source = NEW.source;
        IF NEW.kind = 'correct' THEN
            SELECT * INTO orig FROM quota_entry WHERE id = NEW.reverses;
            IF orig.kind = 'correct' OR (orig.year, orig.source, orig.project_id, orig.batch_id,
                    -orig.d_granted, -orig.d_reserved, -orig.d_consumed)
                    IS DISTINCT FROM (NEW.year, NEW.source, NEW.project_id, NEW.batch_id,
                    NEW.d_granted, NEW.d_reserved, NEW.d_consumed) THEN
                RAISE EXCEPTION 'entry % is not an exact reversal of entry %', NEW.id, NEW.reverses
                    USING ERRCODE = 'check_violation';
            END IF;
        END IF;
        IF NEW.project_id IS NOT NULL AND NEW.d_reserved < 0 THEN
            SELECT sum(d_reserved) INTO outstanding FROM quota_entry
            WHERE year = NEW.year AND source = NEW.source AND project_id = NEW.project_id
              AND batch_id IS NOT DISTINCT FROM NEW.batch_id;
            IF outstanding < 0 THEN
                RAISE EXCEPTION 'more released or consumed than was reserved for it (% mu short)',
                    round(-outstanding, 2) USING ERRCODE = 'check_violation';
            END IF;
        END IF;
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER quota_entry_apply AFTER INSERT ON quota_entry
        FOR EACH ROW EXECUTE FUNCTION lm_apply_quota_entry();

    -- where a project's or batch's land stands in the ledger (for maps)
    CREATE FUNCTION lm_quota_status(p_project integer, p_batch integer) RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT CASE WHEN sum(e.d_consumed) > 0 THEN 'consumed'
                        WHEN sum(e.d_reserved) > 0 THEN 'reserved' ELSE 'none' END
            FROM quota_entry e
            WHERE e.project_id = p_project AND e.batch_id IS NOT DISTINCT FROM p_batch);
    """)


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION lm_quota_status(integer, integer);
    DROP TABLE quota_entry, quota_balance, quota_year;
    DROP FUNCTION lm_apply_quota_entry();
    """)
