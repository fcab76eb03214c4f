"""One database session per request, closed at teardown. Every transaction it runs starts by
telling the database who is acting and from where, for the audit trail."""

from __future__ import annotations

from flask import Flask, current_app, g, request
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from landmap.config import Settings
from landmap.db.engine import set_actor_sql


def _actor() -> tuple[str, str]:
    return g.get("landmap_actor", "anonymous"), request.remote_addr or ""


def _after_begin(session, transaction, connection) -> None:
    connection.execute(text(set_actor_sql), dict(zip(("user", "address"), _actor(), strict=True)))


def get_session() -> Session:
    if "db_session" not in g:
        session = current_app.extensions["landmap.sessions"]()
        event.listen(session, "after_begin", _after_begin)
        g.db_session = session
    return g.db_session


def set_actor(name: str) -> None:
    """The signed-in user is known: record it for this request's transactions."""
    g.landmap_actor = name
    session = g.get("db_session")
    if session is not None and session.in_transaction():
        _after_begin(session, None, session.connection())


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
