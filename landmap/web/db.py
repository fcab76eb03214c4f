"""One database session per request, closed at teardown. A request that only reads (GET, HEAD,
OPTIONS) gets a session that cannot write; every transaction of the others starts by telling
the database who is acting and from where, for the audit trail.

With replicas (DATABASE_READ_URL) a read is served by one of them when landmap.db.replicas
says it may; otherwise by the primary, and so is a read that finds its replica gone when it
starts (not an error; one cut off by a replica going down mid-way fails).

Read-your-writes: after a request that committed, the primary's position is kept for the
writer, for at most replica_max_lag_seconds and a second, and the writer's reads go to the
primary until a replica has replayed it. A person's browser keeps it in the (signed) session
cookie, which every server process on every machine reads. A script's (a token in the
Authorization header) is kept by the token's hash in this process only: behind a load
balancer, its next read on another machine may go to a replica that has not yet replayed the
write, for at most that same bound (replicas further behind are not read from).
"""

from __future__ import annotations

import time

from flask import Flask, Response, current_app, g, has_request_context, request
from flask import session as cookie
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from landmap.config import Settings
from landmap.db import engine
from landmap.db.replicas import ReadRouter
from landmap.services import users


def _actor() -> tuple[str, str]:
    return g.get("landmap_actor", "anonymous"), request.remote_addr or ""


READS = ("GET", "HEAD", "OPTIONS")


def _after_begin(session, transaction, connection) -> None:
    if request and request.method in READS:
        return  # reads change nothing: no one to record
    engine.set_actor(connection, *_actor())


ROUTER = "landmap.replicas"
WRITTEN = "landmap_written"  # in the session cookie: [position, until (epoch seconds)]
_KEYS = ("db_session", "db_scratch", "db_primary")


def get_session(scratch: bool = False, primary: bool = False) -> Session:
    """The request's session. ``scratch``: a read that needs a transaction of its own (it
    builds temporary tables, which a hot standby cannot): on the primary, and whatever it
    does is rolled back when the request ends. ``primary``: a read that must see every
    committed write, such as whether a token was revoked (before it is cached): from the
    primary even when replicas serve the other reads."""
    ext = current_app.extensions
    reads = has_request_context() and request.method in READS
    separate = reads and ext["landmap.read_sessions"] is not ext["landmap.sessions"]
    key = "db_session"
    if separate and scratch:
        key = "db_scratch"
    elif separate and primary and ext.get(ROUTER) is not None:
        key = "db_primary"
    if key not in g:
        if not reads or scratch:
            session = ext["landmap.sessions"]()
            if ext.get(ROUTER) is not None:
                event.listen(session, "after_commit", _committed)
        elif key == "db_primary":
            session = ext["landmap.read_sessions"]()
        else:
            session = _read_session(ext)
        event.listen(session, "after_begin", _after_begin)
        g.setdefault(key, session)
    return g.get(key)


def _read_session(ext) -> Session:
    """A replica's session when one may serve this reader, else the primary's."""
    router: ReadRouter | None = ext.get(ROUTER)
    if router is not None:
        after = _last_write(router)
        while (replica := router.choose(after)) is not None:
            session = replica.sessions()
            try:
                session.connection()  # one gone since it was last asked is found here
            except SQLAlchemyError as exc:
                session.close()
                router.failed(replica, exc)
                continue
            return session
    return ext["landmap.read_sessions"]()


def _token_key() -> str | None:
    header = request.headers.get("Authorization")
    if not header:
        return None
    return users.token_hash(header)


def _last_write(router: ReadRouter) -> int | None:
    """The position of this reader's last write, while it may not be on every replica."""
    found = []
    if current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
        kept = cookie.get(WRITTEN)
        if (
            isinstance(kept, list)
            and len(kept) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in kept)
            and kept[1] > time.time()
        ):
            found.append(int(kept[0]))
    key = _token_key()
    if key is not None and (position := router.recent.get(key)) is not None:
        found.append(position)
    return max(found) if found else None


def _committed(session: Session) -> None:
    g.landmap_committed = True


def _remember_write(response: Response) -> Response:
    """After a request that committed: the primary's position, for the writer's reads."""
    router: ReadRouter | None = current_app.extensions.get(ROUTER)
    if router is None or not g.pop("landmap_committed", False):
        return response
    position = router.written()
    if position is None:  # not known: the primary for the whole bound
        position = 2**63 - 1
    key = _token_key()
    if key is not None:
        router.recent.add(key, position)
    else:
        cookie[WRITTEN] = [position, time.time() + router.pin_for]
    return response


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
    for key in _KEYS:
        session = g.get(key)
        if session is not None:
            session.rollback()


def _close(exc: BaseException | None) -> None:
    for key in _KEYS:
        session = g.pop(key, None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
    ext = app.extensions
    urls = ext["landmap.settings"].read_database_urls
    # not with a test's factory: it holds every request in one transaction of the primary
    if urls and ext["landmap.read_sessions"] is not ext["landmap.sessions"]:
        ext[ROUTER] = _router(ext["landmap.settings"], ext["landmap.read_sessions"].kw["bind"])
        app.after_request(_remember_write)


def _router(settings: Settings, primary) -> ReadRouter:
    replicas = [engine.make_replica_engine(settings, url) for url in settings.read_database_urls]
    return ReadRouter(primary, replicas, settings.replica_max_lag_seconds)
