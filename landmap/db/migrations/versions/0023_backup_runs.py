"""Backups and their verification, recorded for the administrators' page.

- backup_run: one row per `db backup` (kind 'backup', in the database backed up), `db restore`
  ('restore', in the database restored into, after it was checked) and `db verify`
  ('verify'): when it started and ended, whether it passed, the backup file's name (its name
  only: where backups are kept is the server's business), size and dump digest, the migration
  revision and landmap version it holds, when that backup was made, its counts per table and
  checksums (as in its manifest), the checks made (each {name, expected, found, ok}), the
  problems met (messages: {code, text, params}), and who ran it on which host.
  Append-only, and written only by the database's owner (the command line), never by the
  web app's role: the page shows what was done, not what someone claimed.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE backup_run (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('backup', 'restore', 'verify')),
        started_at timestamptz NOT NULL,
        finished_at timestamptz NOT NULL CHECK (finished_at >= started_at),
        ok boolean NOT NULL,
        file_name text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255
                                       AND strpos(file_name, '/') = 0),
        size_bytes bigint CHECK (size_bytes >= 0),
        dump_sha256 char(64) CHECK (dump_sha256 ~ '^[0-9a-f]{64}$'),
        revision text,
        landmap_version text,
        made_at timestamptz,
        counts jsonb NOT NULL CHECK (jsonb_typeof(counts) = 'object'),
        checksums jsonb NOT NULL CHECK (jsonb_typeof(checksums) = 'object'),
        checks jsonb NOT NULL CHECK (jsonb_typeof(checks) = 'array'),
        problems jsonb NOT NULL CHECK (jsonb_typeof(problems) = 'array'),
        run_by text NOT NULL,
        host text NOT NULL,
        CHECK (ok = (jsonb_array_length(problems) = 0)),
        CHECK (kind <> 'backup' OR NOT ok OR (size_bytes IS NOT NULL AND dump_sha256 IS NOT NULL
                                             AND made_at IS NOT NULL))
    );
    CREATE INDEX backup_run_kind_finished ON backup_run (kind, finished_at DESC);
    CREATE INDEX backup_run_dump ON backup_run (dump_sha256);
    CREATE TRIGGER backup_run_append_only BEFORE UPDATE OR DELETE ON backup_run
        FOR EACH ROW EXECUTE FUNCTION lm_append_only();
    CREATE FUNCTION lm_backup_run_by_owner() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID),
                           'USAGE') THEN
            RAISE EXCEPTION 'backup runs are recorded by the owner of the register only';
        END IF;
        RETURN NEW;
    END $fn$;
    CREATE TRIGGER backup_run_by_owner BEFORE INSERT ON backup_run
        FOR EACH ROW EXECUTE FUNCTION lm_backup_run_by_owner();
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE backup_run;
    DROP FUNCTION lm_backup_run_by_owner();
    """)
