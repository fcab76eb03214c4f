"""A zone draft knows the boundary it was drawn on, and only a draft on the current one can be
approved.

- zone_boundary.base_id: the version (current or superseded, of the same zone) a draft was
  drawn on. A draft inserted without one (the loader's path) gets the zone's current
  boundary; a draft never names another draft; the base never changes afterwards. Existing
  drafts get the boundary that was current when they were made.
- op: how the draft was made from its base: replace (the drawn shape is the draft), add
  (base ∪ drawn) or subtract (base − drawn); drawn keeps the shape of add/subtract drafts so
  that they can be rebased onto a newer boundary. rebased_from: the stale draft a rebased
  one was made from.
- lm_approve_draft refuses a draft whose base is not the zone's current boundary (a draft on
  a boundary that another approval replaced would silently undo that approval).
- lm_snap(g, ref, tol): g with its vertices within tol of ref put onto ref, so that a
  boundary sent back through EPSG:4326 (7 decimals) is the boundary again and an edge drawn
  along the old line leaves no sliver (the service passes the tolerance).
- the audit trail fingerprints every geometry column (drawn too), as 0008 does for geom.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from alembic import op
from sqlalchemy import text

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

APPROVE_0006 = """
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

# 0006's function with the base rule after the draft and the current boundary are locked (a
# concurrent approval of the same zone waits here, then finds its base no longer current)
APPROVE_0011 = APPROVE_0006.replace(
    """        IF FOUND AND cur.valid_from >= p_from THEN""",
    """        IF d.base_id IS DISTINCT FROM cur.id THEN
            RAISE EXCEPTION 'draft % was drawn on boundary %, which is not the current '
                'boundary of its zone (%): rebase it first', p_draft, d.base_id, cur.id
                USING ERRCODE = 'check_violation';
        END IF;
        IF FOUND AND cur.valid_from >= p_from THEN""",
)

AUDIT_COLUMNS_0008 = """
    CREATE OR REPLACE FUNCTION lm_audit_columns(rel regclass) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT string_agg(CASE WHEN a.attname = 'geom'
                                   THEN 'md5(_r_.geom::text) AS geom_md5'
                                   ELSE '_r_.' || quote_ident(a.attname) END, ', '
                              ORDER BY a.attnum)
            FROM pg_attribute a
            WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
              AND a.attname NOT IN ('password_hash', 'token_hash'));
"""

AUDIT_COLUMNS_0011 = """
    CREATE OR REPLACE FUNCTION lm_audit_columns(rel regclass) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT string_agg(CASE WHEN a.atttypid = 'public.geometry'::regtype
                                   THEN 'md5(_r_.' || quote_ident(a.attname) || '::text) AS '
                                        || quote_ident(a.attname || '_md5')
                                   ELSE '_r_.' || quote_ident(a.attname) END, ', '
                              ORDER BY a.attnum)
            FROM pg_attribute a
            WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
              AND a.attname NOT IN ('password_hash', 'token_hash'));
"""


SNAP = """
    -- g with every vertex within tol of ref put onto ref: onto a vertex of ref when one is
    -- that close (ST_Snap, which also puts ref's vertices into g's edges near them), else onto
    -- the nearest point of ref's boundary; then ref's vertices near the moved edges are put
    -- into them. Polygons in, polygons out; the result may need ST_MakeValid.
    CREATE FUNCTION lm_snap(g geometry, ref geometry, tol double precision) RETURNS geometry
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
        WITH s AS (SELECT ST_Multi(ST_Snap(g, ref, tol)) AS g, ST_Boundary(ref) AS line),
        pts AS (
            SELECT d.path[1] AS part, d.path[2] AS ring, d.path[3] AS n,
                   CASE WHEN ST_DWithin(d.geom, s.line, tol) THEN ST_ClosestPoint(s.line, d.geom)
                        ELSE d.geom END AS p
            FROM s, ST_DumpPoints(s.g) d
        ), rings AS (
            SELECT part, ring, ST_MakeLine(p ORDER BY n) AS line FROM pts GROUP BY part, ring
        ), polygons AS (
            SELECT part, ST_MakePolygon((array_agg(line) FILTER (WHERE ring = 1))[1],
                coalesce(array_agg(line ORDER BY ring) FILTER (WHERE ring > 1), '{}')) AS p
            FROM rings GROUP BY part
        )
        SELECT coalesce(ST_Snap(ST_SetSRID(ST_Collect(p ORDER BY part), ST_SRID(g)), ref, tol), g)
        FROM polygons
    $fn$;
"""


def upgrade() -> None:
    srid = op.get_bind().execute(text("SELECT lm_storage_srid()")).scalar_one()
    op.execute(f"""
    ALTER TABLE zone_boundary
        ADD CONSTRAINT zone_boundary_id_zone UNIQUE (id, zone_id),
        ADD COLUMN base_id integer,
        ADD COLUMN op varchar(16) NOT NULL DEFAULT 'replace'
            CHECK (op IN ('replace', 'add', 'subtract')),
        ADD COLUMN drawn geometry(MultiPolygon, {srid})
            CHECK (drawn IS NULL OR (ST_IsValid(drawn) AND NOT ST_IsEmpty(drawn))),
        ADD COLUMN rebased_from integer REFERENCES zone_boundary (id),
        ADD CONSTRAINT zone_boundary_base_same_zone FOREIGN KEY (base_id, zone_id)
            REFERENCES zone_boundary (id, zone_id),
        ADD CONSTRAINT zone_boundary_base_not_self CHECK (base_id <> id),
        ADD CONSTRAINT zone_boundary_drawn_of_op CHECK ((op = 'replace') = (drawn IS NULL));

    -- existing drafts (approved ones too): the boundary in force when they were made, that is
    -- the latest to have become current (approved, or loaded as current) before then
    UPDATE zone_boundary d SET base_id = (
        SELECT b.id FROM zone_boundary b
        WHERE b.zone_id = d.zone_id AND b.id <> d.id AND b.status <> 'draft'
          AND coalesce(b.approved_at, b.created_at) <= d.created_at
        ORDER BY coalesce(b.approved_at, b.created_at) DESC, b.id DESC LIMIT 1)
    WHERE d.status = 'draft' OR d.approved_at IS NOT NULL;

    CREATE FUNCTION lm_draft_base() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF NEW.base_id IS NULL THEN
            SELECT id INTO NEW.base_id FROM zone_boundary
            WHERE zone_id = NEW.zone_id AND status = 'current';
        ELSIF EXISTS (SELECT 1 FROM zone_boundary WHERE id = NEW.base_id AND status = 'draft')
        THEN
            RAISE EXCEPTION 'a draft is drawn on a boundary that was in force, not on draft %',
                NEW.base_id USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER zone_boundary_draft_base BEFORE INSERT ON zone_boundary FOR EACH ROW
        WHEN (NEW.status = 'draft') EXECUTE FUNCTION lm_draft_base();
    CREATE TRIGGER zone_boundary_base_fixed BEFORE UPDATE ON zone_boundary FOR EACH ROW
        WHEN ((NEW.base_id, NEW.op) IS DISTINCT FROM (OLD.base_id, OLD.op))
        EXECUTE FUNCTION lm_refuse('a draft keeps the boundary it was drawn on and its operation');
    """)
    op.execute(APPROVE_0011)
    op.execute(AUDIT_COLUMNS_0011)
    op.execute(SNAP)


def downgrade() -> None:
    op.execute("DROP FUNCTION lm_snap(geometry, geometry, double precision)")
    op.execute(AUDIT_COLUMNS_0008)
    op.execute(APPROVE_0006)
    op.execute("""
    DROP TRIGGER zone_boundary_base_fixed ON zone_boundary;
    DROP TRIGGER zone_boundary_draft_base ON zone_boundary;
    DROP FUNCTION lm_draft_base();
    ALTER TABLE zone_boundary
        DROP CONSTRAINT zone_boundary_drawn_of_op,
        DROP CONSTRAINT zone_boundary_base_not_self,
        DROP CONSTRAINT zone_boundary_base_same_zone,
        DROP COLUMN rebased_from,
        DROP COLUMN drawn,
        DROP COLUMN op,
        DROP COLUMN base_id,
        DROP CONSTRAINT zone_boundary_id_zone;
    """)
