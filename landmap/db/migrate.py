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


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


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
