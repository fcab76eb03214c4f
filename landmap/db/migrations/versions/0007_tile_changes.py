"""Where the map's tiles go stale: every change to a tiled layer records the extent it
touched, so that a cached tile is served only while nothing under it has changed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from alembic import op
from sqlalchemy import text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# table -> (tile layer, SQL for the geometries a changed row touches, from rows ``r``)
TOUCHED = {
    "parcel": ("parcels", "r.geom"),
    "commercial_plot": ("parcels", "(SELECT geom FROM parcel WHERE id = r.parcel_id)"),
    "quota_entry": (
        "parcels",
        "(SELECT ST_Collect(geom) FROM parcel WHERE project_id = "
        "r.project_id AND (r.batch_id IS NULL OR batch_id = r.batch_id))",
    ),
    "zone_boundary": ("zones", "r.geom"),
    "landuse_patch": ("landuse", "r.geom"),
    "farmland": ("farmland", "r.geom"),
}


def upgrade() -> None:
    srid = op.get_bind().execute(text("SELECT lm_storage_srid()")).scalar_one()
    op.execute(f"""
    CREATE TABLE tile_change (
        id bigserial PRIMARY KEY,
        layer varchar(16) NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        geom geometry(Polygon, {srid}) NOT NULL
    );
    CREATE INDEX tile_change_geom ON tile_change USING gist (geom);

    -- statement-level: one extent per statement (a bulk import is one change)
    CREATE FUNCTION lm_tiles_touched() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        rows_sql text := CASE TG_OP
            WHEN 'INSERT' THEN 'SELECT * FROM new_rows'
            WHEN 'DELETE' THEN 'SELECT * FROM old_rows'
            ELSE 'SELECT * FROM new_rows UNION ALL SELECT * FROM old_rows' END;
    BEGIN
        EXECUTE format($q$
            INSERT INTO tile_change (layer, geom)
            SELECT %L, ST_Envelope(ST_Expand(ST_Extent(g)::geometry, 1))
            FROM (SELECT %s AS g FROM (%s) r) x WHERE g IS NOT NULL
            HAVING count(*) > 0$q$, TG_ARGV[0], TG_ARGV[1], rows_sql);
        RETURN NULL;
    END $fn$;
    """)
    for table, (layer, geom) in TOUCHED.items():
        args = f"'{layer}', '{geom.replace(chr(39), chr(39) * 2)}'"
        op.execute(f"""
        CREATE TRIGGER {table}_tiles_insert AFTER INSERT ON {table}
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION lm_tiles_touched({args});
        CREATE TRIGGER {table}_tiles_update AFTER UPDATE ON {table}
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION lm_tiles_touched({args});
        CREATE TRIGGER {table}_tiles_delete AFTER DELETE ON {table}
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
            EXECUTE FUNCTION lm_tiles_touched({args});
        """)


def downgrade() -> None:
    for table in TOUCHED:
        for op_name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_tiles_{op_name} ON {table}")
    op.execute("DROP TABLE tile_change; DROP FUNCTION lm_tiles_touched()")
