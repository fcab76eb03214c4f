"""One function replaces a zone's boundary; a batch's quota status is of a year.

- lm_replace_boundary: the version in force kept as superseded, the new one current from a
  date, the parcels re-assigned to zones. Loading a boundary as current
  (lm_set_current_boundary) and approving a draft (lm_approve_draft) both call it, each after
  the checks that are its own; until now each held a copy.
- lm_quota_status(project, batch, year): where the land stands in the ledger of that year
  (every year's entries when the year is NULL, as before). The quota page's map colours the
  tiles and draws its legend with it, for the year the page shows.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

REPLACE_BOUNDARY = """
    -- the one place a zone's boundary is replaced, from p_from: the version in force is kept
    -- as superseded until then, the new one is current from then, and parcels are re-assigned
    -- to zones. The new one is draft p_draft (approved by p_by), or else p_geom (loaded by
    -- p_by, with p_note). Returns the new version's id.
    CREATE FUNCTION lm_replace_boundary(
        p_zone integer, p_from date, p_by text, p_draft integer,
        p_geom geometry DEFAULT NULL, p_note text DEFAULT ''
    ) RETURNS integer LANGUAGE plpgsql AS $fn$
    DECLARE
        cur zone_boundary%ROWTYPE;
        new_id integer := p_draft;
        new_geom geometry := p_geom;
    BEGIN
        SELECT * INTO cur FROM zone_boundary
        WHERE zone_id = p_zone AND status = 'current' FOR UPDATE;
        IF FOUND AND cur.valid_from >= p_from THEN
            RAISE EXCEPTION 'the current boundary of this zone is in force from %; a new one '
                'must start after that date, not on %', cur.valid_from, p_from
                USING ERRCODE = 'check_violation';
        END IF;
        UPDATE zone_boundary SET status = 'superseded', valid_to = p_from WHERE id = cur.id;
        IF p_draft IS NULL THEN
            INSERT INTO zone_boundary (zone_id, status, valid_from, note, created_by, geom)
            VALUES (p_zone, 'current', p_from, p_note, p_by, p_geom) RETURNING id INTO new_id;
        ELSE
            UPDATE zone_boundary SET status = 'current', valid_from = p_from,
                approved_by = p_by, approved_at = now()
            WHERE id = p_draft RETURNING geom INTO new_geom;
        END IF;
        UPDATE parcel p SET zone_id = lm_zone_of(p.geom)
        WHERE (p.zone_id = p_zone OR ST_Intersects(p.geom, new_geom))
          AND p.zone_id IS DISTINCT FROM lm_zone_of(p.geom);
        RETURN new_id;
    END $fn$;
"""

SET_CURRENT = """
    -- make a geometry the zone's boundary from a date (lm_replace_boundary); the current
    -- version's id when the geometry is unchanged
    CREATE OR REPLACE FUNCTION lm_set_current_boundary(
        p_zone integer, p_geom geometry, p_from date, p_by text, p_note text
    ) RETURNS integer LANGUAGE plpgsql AS $fn$
    DECLARE
        cur zone_boundary%ROWTYPE;
    BEGIN
        SELECT * INTO cur FROM zone_boundary
        WHERE zone_id = p_zone AND status = 'current' FOR UPDATE;
        IF FOUND AND ST_Equals(cur.geom, p_geom) THEN
            RETURN cur.id;
        END IF;
        RETURN lm_replace_boundary(p_zone, p_from, p_by, NULL, p_geom, p_note);
    END $fn$;
"""

# the base rule is checked after the draft and the current boundary are locked (a concurrent
# approval of the same zone waits here, then finds its base no longer current)
APPROVE = """
    CREATE OR REPLACE FUNCTION lm_approve_draft(p_draft integer, p_from date, p_by text)
        RETURNS integer LANGUAGE plpgsql AS $fn$
    DECLARE
        d zone_boundary%ROWTYPE;
        current_id integer;
    BEGIN
        SELECT * INTO d FROM zone_boundary WHERE id = p_draft FOR UPDATE;
        IF NOT FOUND OR d.status <> 'draft' THEN
            RAISE EXCEPTION 'boundary % is not a draft', p_draft USING ERRCODE = 'check_violation';
        END IF;
        SELECT id INTO current_id FROM zone_boundary
        WHERE zone_id = d.zone_id AND status = 'current' FOR UPDATE;
        IF d.base_id IS DISTINCT FROM current_id THEN
            RAISE EXCEPTION 'draft % was drawn on boundary %, which is not the current '
                'boundary of its zone (%): rebase it first', p_draft, d.base_id, current_id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN lm_replace_boundary(d.zone_id, p_from, p_by, p_draft);
    END $fn$;
"""

QUOTA_STATUS = """
    -- where a project's or batch's land stands in the ledger of a year (of every year when
    -- p_year is NULL): consumed, reserved or none. The one rule the quota map colours by.
    CREATE FUNCTION lm_quota_status(p_project integer, p_batch integer,
                                    p_year integer DEFAULT NULL) RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT CASE WHEN sum(e.d_consumed) > 0 THEN 'consumed'
                        WHEN sum(e.d_reserved) > 0 THEN 'reserved' ELSE 'none' END
            FROM quota_entry e
            WHERE e.project_id = p_project AND e.batch_id IS NOT DISTINCT FROM p_batch
              AND (p_year IS NULL OR e.year = p_year));
"""

# --- what 0011 left, for the downgrade ------------------------------------------------------

SET_CURRENT_0001 = """
    CREATE OR REPLACE FUNCTION lm_set_current_boundary(
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
"""

APPROVE_0011 = """
    CREATE OR REPLACE FUNCTION lm_approve_draft(p_draft integer, p_from date, p_by text)
        RETURNS integer LANGUAGE plpgsql AS $fn$
    DECLARE
        d zone_boundary%ROWTYPE;
        cur zone_boundary%ROWTYPE;
    BEGIN
        SELECT * INTO d FROM zone_boundary WHERE id = p_draft FOR UPDATE;
        IF NOT FOUND OR d.status <> 'draft' THEN
            RAISE EXCEPTION 'boundary % is not a draft', p_draft USING ERRCODE = 'check_violation';
        END IF;
        SELECT * INTO cur FROM zone_boundary
        WHERE zone_id = d.zone_id AND status = 'current' FOR UPDATE;
        IF d.base_id IS DISTINCT FROM cur.id THEN
            RAISE EXCEPTION 'draft % was drawn on boundary %, which is not the current '
                'boundary of its zone (%): rebase it first', p_draft, d.base_id, cur.id
                USING ERRCODE = 'check_violation';
        END IF;
        IF FOUND AND cur.valid_from >= p_from THEN
            RAISE EXCEPTION 'the current boundary is in force from %; the approved draft must '
                'start after that date, not on %', cur.valid_from, p_from
                USING ERRCODE = 'check_violation';
        END IF;
        UPDATE zone_boundary SET status = 'superseded', valid_to = p_from WHERE id = cur.id;
        UPDATE zone_boundary SET status = 'current', valid_from = p_from, approved_by = p_by,
            approved_at = now() WHERE id = p_draft;
        UPDATE parcel p SET zone_id = lm_zone_of(p.geom)
        WHERE (p.zone_id = d.zone_id OR ST_Intersects(p.geom, d.geom))
          AND p.zone_id IS DISTINCT FROM lm_zone_of(p.geom);
        RETURN p_draft;
    END $fn$;
"""

QUOTA_STATUS_0004 = """
    CREATE FUNCTION lm_quota_status(p_project integer, p_batch integer) RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT CASE WHEN sum(e.d_consumed) > 0 THEN 'consumed'
                        WHEN sum(e.d_reserved) > 0 THEN 'reserved' ELSE 'none' END
            FROM quota_entry e
            WHERE e.project_id = p_project AND e.batch_id IS NOT DISTINCT FROM p_batch);
"""


def upgrade() -> None:
    op.execute(REPLACE_BOUNDARY)
    op.execute(SET_CURRENT)
    op.execute(APPROVE)
    op.execute("DROP FUNCTION lm_quota_status(integer, integer)")
    op.execute(QUOTA_STATUS)


def downgrade() -> None:
    op.execute("DROP FUNCTION lm_quota_status(integer, integer, integer)")
    op.execute(QUOTA_STATUS_0004)
    op.execute(APPROVE_0011)
    op.execute(SET_CURRENT_0001)
    op.execute("DROP FUNCTION lm_replace_boundary(integer, date, text, integer, geometry, text)")
