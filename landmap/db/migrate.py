"""Alembic, driven from code: `python -m landmap db upgrade` and the test fixtures call this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from landmap.config import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["settings"] = settings
    return cfg


APP_ROLE = "landmap_app"


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)
    grant_app_role(settings)


def grant_app_role(settings: Settings) -> bool:
    """The application's database role: everything it needs on landmap's tables, but only
    INSERT and SELECT on the audit trail. Created when the migrating role may create roles;
    returns whether it exists."""
    from sqlalchemy import text

    from landmap.db.engine import make_engine

    engine = make_engine(settings.with_(db_role=""))
    schema = settings.db_schema
    try:
        with engine.begin() as conn:
            conn.execute(
                text(f"""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                    BEGIN
                        CREATE ROLE {APP_ROLE} NOLOGIN;
                    EXCEPTION WHEN insufficient_privilege THEN
                        RAISE NOTICE 'cannot create role {APP_ROLE}';
                    END;
                END IF;
            END $$""")
            )
            if not conn.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
            ).first():
                return False
            conn.execute(
                text(f"""
                GRANT USAGE ON SCHEMA "{schema}" TO {APP_ROLE};
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}"
                    TO {APP_ROLE};
                GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {APP_ROLE};
                REVOKE UPDATE, DELETE, TRUNCATE ON "{schema}".audit_log FROM {APP_ROLE};
            """)
            )
            member = conn.execute(
                text("SELECT pg_has_role(current_user, :r, 'MEMBER')"), {"r": APP_ROLE}
            ).scalar()
            if not member:
                conn.execute(text(f"GRANT {APP_ROLE} TO CURRENT_USER"))
    finally:
        engine.dispose()
    return True


def downgrade(settings: Settings, revision: str = "base") -> None:
    command.downgrade(alembic_config(settings), revision)


def head(settings: Settings) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current(settings: Settings) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from landmap.db.engine import make_engine

    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"version_table_schema": settings.db_schema}
            )
            return ctx.get_current_revision()
    finally:
        engine.dispose()
