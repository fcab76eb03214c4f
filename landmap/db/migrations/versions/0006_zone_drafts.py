"""Zone boundary drafts: approval turns a draft into the zone's current boundary.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE zone_boundary
        ADD COLUMN approved_by text,
        ADD COLUMN approved_at timestamptz,
        ADD CONSTRAINT zone_boundary_approval CHECK ((approved_by IS NULL) = (approved_at IS NULL));
    CREATE INDEX zone_boundary_drafts ON zone_boundary (zone_id) WHERE status = 'draft';

    -- approve a draft: in one transaction the boundary in force is kept as superseded, the
    -- draft becomes current from p_from, and parcels are re-assigned to zones
    CREATE FUNCTION lm_approve_draft(p_draft integer, p_from date, p_by text) RETURNS integer
        LANGUAGE plpgsql AS $fn$
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
    """)


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION lm_approve_draft(integer, date, text);
    DROP INDEX zone_boundary_drafts;
    ALTER TABLE zone_boundary DROP CONSTRAINT zone_boundary_approval,
        DROP COLUMN approved_at, DROP COLUMN approved_by;
    """)
