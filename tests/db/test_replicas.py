"""Reads from replicas (issue 18): DATABASE_READ_URL against a real hot standby.

The standby is made here, once for the module: a replication role on the test cluster,
``pg_basebackup -R`` into a temporary directory, started with pg_ctl on a free port of
127.0.0.1 as the OS user the cluster runs as (scripts/localdb.sh: "postgres" under root). It is
stopped and removed, and the role dropped, when the module ends, failed or not. The app reads
through it and commits into the live schema (``live_settings``), which the standby replays.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import client_for, free_port
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from landmap import create_app
from landmap.config import ConfigError, Settings
from landmap.db import make_engine
from landmap.db.replicas import CHECK_EVERY, RecentWrites
from landmap.web.db import ROUTER

BIN = Path("/usr/lib/postgresql/15/bin")
ROOT = Path(__file__).resolve().parents[2]
LAG = 4.0  # the app's replica_max_lag_seconds here
needs_standby = pytest.mark.skipif(
    not (BIN / "pg_basebackup").exists(),
    reason="pg_basebackup is not installed (Debian's postgresql-15): no standby to read from",
)


def _as_cluster_user() -> list[str]:
    """What runs a command as the cluster's OS user (PostgreSQL refuses root)."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _run(command: list[str], **kw) -> None:
    """Run a command; when it fails, say which and what it printed."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, **kw)
    if done.returncode:
        raise AssertionError(f"{' '.join(command)}: exit {done.returncode}\n{done.stderr}")


def _on_port(url: str, port: int) -> str:
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


@dataclass
class Standby:
    port: int
    data: Path
    owner: Engine  # the superuser, on the standby

    def sql(self, query: str, **params):
        with self.owner.connect() as conn:
            return conn.execute(text(query), params).scalar()

    def pg_ctl(self, *args: str) -> None:
        _run([*_as_cluster_user(), str(BIN / "pg_ctl"), "-D", str(self.data), *args])

    def start(self) -> None:
        log = self.data.parent / "log"
        try:
            self.pg_ctl(
                "-l", str(log), "-w", "-t", "120", "start", "-o",
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data.parent / 'run'} "
                "-c fsync=off",
            )  # fmt: skip
        except AssertionError as exc:
            tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
            raise AssertionError("\n".join([str(exc), *tail])) from None
        self.owner.dispose()
        assert self.sql("SELECT pg_is_in_recovery()")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "-w", "stop")

    def has(self, schema: str, name: str) -> bool:
        return bool(self.sql(f'SELECT count(*) FROM "{schema}".enterprise WHERE name = :n', n=name))


@pytest.fixture(scope="module")
def standby(live_settings) -> Iterator[Standby]:
    owner_url = live_settings.database_url
    primary = make_engine(live_settings.with_(db_role="")).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    role, password = f"landmap_replica_{os.getpid()}", secrets.token_hex(16)
    with ExitStack() as stack:
        stack.callback(primary.dispose)
        with primary.connect() as conn:
            allowed = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host' "
                    "AND 'replication' = ANY(database) AND address = '127.0.0.1'"
                )
            )
        if not allowed:  # a cluster made before localdb.sh allowed it
            _run([str(ROOT / "scripts" / "localdb.sh"), "allow-replication"])
        with primary.connect() as conn:
            conn.execute(text(f"CREATE ROLE {role} REPLICATION LOGIN PASSWORD '{password}'"))
        stack.callback(_drop_role, primary, role)
        base = Path(tempfile.mkdtemp(prefix="landmap-standby-"))
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        (base / "run").mkdir()
        if os.geteuid() == 0:
            for path in (base, base / "run"):
                shutil.chown(path, "postgres")
        url = make_url(owner_url)
        _run(
            # a throwaway copy: no fsync, no manifest (each would add seconds on a busy disk)
            [*_as_cluster_user(), str(BIN / "pg_basebackup"), "-R", "-c", "fast", "-X", "stream",
             "--no-sync", "--no-manifest",
             "-D", str(base / "data"), "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
             "-U", role],
            env={**os.environ, "PGPASSWORD": password},
        )  # fmt: skip
        port = free_port()
        owner = make_engine(
            live_settings.with_(database_url=_on_port(owner_url, port), db_role="")
        ).execution_options(isolation_level="AUTOCOMMIT")
        node = Standby(port, base / "data", owner)
        stack.callback(owner.dispose)
        stack.callback(_stop_quietly, node)
        node.start()
        yield node


def _drop_role(primary: Engine, role: str) -> None:
    with primary.connect() as conn:
        conn.execute(text(f"DROP ROLE IF EXISTS {role}"))


def _stop_quietly(node: Standby) -> None:
    subprocess.run(
        [*_as_cluster_user(), str(BIN / "pg_ctl"), "-D", str(node.data), "-m", "immediate",
         "stop"],
        capture_output=True, timeout=60,
    )  # fmt: skip


def _read_url(settings: Settings, port: int) -> str:
    """How the app logs in on the standby: as on the primary, on the standby's port."""
    return _on_port(settings.app_database_url or settings.database_url, port)


@pytest.fixture(scope="module")
def app(live_settings, standby):
    settings = live_settings.with_(
        read_database_urls=(_read_url(live_settings, standby.port),),
        replica_max_lag_seconds=LAG,
    )
    app = create_app(settings)
    yield app
    app.extensions[ROUTER].dispose()


_names = itertools.count()


def _add(client) -> str:
    name = f"备库测试企业{os.getpid()}_{next(_names)}"
    resp = client.post("/api/enterprises", json={"name": name})
    assert resp.status_code == 201, resp.get_data(as_text=True)[:300]
    return name


def _names_read(client) -> set[str]:
    resp = client.get("/api/enterprises")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return {e["name"] for e in resp.get_json()}


def _served_by_standby(standby: Standby, client) -> bool:
    """Whether a read of the enterprises was answered by the standby: one of the app's
    connections there ran it (pg_stat_activity of the standby) while the request ran."""
    started = standby.sql("SELECT clock_timestamp()")
    _names_read(client)
    return bool(
        standby.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'landmap' "
            "AND query ILIKE '%FROM enterprise%' AND state_change >= :t AND pid <> "
            "pg_backend_pid()",
            t=started,
        )
    )


def _soon(condition, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def users(app, live_accounts):
    return {role: client_for(app, live_accounts[role]["token"]) for role in ("viewer", "admin")}


@pytest.fixture
def resumed(standby):
    """The standby replays again after the test, whatever it did."""
    yield
    if standby.sql("SELECT pg_is_wal_replay_paused()"):
        standby.sql("SELECT pg_wal_replay_resume()")


@needs_standby
def test_a_read_is_served_by_the_standby(standby, users):
    assert standby.sql("SELECT pg_is_in_recovery()")
    assert _soon(lambda: _served_by_standby(standby, users["viewer"]))


def _login(app, account) -> object:
    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = {"username": account["name"], "password": account["password"], "csrf_token": token}
    assert browser.post("/login", data=form).status_code == 302
    return browser


@needs_standby
def test_a_writer_reads_its_write_while_others_read_the_lagging_standby(
    app, standby, users, live_settings, live_accounts, resumed
):
    schema = live_settings.db_schema
    before = _add(users["admin"])
    assert _soon(lambda: standby.has(schema, before))
    assert _soon(lambda: _served_by_standby(standby, users["viewer"]))
    standby.sql("SELECT pg_wal_replay_pause()")
    paused = time.monotonic()

    name = _add(users["admin"])
    assert name in _names_read(users["admin"])  # its writer: from the primary
    assert not standby.has(schema, name)
    assert name not in _names_read(users["viewer"])  # another user: the standby, within LAG
    assert _served_by_standby(standby, users["viewer"])
    # a person who signs in while the standby lags reads from the primary next (signing in
    # wrote): the browser's session cookie says so
    browser = _login(app, live_accounts["planner"])
    assert name in _names_read(browser)
    # and so at any other server process: the session cookie says so
    other = create_app(app.extensions["landmap.settings"])
    try:
        elsewhere = other.test_client()
        elsewhere.set_cookie("session", browser.get_cookie("session").value)
        assert name in _names_read(elsewhere)
    finally:
        other.extensions[ROUTER].dispose()
    assert time.monotonic() - paused < LAG, "too slow to show the lag within its bound"

    # lagging beyond the bound: nobody reads from it
    assert _soon(lambda: name in _names_read(users["viewer"]), LAG + 3)
    assert not standby.has(schema, name)
    assert not _served_by_standby(standby, users["viewer"])

    standby.sql("SELECT pg_wal_replay_resume()")
    assert _soon(lambda: standby.has(schema, name))
    assert _soon(lambda: _served_by_standby(standby, users["viewer"]))
    assert name in _names_read(users["viewer"])


@needs_standby
def test_a_stopped_standby_sends_reads_to_the_primary_and_back_when_it_returns(
    app, standby, users, live_settings
):
    router = app.extensions[ROUTER]
    assert _soon(lambda: _served_by_standby(standby, users["viewer"]))
    # not asked again meanwhile: the read itself finds it gone
    router.check_every = 3600
    standby.stop()
    try:
        for _ in range(3):  # no error: the first finds it gone, the next know it
            _names_read(users["viewer"])
        assert router.replicas[0].down_until > time.monotonic()
        name = _add(users["admin"])
        assert name in _names_read(users["viewer"])  # from the primary
    finally:
        router.check_every = CHECK_EVERY
        standby.start()
    assert _soon(lambda: _served_by_standby(standby, users["viewer"]))
    assert standby.has(live_settings.db_schema, name)


@needs_standby
def test_reads_take_turns_among_the_replicas_that_answer(live_settings, live_accounts, standby):
    read = _read_url(live_settings, standby.port)
    gone = _on_port(read, free_port())  # nothing listens there
    app = create_app(
        live_settings.with_(read_database_urls=(read, gone, read), replica_max_lag_seconds=LAG)
    )
    router = app.extensions[ROUTER]
    try:
        viewer = client_for(app, live_accounts["viewer"]["token"])
        for _ in range(4):
            _names_read(viewer)  # no error while one of three does not answer
        assert _soon(lambda: router.choose() is not None)
        first, second, dead = router.replicas[0], router.replicas[2], router.replicas[1]
        turns = [router.choose() for _ in range(4)]
        assert turns in ([second, first, second, first], [first, second, first, second])
        assert dead.down_until > time.monotonic()
    finally:
        router.dispose()


def test_read_urls_are_read_from_the_environment():
    env = {"DATABASE_URL": "postgresql://u:p@primary/db", "LANDMAP_SECRET_KEY": "k"}
    assert Settings.from_env(env).read_database_urls == ()
    assert Settings.from_env(env).replica_max_lag_seconds == 5.0
    many = "postgresql://u:p@r1/db, postgresql://u:p@r2/db\tpostgresql://u:p@r3:5433/db"
    found = Settings.from_env({**env, "DATABASE_READ_URL": many})
    assert found.read_database_urls == (
        "postgresql://u:p@r1/db",
        "postgresql://u:p@r2/db",
        "postgresql://u:p@r3:5433/db",
    )
    assert "r1" not in repr(found)  # passwords stay out of logs
    lag = Settings.from_env({**env, "LANDMAP_REPLICA_MAX_LAG_SECONDS": "2.5"})
    assert lag.replica_max_lag_seconds == 2.5
    for bad in ({"DATABASE_READ_URL": "mysql://r1/db"}, {"LANDMAP_REPLICA_MAX_LAG_SECONDS": "0"},
                {"LANDMAP_REPLICA_MAX_LAG_SECONDS": "soon"}):  # fmt: skip
        with pytest.raises(ConfigError):
            Settings.from_env({**env, **bad})


def test_a_scripts_recent_write_is_kept_for_the_bound_only():
    now = [100.0]
    recent = RecentWrites(keep=5.0, limit=2, clock=lambda: now[0])
    recent.add("a", 10)
    now[0] += 1
    recent.add("b", 20)
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (10, 20, None)
    now[0] += 4.5
    assert (recent.get("a"), recent.get("b")) == (None, 20)
    recent.add("c", 30)
    recent.add("d", 40)  # at most two: the oldest went first
    assert (recent.get("b"), recent.get("c"), recent.get("d")) == (None, 30, 40)
