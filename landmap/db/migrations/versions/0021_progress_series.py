"""The acquisition progress kept incrementally: progress_delta.

What services.acquisition.progress() shows as of a day (parcels and mu at each stage, the
disputed ones, the cleared mu month by month, the first entry and the first clearing) is a sum
over the parcels in force that day of what each one's history says. progress_delta keeps that
sum as changes: for each project (batch_id NULL) and each of its batches, and each
(created_on, retired_on) of parcels (lm_parcel_in_force picks the rows of a day), by day and
again by month (``period``, ``starts``: the day, or the month's first day; '-infinity': where
the parcels started), for each ``measure`` (a stage, or 'disputed'): how many parcels came in
(less those that went out), their mu (exact: numeric, so that a row that comes to nothing is
0 and is deleted), and how many entries of the history were recorded (``events``: stage
changes into the measure; dispute and resolve entries under 'disputed'). A parcel's rows up to
a day sum to where lm_stage_as_of and lm_dispute_as_of have it that day (before its first
change: that change's from_stage; before its first dispute entry: that entry's opposite). A
day's figures read the months before its own and its own month's days up to it: some rows per
month and measure, and the rows of the parcels split, merged or created later (a change dated
on or after a parcel's created_on is kept with the parcels never created, as it counts only
on days the parcel is in force; one on or after its retired_on never counts and is not kept).

Kept by triggers, as the owner (the app may only read it; grant_app_role):
- a parcel inserted, deleted, or updated in what its part depends on (project, batch,
  created_on, retired_on, its mu after a geometry correction: a split or merge retires
  parcels and creates others) takes out its old part and adds its new one, both from its whole
  history by the one definition (PARTS; lm_progress_rebuilt() is the whole table by it);
- a stage change moves its parcel out of from_stage into to_stage on its day (from_stage is
  the stage the parcel was at: lm_apply_stage_change refuses any other);
- a dispute or resolve entry moves 'disputed' from the state before it (the last such entry's;
  before the first, the parcel's flag, which the first entry replaces as where it started).
A bulk load of history that goes around these triggers (lm_apply_stage_change switched off)
calls lm_progress_refill() afterwards, as this migration does to fill the table.

Also an index on stage_change (happened_on): the register's last day with data, at once.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from alembic import op
from sqlalchemy import text

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

MEASURES = (
    "('state_owned', 'not_started', 'pre_announced', 'surveyed', 'plan_published', "
    "'agreement_signed', 'compensated', 'demolished', 'cleared', 'disputed')"
)
KEY = "project_id, batch_id, period, starts, created_on, retired_on, measure"
COLUMNS = "id, project_id, batch_id, created_on, retired_on, area_mu, stage, dispute"

# A parcel's part, from its whole history: the changes of the parcels ``{rows}`` (COLUMNS and
# ``sign``: 1 to add, -1 to take out), each a (day, measure, n, events).
PARTS = """
    WITH p AS (SELECT * FROM ({rows}) r WHERE r.project_id IS NOT NULL),
    c AS (
        SELECT c.parcel_id, c.kind, c.from_stage, c.to_stage, c.happened_on,
               row_number() OVER w AS nth, lag(c.to_stage) OVER w AS stage_before,
               lag(c.kind) OVER w AS kind_before
        FROM stage_change c WHERE c.parcel_id IN (SELECT p.id FROM p)
        WINDOW w AS (PARTITION BY c.parcel_id, c.kind = 'stage' ORDER BY c.happened_on, c.id)
    )
    -- where it started: its first change's from_stage, else its stage
    SELECT p.*, DATE '-infinity' AS day, coalesce(f.from_stage, p.stage) AS measure,
           1 AS n, 0 AS events
    FROM p LEFT JOIN c f ON f.parcel_id = p.id AND f.kind = 'stage' AND f.nth = 1
    UNION ALL
    -- and disputed: the opposite of its first dispute entry, else its flag
    SELECT p.*, DATE '-infinity', 'disputed', 1, 0
    FROM p LEFT JOIN c f ON f.parcel_id = p.id AND f.kind <> 'stage' AND f.nth = 1
    WHERE coalesce(f.kind <> 'dispute', p.dispute)
    UNION ALL
    -- a stage change: out of the stage before it, into its own (an entry)
    SELECT p.*, c.happened_on, m.measure, m.n, m.events
    FROM p JOIN c ON c.parcel_id = p.id AND c.kind = 'stage'
    CROSS JOIN LATERAL (VALUES (coalesce(c.stage_before, c.from_stage), -1, 0),
                               (c.to_stage, 1, 1)) m (measure, n, events)
    UNION ALL
    -- a dispute entry: from the state before it (before the first: its opposite)
    SELECT p.*, c.happened_on, 'disputed',
           (c.kind = 'dispute')::int
               - coalesce(c.kind_before = 'dispute', c.kind <> 'dispute')::int, 1
    FROM p JOIN c ON c.parcel_id = p.id AND c.kind <> 'stage'
"""

# Changes (project_id, batch_id, created_on, retired_on, area_mu, sign, day, measure, n,
# events) summed into progress_delta's rows: the project's and the batch's, by day and month.
# A change dated on or after its parcel's created_on counts only on days after it, when the
# parcel is created: it is kept with the parcels never created (created_on NULL), which
# leaves few rows per created_on. One on or after retired_on counts on no day the parcel is
# in force: it is not kept.
SPREAD = """
    SELECT x.project_id, s.batch_id,
           CASE WHEN x.day >= x.created_on THEN NULL ELSE x.created_on END AS created_on,
           x.retired_on, t.period, t.starts, x.measure,
           sum(x.sign * x.n)::integer AS parcels,
           coalesce(sum(x.sign * x.n * x.area_mu::numeric), 0) AS mu,
           sum(x.sign * x.events)::integer AS events
    FROM ({changes}) x
    CROSS JOIN LATERAL (SELECT NULL::integer UNION ALL
                        SELECT x.batch_id WHERE x.batch_id IS NOT NULL) s (batch_id)
    CROSS JOIN LATERAL (VALUES ('day', x.day),
                               ('month', date_trunc('month', x.day::timestamp)::date))
        t (period, starts)
    WHERE x.retired_on IS NULL OR x.day < x.retired_on
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING sum(x.sign * x.n) <> 0 OR sum(x.sign * x.events) <> 0
        OR coalesce(sum(x.sign * x.n * x.area_mu::numeric), 0) <> 0
"""

# Add changes to progress_delta, in key order (concurrent writers lock rows in one order),
# and delete the rows that come to nothing.
UPSERT = f"""
    WITH up AS (
        INSERT INTO progress_delta AS d ({KEY}, parcels, mu, events)
        SELECT {KEY}, parcels, mu, events FROM ({{spread}}) s
        ORDER BY project_id, batch_id NULLS FIRST, period, starts,
                 created_on NULLS FIRST, retired_on NULLS FIRST, measure
        ON CONFLICT ({KEY}) DO UPDATE SET parcels = d.parcels + EXCLUDED.parcels,
            mu = d.mu + EXCLUDED.mu, events = d.events + EXCLUDED.events
        RETURNING d.id, d.parcels, d.mu, d.events)
    SELECT array_agg(up.id) INTO gone FROM up
    WHERE up.parcels = 0 AND up.mu = 0 AND up.events = 0;
    IF gone IS NOT NULL THEN
        DELETE FROM progress_delta WHERE id = ANY (gone);
    END IF;
"""


def _rows(source: str, sign: int, where: str = "") -> str:
    cols = ", ".join(f"{source}.{c}" for c in COLUMNS.split(", "))
    return f"SELECT {cols}, {sign} AS sign FROM {where or source}"


def _add(changes: str) -> str:
    return UPSERT.format(spread=SPREAD.format(changes=changes))


CHANGED = f"""old_rows o JOIN new_rows n USING (id)
    WHERE ({", ".join("o." + c for c in COLUMNS.split(", ")[1:])})
          IS DISTINCT FROM ({", ".join("n." + c for c in COLUMNS.split(", ")[1:])})"""


def upgrade() -> None:
    schema = op.get_bind().execute(text("SELECT current_schema()")).scalar_one()
    definer = f'SECURITY DEFINER SET search_path = "{schema}", public, pg_temp'
    moved = f"({_rows('o', -1, CHANGED)}) UNION ALL ({_rows('n', 1, CHANGED)})"
    op.execute(f"""
    CREATE TABLE progress_delta (
        id bigserial PRIMARY KEY,
        project_id integer NOT NULL,
        batch_id integer,  -- NULL: the whole project
        created_on date,
        retired_on date,
        period varchar(5) NOT NULL CHECK (period IN ('day', 'month')),
        starts date NOT NULL CHECK (period = 'day' OR starts = '-infinity'
                                    OR extract(day FROM starts) = 1),
        measure varchar(24) NOT NULL CHECK (measure IN {MEASURES}),
        parcels integer NOT NULL,
        mu numeric NOT NULL,
        -- (no CHECK on a sum: an upsert would check the change it adds, not the sum)
        events integer NOT NULL,
        CONSTRAINT progress_delta_key UNIQUE NULLS NOT DISTINCT ({KEY})
    );
    -- the first entry, and the first clearing, of a scope up to a day
    CREATE INDEX progress_delta_entries ON progress_delta (project_id, batch_id, starts)
        WHERE period = 'day' AND events > 0;
    CREATE INDEX progress_delta_clearings ON progress_delta (project_id, batch_id, starts)
        WHERE period = 'day' AND events > 0 AND measure = 'cleared';
    CREATE INDEX stage_change_day ON stage_change (happened_on);

    -- progress_delta from the whole register: what the triggers keep it equal to
    CREATE FUNCTION lm_progress_rebuilt() RETURNS TABLE (
        project_id integer, batch_id integer, created_on date, retired_on date,
        period varchar, starts date, measure varchar, parcels integer, mu numeric,
        events integer)
        LANGUAGE sql STABLE AS $fn$
        {SPREAD.format(changes=PARTS.format(rows=_rows("parcel", 1)))}
    $fn$;

    CREATE FUNCTION lm_progress_parcels() RETURNS trigger LANGUAGE plpgsql {definer} AS $fn$
    DECLARE
        gone bigint[];
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {_add(PARTS.format(rows=_rows("new_rows", 1)))}
        ELSIF TG_OP = 'DELETE' THEN
            {_add(PARTS.format(rows=_rows("old_rows", -1)))}
        ELSE
            {_add(PARTS.format(rows=moved))}
        END IF;
        RETURN NULL;
    END $fn$;
    CREATE TRIGGER parcel_progress_insert AFTER INSERT ON parcel
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION lm_progress_parcels();
    CREATE TRIGGER parcel_progress_delete AFTER DELETE ON parcel
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
        EXECUTE FUNCTION lm_progress_parcels();
    -- not while the history moves a parcel's stage (lm_apply_stage_change): the stage
    -- change's own trigger counts that
    CREATE TRIGGER parcel_progress_update AFTER UPDATE ON parcel
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
        WHEN (current_setting('landmap.applying_history', true) IS DISTINCT FROM 'on')
        EXECUTE FUNCTION lm_progress_parcels();

    CREATE FUNCTION lm_progress_stages() RETURNS trigger LANGUAGE plpgsql {definer} AS $fn$
    DECLARE
        gone bigint[];
    BEGIN
        {
        _add('''
            SELECT p.project_id, p.batch_id, p.created_on, p.retired_on, p.area_mu, 1 AS sign,
                   c.happened_on AS day, m.measure, m.n, m.events
            FROM new_rows c JOIN parcel p ON p.id = c.parcel_id
            CROSS JOIN LATERAL (VALUES (c.from_stage, -1, 0), (c.to_stage, 1, 1))
                m (measure, n, events)
            WHERE c.kind = 'stage' AND p.project_id IS NOT NULL''')
    }
        RETURN NULL;
    END $fn$;
    CREATE TRIGGER stage_change_progress AFTER INSERT ON stage_change
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION lm_progress_stages();

    -- before the entry: the parcel's flag is still the one it had before it
    CREATE FUNCTION lm_progress_dispute() RETURNS trigger LANGUAGE plpgsql {definer} AS $fn$
    DECLARE
        r record;
        last_disputed boolean;
        was_disputed boolean;
        start_moves integer;
        gone bigint[];
    BEGIN
        SELECT p.project_id, p.batch_id, p.created_on, p.retired_on, p.area_mu, p.dispute
        INTO r FROM parcel p WHERE p.id = NEW.parcel_id;
        IF r.project_id IS NULL THEN
            RETURN NEW;
        END IF;
        SELECT c.kind = 'dispute' INTO last_disputed FROM stage_change c
        WHERE c.parcel_id = NEW.parcel_id AND c.kind <> 'stage'
        ORDER BY c.happened_on DESC, c.id DESC LIMIT 1;
        was_disputed := coalesce(last_disputed, NEW.kind <> 'dispute');
        start_moves := CASE WHEN last_disputed IS NULL THEN was_disputed::int - r.dispute::int
                            ELSE 0 END;
        {
        _add('''
            SELECT r.project_id, r.batch_id, r.created_on, r.retired_on, r.area_mu, 1 AS sign,
                   x.day, 'disputed' AS measure, x.n, x.events
            FROM (VALUES (DATE '-infinity', start_moves, 0),
                         (NEW.happened_on, (NEW.kind = 'dispute')::int - was_disputed::int, 1))
                x (day, n, events)''')
    }
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER stage_change_progress_dispute BEFORE INSERT ON stage_change
        FOR EACH ROW WHEN (NEW.kind <> 'stage') EXECUTE FUNCTION lm_progress_dispute();

    -- the table filled again from the whole register (here; and after a bulk load of history
    -- that went around the triggers): the rows it holds
    CREATE FUNCTION lm_progress_refill() RETURNS bigint LANGUAGE plpgsql AS $fn$
    DECLARE
        n bigint;
    BEGIN
        DELETE FROM progress_delta;
        INSERT INTO progress_delta ({KEY}, parcels, mu, events)
        SELECT {KEY}, parcels, mu, events FROM lm_progress_rebuilt();
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN n;
    END $fn$;
    SELECT lm_progress_refill();
    ANALYZE progress_delta;
    """)


def downgrade() -> None:
    op.execute("""
    DROP TRIGGER stage_change_progress_dispute ON stage_change;
    DROP TRIGGER stage_change_progress ON stage_change;
    DROP TRIGGER parcel_progress_update ON parcel;
    DROP TRIGGER parcel_progress_delete ON parcel;
    DROP TRIGGER parcel_progress_insert ON parcel;
    DROP FUNCTION lm_progress_refill(), lm_progress_dispute(), lm_progress_stages(),
        lm_progress_parcels(), lm_progress_rebuilt();
    DROP INDEX stage_change_day;
    DROP TABLE progress_delta;
    """)
