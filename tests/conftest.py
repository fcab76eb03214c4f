"""Fixtures: a real PostGIS database for every test.

The suite works in a schema of its own (test_<pid>) inside the database named by
TEST_DATABASE_URL, else DATABASE_URL, else the project-local cluster's landmap_test database;
it is migrated at the start and dropped at the end, so nothing else in that database is
touched. The app works as the real one does: it logs in as landmap_app (the local cluster's,
or TEST_APP_DATABASE_URL with TEST_DATABASE_URL, or LANDMAP_APP_DATABASE_URL with
DATABASE_URL), else it falls back to SET ROLE landmap_app on the owner's connections. The
demo zone is loaded once (committed); each test then runs in a transaction that is rolled
back, HTTP requests included.

Tests whose requests commit (a live server driven by a browser or by concurrent clients) work
in a second schema of their own (``live_settings``, ``live_engine``, ``live_accounts``): the
same migrations, demo and accounts, once per session, so that nothing they commit is seen by
the tests that roll back.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from landmap import create_app
from landmap.cli import Ctx
from landmap.config import Settings, local_app_database_url, local_database_url
from landmap.db import make_engine, migrate
from landmap.db.engine import make_app_engine
from landmap.demo import load_demo

CHROMIUM = "/usr/bin/chromium"


def _test_database(url: str) -> str:
    return make_url(url).set(database="landmap_test").render_as_string(False)


def _urls() -> tuple[str, str]:
    """The owner's URL and the app's ("" = SET ROLE landmap_app on the owner's)."""
    if os.environ.get("TEST_DATABASE_URL"):
        return os.environ["TEST_DATABASE_URL"], os.environ.get("TEST_APP_DATABASE_URL", "")
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], os.environ.get("LANDMAP_APP_DATABASE_URL", "")
    app_url = local_app_database_url()
    return _test_database(local_database_url()), _test_database(app_url) if app_url else ""


def _settings(schema: str, tmp: Path) -> Settings:
    owner, app = _urls()
    return Settings(
        database_url=owner,
        app_database_url=app,
        db_schema=schema,
        db_role="landmap_app",  # without an app URL: SET ROLE to the app's restricted role
        secret_key="test-secret",
        var_dir=tmp,
        documents_dir=tmp / "documents",
        testing=True,
    )


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Iterator[Settings]:
    s = _settings(f"test_{os.getpid()}", tmp_path_factory.mktemp("var"))
    _drop_schema(s)  # one a killed run of the same pid left behind
    migrate.upgrade(s)
    yield s
    _drop_schema(s)


def _drop_schema(s: Settings) -> None:
    engine = make_engine(s.with_(db_role=""))
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{s.db_schema}" CASCADE'))
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{s.db_schema}_gis" CASCADE'))  # 0017
    engine.dispose()


@pytest.fixture(scope="session")
def engine(settings):
    """The app's engine: it connects as the web app does."""
    eng = make_app_engine(settings)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def demo(engine, settings):
    """The demo zone, committed once for the whole session."""
    with Session(engine) as session:
        result = load_demo(session, settings)
        session.commit()
    return result


PASSWORD = "correct horse battery"


def _add_accounts(engine) -> dict[str, dict[str, str]]:
    from landmap.services import users

    out = {}
    with Session(engine) as session:
        for role in ("viewer", "officer", "planner", "admin"):
            name = f"t_{role}"
            users.add(session, name, role, PASSWORD)
            out[role] = {"name": name, "password": PASSWORD,
                         "token": users.new_token(session, name, "tests")}  # fmt: skip
        session.commit()
    return out


LEDGER = """SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM user_session),
                   (SELECT count(*) FROM tile_change)"""


@pytest.fixture(scope="session")
def accounts(engine, demo) -> Iterator[dict[str, dict[str, str]]]:
    """One account per role (committed), each with a password and an API token.

    At the end of the session the shared schema must hold exactly what was committed up to
    here: a test that commits into it (instead of rolling back, or using a schema of its own)
    leaks into every test after it, and fails the session."""
    out = _add_accounts(engine)
    with engine.connect() as conn:
        before = tuple(conn.execute(text(LEDGER)).one())
    yield out
    with engine.connect() as conn:
        after = tuple(conn.execute(text(LEDGER)).one())
    assert after == before, (
        f"a test committed into the shared schema (audit rows, sessions, tile changes: "
        f"{before} -> {after}): give it a schema of its own (live_settings or scratch)"
    )


@pytest.fixture
def connection(engine, demo, accounts):
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def factory(connection) -> sessionmaker[Session]:
    """Sessions inside the test's transaction: their commits become savepoints."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def db(factory) -> Iterator[Session]:
    session = factory()
    yield session
    session.close()


@pytest.fixture
def app(settings, factory):
    return create_app(settings, session_factory=factory)


@pytest.fixture
def client(app, accounts):
    """An administrator's client, authenticated by API token (no cookies, no CSRF)."""
    return client_for(app, accounts["admin"]["token"])


def client_for(app, token: str | None):
    c = app.test_client()
    if token:
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return c


@pytest.fixture
def anonymous(app):
    return app.test_client()


# --- a schema for tests that commit ------------------------------------------------------


@pytest.fixture(scope="session")
def live_settings(tmp_path_factory) -> Iterator[Settings]:
    """A schema of its own for the tests whose requests commit (through a live server): it is
    migrated and gets the demo once per session, and is dropped at the end."""
    s = _settings(f"live_{os.getpid()}", tmp_path_factory.mktemp("live"))
    _drop_schema(s)  # one a killed run of the same pid left behind
    migrate.upgrade(s)
    engine = make_app_engine(s)
    with Session(engine) as session:
        load_demo(session, s)
        session.commit()
    engine.dispose()
    yield s
    _drop_schema(s)


@pytest.fixture(scope="session")
def live_engine(live_settings):
    """The app's engine on the live schema (what the live server sees)."""
    eng = make_app_engine(live_settings)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def live_accounts(live_engine) -> dict[str, dict[str, str]]:
    """The same accounts as ``accounts``, in the live schema."""
    return _add_accounts(live_engine)


@pytest.fixture
def scratch(tmp_path) -> Iterator[Settings]:
    """A freshly migrated, empty schema of its own, for commands that commit."""
    s = _settings(f"scratch_{os.getpid()}_{abs(hash(tmp_path)) % 10**8}", tmp_path)
    migrate.upgrade(s)
    yield s
    _drop_schema(s)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, settings: Settings, *args: str):
    from landmap.cli import main

    return runner.invoke(main, list(args), obj=Ctx(settings), catch_exceptions=False)


# --- a live server and headless Chromium -------------------------------------------------


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, in a thread, for as long as the block runs."""
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def live_server(live_settings, live_accounts) -> Iterator[str]:
    """The app, served on the live schema: what it commits stays there."""
    with serve(live_settings) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/setup.sh --test"
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


class PageWatch:
    """A page that records console errors, page errors and every request it makes."""

    def __init__(self, page, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith((self.base, "data:"))]


def signed_in_state(browser, live_server, account) -> dict:
    """Sign in through the login page, as a person would, and keep the cookies."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(live_server + "/login")
    page.fill("#username", account["name"])
    page.fill("#password", account["password"])
    page.click("#login-form button[type=submit]")
    page.wait_for_url(live_server + "/")
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture(scope="session")
def admin_state(browser, live_server, live_accounts) -> dict:
    return signed_in_state(browser, live_server, live_accounts["admin"])


@pytest.fixture
def page(browser, live_server, admin_state) -> Iterator[PageWatch]:
    """A page signed in as an administrator."""
    context = browser.new_context(viewport={"width": 1280, "height": 860},
                                  storage_state=admin_state)  # fmt: skip
    watch = PageWatch(context.new_page(), live_server)
    yield watch
    context.close()


def free_parcels(session, n: int = 1, offset: int = 0) -> list[str]:
    """Codes of parcels in an acquisition batch that are still 'not started' and have no
    history: free for a test to move."""
    return list(
        session.execute(
            text("""
        SELECT p.code FROM parcel p WHERE p.batch_id IS NOT NULL AND p.stage = 'not_started'
          AND NOT EXISTS (SELECT 1 FROM stage_change c WHERE c.parcel_id = p.id)
        ORDER BY p.code LIMIT :n OFFSET :o"""),
            {"n": n, "o": offset},
        ).scalars()
    )


def settle_households(session, codes: list[str], day) -> int:
    """Sign (at the computed total) and pay in full, on ``day``, every household on these
    parcels that is not yet: the demo's households keep their parcels from 协议签订 and later
    until then. Through services.compensation; how many households it settled."""
    from landmap.services import compensation

    rows = session.execute(
        text("""SELECT DISTINCT s.household_id, s.status FROM household_status s
                JOIN household_parcel hp ON hp.household_id = s.household_id
                JOIN parcel p ON p.id = hp.parcel_id
                WHERE p.code = ANY(:c) AND s.status <> 'paid' ORDER BY 1"""),
        {"c": list(codes)},
    ).all()
    for household_id, status in rows:
        if status == "unsigned":
            total = compensation.compute_many_at(session, [household_id], day)[household_id].total
            body = {
                "number": f"T-{household_id}",
                "date": day.isoformat(),
                "amount_yuan": str(total),
            }
            compensation.agree(session, household_id, body, "t")
        agreed, paid = session.execute(
            text("SELECT agreed_yuan, paid_yuan FROM household_balance WHERE household_id = :h"),
            {"h": household_id},
        ).one()
        if agreed > paid:
            body = {"date": day.isoformat(), "amount_yuan": str(agreed - paid),
                    "voucher": f"T-{household_id}-{day.isoformat()}"}  # fmt: skip
            compensation.pay(session, household_id, body, "t")
    return len(rows)
