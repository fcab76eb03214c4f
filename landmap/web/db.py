"""One database session per request, closed at teardown. A request that only reads (GET, HEAD,
OPTIONS) gets a session that cannot write; every transaction of the others starts by telling
the database who is acting and from where, for the audit trail."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from landmap.config import Settings
from landmap.db import engine


def _actor() -> tuple[str, str]:
    return g.get("landmap_actor", "anonymous"), request.remote_addr or ""


READS = ("GET", "HEAD", "OPTIONS")


def _after_begin(session, transaction, connection) -> None:
    if request and request.method in READS:
        return  # reads change nothing: no one to record
    engine.set_actor(connection, *_actor())


def get_session(scratch: bool = False) -> Session:
    """The request's session. ``scratch``: a read that needs a transaction of its own (it
    builds temporary tables); whatever it does is rolled back when the request ends."""
    ext = current_app.extensions
    reads = has_request_context() and request.method in READS
    separate = reads and ext["landmap.read_sessions"] is not ext["landmap.sessions"]
    key = "db_scratch" if separate and scratch else "db_session"
    if key not in g:
        factory = "landmap.read_sessions" if reads and not scratch else "landmap.sessions"
        session = ext[factory]()
        event.listen(session, "after_begin", _after_begin)
        g.setdefault(key, session)
    return g.get(key)


def set_actor(name: str) -> None:
    """The signed-in user is known: record it for this request's transactions."""
    g.landmap_actor = name
    session = g.get("db_session")
    if session is not None and session.in_transaction():
        _after_begin(session, None, session.connection())


def settings() -> Settings:
    return current_app.extensions["landmap.settings"]


def rollback() -> None:
    """Undo whatever this request has written so far."""
    for key in ("db_session", "db_scratch"):
        session = g.get(key)
        if session is not None:
            session.rollback()


def _close(exc: BaseException | None) -> None:
    for key in ("db_session", "db_scratch"):
        session = g.pop(key, None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
