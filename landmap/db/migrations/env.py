"""Alembic environment: the settings (URL, schema, storage SRID) come from landmap.config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from landmap.config import Settings
from landmap.db.engine import make_engine

config = context.config
settings: Settings = config.attributes.get("settings") or Settings.from_env()


def run_migrations_online() -> None:
    engine = make_engine(settings.with_(db_role=""))  # migrations run as the owner
    with engine.connect() as conn:
        if settings.db_schema != "public":
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{settings.db_schema}"'))
            conn.commit()
        context.configure(
            connection=conn,
            version_table_schema=settings.db_schema,
            transaction_per_migration=True,
        )
        context.config.attributes["storage_srid"] = settings.storage_srid
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
