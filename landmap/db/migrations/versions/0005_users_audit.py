"""Users, API tokens and the audit trail.

Every change to the register is written to audit_log by triggers, in the same transaction:
who (landmap.user, set by the app for each transaction, else the database role), from where
(landmap.address), what, before and after. audit_log is append-only for everyone, and the
application's role (landmap_app) may only insert into it and read it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# table -> (entity name, key expression over the row ``r``, primary key column)
AUDITED = {
    "parcel": ("parcel", "r.code", "id"),
    "commercial_plot": (
        "commercial_plot",
        "(SELECT code FROM parcel WHERE id = r.parcel_id)",
        "parcel_id",
    ),
    "project": ("project", "r.name", "id"),
    "acquisition_batch": ("batch", "r.project_id || '/' || r.name", "id"),
    "zone_boundary": ("zone", "(SELECT code FROM zone WHERE id = r.zone_id) || '#' || r.id", "id"),
    "quota_entry": ("quota_entry", "r.id::text", "id"),
    "quota_year": ("quota_year", "r.year::text", "year"),
    "import_run": ("import", "r.id::text", "id"),
    "app_user": ("user", "r.name", "id"),
    "api_token": ("token", "(SELECT name FROM app_user WHERE id = r.user_id) || '#' || r.id", "id"),
}


def upgrade() -> None:
    op.execute("""
    CREATE TABLE app_user (
        id serial PRIMARY KEY,
        name varchar(64) NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.@-]{2,64}$'),
        display_name text NOT NULL DEFAULT '',
        role varchar(16) NOT NULL CHECK (role IN ('viewer', 'officer', 'planner', 'admin')),
        password_hash text NOT NULL CHECK (password_hash <> ''),
        active boolean NOT NULL DEFAULT true,
        session_version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE api_token (
        id serial PRIMARY KEY,
        user_id integer NOT NULL REFERENCES app_user (id),
        token_hash char(64) NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
        label text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
    );

    CREATE TABLE audit_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        tx bigint NOT NULL DEFAULT txid_current(),
        actor text NOT NULL,
        address text NOT NULL DEFAULT '',
        entity text NOT NULL,
        key text NOT NULL,
        action text NOT NULL,
        before jsonb,
        after jsonb
    );
    CREATE INDEX audit_log_entity ON audit_log (entity, key, at);
    CREATE INDEX audit_log_actor ON audit_log (actor, at);
    CREATE INDEX audit_log_at ON audit_log (at);
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION lm_append_only();
    -- TRUNCATE is refused too
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION lm_append_only();

    CREATE FUNCTION lm_actor() RETURNS text LANGUAGE sql STABLE
    RETURN coalesce(nullif(current_setting('landmap.user', true), ''), 'db:' || session_user);

    -- a row as the audit keeps it: no password hashes, geometry as a fingerprint and mu
    CREATE FUNCTION lm_audit_row(r jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN r ? 'geom' THEN (r - 'geom' - 'password_hash' - 'token_hash')
                    || jsonb_build_object('geom_md5', md5(r ->> 'geom'))
                ELSE r - 'password_hash' - 'token_hash' END;

    -- statement-level, with transition tables: one INSERT into the audit per statement
    CREATE FUNCTION lm_audit() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        entity text := TG_ARGV[0];
        key_sql text := TG_ARGV[1];
        pk text := TG_ARGV[2];
        ignore text[] := ARRAY['updated_at', 'area_mu', 'area_mismatch', 'session_version',
                               'last_used_at'];
    BEGIN
        IF TG_OP = 'INSERT' THEN
            EXECUTE format($q$
                INSERT INTO audit_log (actor, address, entity, key, action, after)
                SELECT lm_actor(), coalesce(current_setting('landmap.address', true), ''),
                       %L, %s, 'insert', lm_audit_row(to_jsonb(r)) FROM new_rows r$q$,
                entity, key_sql);
        ELSIF TG_OP = 'DELETE' THEN
            EXECUTE format($q$
                INSERT INTO audit_log (actor, address, entity, key, action, before)
                SELECT lm_actor(), coalesce(current_setting('landmap.address', true), ''),
                       %L, %s, 'delete', lm_audit_row(to_jsonb(r)) FROM old_rows r$q$,
                entity, key_sql);
        ELSE
            -- stage and dispute follow the history, which is audited where it is written
            IF TG_TABLE_NAME = 'parcel' THEN
                ignore := ignore || ARRAY['stage', 'dispute', 'dispute_reason'];
            END IF;
            EXECUTE format($q$
                INSERT INTO audit_log (actor, address, entity, key, action, before, after)
                SELECT lm_actor(), coalesce(current_setting('landmap.address', true), ''),
                       %L, %s, 'update', lm_audit_row(to_jsonb(o)), lm_audit_row(to_jsonb(r))
                FROM old_rows o JOIN new_rows r ON r.%I = o.%I
                WHERE (to_jsonb(o) - $1) IS DISTINCT FROM (to_jsonb(r) - $1)$q$,
                entity, key_sql, pk, pk) USING ignore;
        END IF;
        RETURN NULL;
    END $fn$;

    -- a move in a parcel's history is one audit entry on the parcel
    CREATE FUNCTION lm_audit_stage_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        INSERT INTO audit_log (actor, address, entity, key, action, before, after)
        SELECT lm_actor(), coalesce(current_setting('landmap.address', true), ''), 'parcel',
               p.code, r.kind,
               CASE WHEN r.kind = 'stage' THEN jsonb_build_object('stage', r.from_stage) END,
               jsonb_strip_nulls(jsonb_build_object(
                   'stage', r.to_stage, 'date', r.happened_on, 'note', nullif(r.note, ''),
                   'correction', nullif(r.correction, false), 'reason', nullif(r.reason, ''),
                   'recorded_by', r.recorded_by, 'change_set', r.change_set))
        FROM new_rows r JOIN parcel p ON p.id = r.parcel_id;
        RETURN NULL;
    END $fn$;
    CREATE TRIGGER stage_change_audit AFTER INSERT ON stage_change
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION lm_audit_stage_change();
    """)
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
    for table in AUDITED:
        for op_name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER {table}_audit_{op_name} ON {table}")
    op.execute("""
    DROP TRIGGER stage_change_audit ON stage_change;
    DROP FUNCTION lm_audit_stage_change(), lm_audit(), lm_audit_row(jsonb), lm_actor();
    DROP TABLE audit_log, api_token, app_user;
    """)
