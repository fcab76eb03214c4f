"""Notifications to every server process (pg_notify) when tiles, tokens, users or zones change,
so that their caches are dropped at once instead of the database being asked on every request
(landmap.db.notify). The channel is ``landmap.<schema>``; payloads are small JSON objects.

- tile_change: each entry (one per statement that changed a tiled layer) is announced with its
  layer and box in EPSG:3857, the tiles' own coordinates.
- api_token, app_user, and a session that ends: "auth" (tokens and signed-in users are cached).
- zone, zone_boundary: "zones" (zone lists are cached; the boundaries' tiles come by tile_change).
- parcel, stage_change, acquisition_batch, project, project_target: "register" (figures such as
  project progress are cached). Identical notifications of one transaction are sent once by
  PostgreSQL, so a bulk import costs one.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# table -> (kind, operations told)
STATEMENTS = {
    "api_token": ("auth", "UPDATE OR DELETE"),
    "app_user": ("auth", "UPDATE OR DELETE"),
    "zone": ("zones", "INSERT OR UPDATE OR DELETE"),
    "zone_boundary": ("zones", "INSERT OR UPDATE OR DELETE"),
    "parcel": ("register", "INSERT OR UPDATE OR DELETE"),
    "stage_change": ("register", "INSERT OR UPDATE OR DELETE"),
    "acquisition_batch": ("register", "INSERT OR UPDATE OR DELETE"),
    "project": ("register", "INSERT OR UPDATE OR DELETE"),
    "project_target": ("register", "INSERT OR UPDATE OR DELETE"),
}


def upgrade() -> None:
    op.execute("""
    CREATE FUNCTION lm_notify_channel(schema_name text) RETURNS text
        LANGUAGE sql IMMUTABLE AS $$ SELECT 'landmap.' || schema_name $$;

    CREATE FUNCTION lm_notify_tiles() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        box box2d := Box2D(ST_Transform(ST_Segmentize(NEW.geom,
            greatest(ST_XMax(NEW.geom) - ST_XMin(NEW.geom),
                     ST_YMax(NEW.geom) - ST_YMin(NEW.geom), 1) / 8), 3857));
    BEGIN
        PERFORM pg_notify(lm_notify_channel(TG_TABLE_SCHEMA), json_build_object(
            'k', 'tiles', 'l', NEW.layer,
            'b', json_build_array(floor(ST_XMin(box)), floor(ST_YMin(box)),
                                  ceil(ST_XMax(box)), ceil(ST_YMax(box))))::text);
        RETURN NULL;
    END $fn$;

    CREATE FUNCTION lm_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        PERFORM pg_notify(lm_notify_channel(TG_TABLE_SCHEMA),
                          json_build_object('k', TG_ARGV[0])::text);
        RETURN NULL;
    END $fn$;

    CREATE TRIGGER tile_change_notify AFTER INSERT ON tile_change
        FOR EACH ROW EXECUTE FUNCTION lm_notify_tiles();
    -- a session that ends (sign-out, a password changed); not each "last seen" it records
    CREATE TRIGGER user_session_notify AFTER UPDATE ON user_session
        FOR EACH ROW WHEN (OLD.ended_at IS DISTINCT FROM NEW.ended_at)
        EXECUTE FUNCTION lm_notify('auth');
    CREATE TRIGGER user_session_notify_delete AFTER DELETE ON user_session
        FOR EACH STATEMENT EXECUTE FUNCTION lm_notify('auth');
    """)
    for table, (kind, ops) in STATEMENTS.items():
        op.execute(f"""
        CREATE TRIGGER {table}_notify AFTER {ops} ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION lm_notify('{kind}');""")


def downgrade() -> None:
    for table in STATEMENTS:
        op.execute(f"DROP TRIGGER {table}_notify ON {table}")
    op.execute("""
    DROP TRIGGER user_session_notify_delete ON user_session;
    DROP TRIGGER user_session_notify ON user_session;
    DROP TRIGGER tile_change_notify ON tile_change;
    DROP FUNCTION lm_notify();
    DROP FUNCTION lm_notify_tiles();
    DROP FUNCTION lm_notify_channel(text);
    """)
