"""One database session per request, closed at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from landmap.config import Settings


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["landmap.sessions"]()
    return g.db_session


def settings() -> Settings:
    return current_app.extensions["landmap.settings"]


def _close(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
