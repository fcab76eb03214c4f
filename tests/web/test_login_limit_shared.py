"""The login rate limit holds across server processes and machines: its counters are kept in
the database (table rate_limit, landmap.web.ratelimit), not in each process's memory.

Two apps built by create_app on the same settings stand in for two server processes: each has
engines of its own and commits into the live schema, as served apps do. Each test signs in
from an address of its own (TEST-NET) and removes its counters at the end."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import text

from landmap import create_app
from landmap.config import ConfigError, Settings
from landmap.web.auth import limiter
from landmap.web.ratelimit import KEY_LENGTH, DatabaseStorage, stored_key


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _failed_login(client, name: str) -> int:
    token = _csrf(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"username": name, "password": "x" * 12, "csrf_token": token})
    assert resp.status_code < 500
    return resp.status_code


@pytest.fixture
def address(live_engine) -> Iterator[str]:
    """An address of this test's own; its counters are removed afterwards."""
    addr = f"192.0.2.{uuid.uuid4().int % 250 + 1}"
    yield addr
    with live_engine.begin() as conn:
        conn.execute(text("DELETE FROM rate_limit WHERE key LIKE :k"), {"k": f"%{addr}%"})


@pytest.fixture
def servers(live_settings, address):
    """Two server processes on one database: clients of two apps, from one address."""
    apps = [create_app(live_settings), create_app(live_settings)]
    clients = [a.test_client() for a in apps]
    for c in clients:
        c.environ_base["REMOTE_ADDR"] = address
    return clients


def _counted(live_engine, address: str, name: str) -> int | None:
    with live_engine.connect() as conn:
        return conn.execute(
            text("SELECT count FROM rate_limit WHERE key LIKE :k AND expires_at > now()"),
            {"k": f"%{address}|{name}%"},
        ).scalar()


def test_ten_failed_logins_split_between_two_servers_make_the_eleventh_429_on_either(
    servers, address, live_engine
):
    first, second = servers
    name = f"nobody_{uuid.uuid4().hex[:8]}"
    statuses = [_failed_login(first if i % 2 else second, name) for i in range(10)]
    assert statuses == [200] * 10  # the login page again, with "wrong user name or password"
    assert _counted(live_engine, address, name) == 10  # in the database, both servers' attempts
    assert _failed_login(first, name) == 429
    assert _failed_login(second, name) == 429
    other = f"other_{uuid.uuid4().hex[:8]}"  # another user name from the address: its own count
    assert _failed_login(second, other) == 200


def test_a_window_that_has_ended_counts_nothing(servers, address, live_engine):
    first, second = servers
    name = f"nobody_{uuid.uuid4().hex[:8]}"
    for i in range(10):
        _failed_login(first if i % 2 else second, name)
    assert _failed_login(second, name) == 429
    with live_engine.begin() as conn:  # a minute later, as far as the database can tell
        conn.execute(
            text(
                "UPDATE rate_limit SET expires_at = now() - interval '1 second' WHERE key LIKE :k"
            ),
            {"k": f"%{address}%"},
        )
    assert _failed_login(first, name) == 200
    assert _counted(live_engine, address, name) == 1  # a new window, in the same row


def test_two_storages_count_together_and_a_window_ends(app, db):
    """The storage itself, in the test's transaction: two instances (two processes) share the
    counters; an ended window starts again; clear, prune and long keys."""
    one, two = DatabaseStorage(), DatabaseStorage()
    item = parse("3 per minute")
    with app.app_context():
        a, b = FixedWindowRateLimiter(one), FixedWindowRateLimiter(two)
        assert [a.hit(item, "k1"), b.hit(item, "k1"), a.hit(item, "k1")] == [True] * 3
        assert not b.hit(item, "k1") and not a.test(item, "k1")
        # the refused hit is counted too, as by every storage of `limits`
        assert one.get(item.key_for("k1")) == 4 == two.get(item.key_for("k1"))
        assert time.time() < two.get_expiry(item.key_for("k1")) <= time.time() + 61
        db.execute(text("UPDATE rate_limit SET expires_at = now() - interval '1 second'"))
        assert two.get(item.key_for("k1")) == 0 and a.test(item, "k1")
        assert one.incr("k2", 60) == 1 and one.incr("k2", 60, amount=2) == 3
        one.clear("k2")
        assert two.get("k2") == 0 and one.check()
        long_key = "x" * 1000
        assert two.incr(long_key, 60) == 1 and one.get(long_key) == 1
        assert len(stored_key(long_key)) <= KEY_LENGTH and stored_key("short") == "short"
        db.execute(text("UPDATE rate_limit SET expires_at = now() - interval '1 second'"))
        assert one.prune() >= 2
        assert db.execute(text("SELECT count(*) FROM rate_limit")).scalar_one() == 0


def test_the_storage_is_the_database_by_default_and_memory_when_set(settings, factory):
    create_app(settings, session_factory=factory)
    assert isinstance(limiter.storage, DatabaseStorage)
    create_app(settings.with_(ratelimit_storage="memory://"), session_factory=factory)
    assert isinstance(limiter.storage, MemoryStorage)
    create_app(settings, session_factory=factory)
    assert Settings.from_env({"LANDMAP_RATELIMIT_STORAGE": "memory://"}).ratelimit_storage == (
        "memory://"
    )
    with pytest.raises(ConfigError, match="LANDMAP_RATELIMIT_STORAGE"):
        Settings.from_env({"LANDMAP_RATELIMIT_STORAGE": "redis://elsewhere"})
