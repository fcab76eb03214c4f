"""Least privilege for the application's role, and sessions kept on the server.

- Quota balances are moved only by the ledger's trigger, which now runs as the owner
  (SECURITY DEFINER, with a fixed search_path that puts pg_temp last so that no temporary
  table can stand in for a ledger table); the application's role loses the right to write the
  amounts (see grant_app_role). A balance's year and source never change.
- A revoked token stays revoked and an ended session stays ended, for every role, the owner
  included; a revoked token's row cannot be deleted (its hash could then be used again).
- user_session: one row per sign-in, keyed by the sha256 of the session id the browser
  holds; checked on every request, ended by logout, a password change or disabling the
  account, and idle after LANDMAP_SESSION_IDLE_MINUTES. It replaces app_user.session_version.
  Sessions are not in the audit trail: a sign-in changes nothing in the register, and the
  table is itself the record of who signed in when, from where, and when it ended.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from alembic import op
from sqlalchemy import text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = op.get_bind().execute(text("SELECT current_schema()")).scalar_one()
    op.execute(f"""
    ALTER FUNCTION lm_apply_quota_entry() SECURITY DEFINER
        SET search_path = "{schema}", public, pg_temp;

    -- a trigger that refuses, naming the rule it keeps (TG_ARGV[0])
    CREATE FUNCTION lm_refuse() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        RAISE EXCEPTION '%: % refused', TG_ARGV[0], TG_OP USING ERRCODE = 'check_violation';
    END $fn$;

    CREATE TRIGGER quota_balance_keys_fixed BEFORE UPDATE ON quota_balance FOR EACH ROW
        WHEN ((NEW.year, NEW.source) IS DISTINCT FROM (OLD.year, OLD.source))
        EXECUTE FUNCTION lm_refuse('a quota balance keeps its year and source');

    CREATE TRIGGER api_token_revoked_final BEFORE UPDATE ON api_token FOR EACH ROW
        WHEN (OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at)
        EXECUTE FUNCTION lm_refuse('a revoked token stays revoked');
    CREATE TRIGGER api_token_revoked_kept BEFORE DELETE ON api_token FOR EACH ROW
        WHEN (OLD.revoked_at IS NOT NULL)
        EXECUTE FUNCTION lm_refuse('a revoked token stays revoked');

    CREATE TABLE user_session (
        id_hash char(64) PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{{64}}$'),
        user_id integer NOT NULL REFERENCES app_user (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        ended_at timestamptz,
        address text NOT NULL DEFAULT ''
    );
    CREATE INDEX user_session_open ON user_session (user_id) WHERE ended_at IS NULL;
    CREATE TRIGGER user_session_ended_final BEFORE UPDATE ON user_session FOR EACH ROW
        WHEN (OLD.ended_at IS NOT NULL AND NEW.ended_at IS DISTINCT FROM OLD.ended_at)
        EXECUTE FUNCTION lm_refuse('an ended session stays ended');

    ALTER TABLE app_user DROP COLUMN session_version;
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE app_user ADD COLUMN session_version integer NOT NULL DEFAULT 1;
    DROP TABLE user_session;
    DROP TRIGGER api_token_revoked_kept ON api_token;
    DROP TRIGGER api_token_revoked_final ON api_token;
    DROP TRIGGER quota_balance_keys_fixed ON quota_balance;
    DROP FUNCTION lm_refuse();
    ALTER FUNCTION lm_apply_quota_entry() SECURITY INVOKER RESET search_path;
    """)
