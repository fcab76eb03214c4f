"""Engines and sessions. Services take a Session; this module is where sessions come from."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from landmap.config import ConfigError, Settings

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _sqlalchemy_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def make_engine(settings: Settings, read_only: bool = False, replica: bool = False) -> Engine:
    """An engine whose connections see landmap's schema first, then public (PostGIS).

    ``read_only``: for requests that only read. Its connections run each statement on its own
    (no BEGIN and ROLLBACK round trips: a cached tile costs one query, not three) and the
    database refuses any write made through them. ``replica``: on a hot standby, which may
    go away: see make_replica_engine."""
    if not settings.database_url:
        raise ConfigError(
            "no database URL for the owner of landmap's tables: set DATABASE_URL, or run this "
            "as the OS user that may read .pgdata/database_url (the web server's may not)"
        )
    schema = settings.db_schema
    if not _SCHEMA_RE.match(schema):
        raise ConfigError(f"LANDMAP_DB_SCHEMA must be a plain lower-case name; got {schema!r}")
    options = f"-csearch_path={schema},public" if schema != "public" else "-csearch_path=public"
    # no JIT: landmap's time goes into PostGIS functions, which JIT cannot speed up, while
    # compiling costs a large tile or check 50-200 ms more
    options += " -cjit=off"
    if settings.db_role:
        if not _SCHEMA_RE.match(settings.db_role):
            raise ConfigError(f"LANDMAP_DB_ROLE must be a role name; got {settings.db_role!r}")
        # works as the restricted role; weaker than logging in as it (see make_app_engine)
        options += f" -crole={settings.db_role}"
    if read_only:
        options += " -cdefault_transaction_read_only=on"
    connect_args = {"options": options, "application_name": "landmap"}
    if replica:
        connect_args["connect_timeout"] = REPLICA_CONNECT_TIMEOUT_S
    # no pre-ping on the primary: it costs a round trip on every checkout (a third of a cached
    # tile's time); connections are recycled instead, and a dropped one fails one request, not
    # the next. A replica's are pinged: one gone is found at checkout, and its reads go to the
    # primary instead of failing (landmap.web.db)
    return create_engine(
        _sqlalchemy_url(settings.database_url),
        pool_recycle=1800,
        pool_pre_ping=replica,
        isolation_level="AUTOCOMMIT" if read_only else "READ COMMITTED",
        connect_args=connect_args,
    )


def make_app_engine(settings: Settings, read_only: bool = False) -> Engine:
    """The web app's engine: it logs in as its own role (settings.app_database_url), which
    owns nothing and cannot become the owner; without one, the owner's URL with db_role."""
    if settings.app_database_url:
        settings = settings.with_(database_url=settings.app_database_url, db_role="")
    return make_engine(settings, read_only=read_only)


# seconds to wait for a replica to answer a connection before reading from the primary
REPLICA_CONNECT_TIMEOUT_S = 2


def make_replica_engine(settings: Settings, url: str) -> Engine:
    """A read-only engine on the hot standby at ``url`` (one of DATABASE_READ_URL), logged in
    there as the web app is on the primary: the app's own role when there is an
    app_database_url, else the owner's login with db_role. A standby refuses every write."""
    if settings.app_database_url:
        settings = settings.with_(database_url=url, app_database_url="", db_role="")
    else:
        settings = settings.with_(database_url=url)
    return make_engine(settings, read_only=True, replica=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def set_actor(connection: Connection, user: str, address: str) -> None:
    """Tell the database who is acting and from where, for the audit trail: settings local
    to the connection's transaction."""
    connection.execute(
        text(
            "SELECT set_config('landmap.user', :user, true), "
            "set_config('landmap.address', :address, true)"
        ),
        {"user": user, "address": address},
    )


def database_answers(session: Session) -> bool:
    """Whether the database answers a trivial query through ``session``."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


@contextmanager
def session_scope(factory: sessionmaker[Session], actor: str | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error. ``actor`` is recorded
    in the audit trail as who made the changes."""
    session = factory()
    if actor:

        def record_actor(session: Session, transaction, connection: Connection) -> None:
            set_actor(connection, actor, "localhost")

        event.listen(session, "after_begin", record_actor)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
