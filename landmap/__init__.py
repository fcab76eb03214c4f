"""landmap: the land register and maps of a development zone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmap.config import PROJECT_ROOT, Settings
from landmap.geo import gdal as _gdal  # noqa: F401  (before anything imports pyogrio)

if TYPE_CHECKING:  # the CLI's loaders should not pay for importing Flask
    from flask import Flask
    from sqlalchemy.orm import Session, sessionmaker


def create_app(
    config: Settings | dict | None = None,
    session_factory: sessionmaker[Session] | None = None,
) -> Flask:
    """The web app: settings, database sessions, translations, blueprints. Nothing else."""
    from flask import Flask

    from landmap import web
    from landmap.db import make_sessionmaker
    from landmap.db.engine import make_app_engine

    if isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env().with_(**(config or {}))
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024 * 1024,
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["landmap.settings"] = settings
    app.extensions["landmap.sessions"] = session_factory or make_sessionmaker(
        make_app_engine(settings)
    )
    # GET requests read through connections that cannot write (a test's factory serves both)
    app.extensions["landmap.read_sessions"] = session_factory or make_sessionmaker(
        make_app_engine(settings, read_only=True)
    )
    # told by the database what changed (on the primary), unless a test's factory holds every
    # request in one transaction that is never committed (then nothing would ever be told)
    push = None
    if session_factory is None and settings.listen:
        from landmap.db.notify import listener_for

        push = listener_for(settings.app_database_url or settings.database_url, settings.db_schema)
    web.init_app(app, push)
    return app
