"""Push, not poll: each server process listens for the database's notifications (migration
0020, landmap.db.notify) and keeps its caches by them — warm tiles, who a token or session is,
the zone codes — with no database round trip, dropping them at once when told; without a live
connection it asks the database each time.

These tests commit (the live schema): notifications are sent only when a transaction commits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import mapbox_vector_tile
import pytest
from conftest import free_parcels, free_port
from sqlalchemy import event, text
from sqlalchemy.orm import Session
from test_tiles import where

from landmap import create_app
from landmap.db import make_engine
from landmap.db.engine import make_app_engine
from landmap.db.notify import listener_for
from landmap.services import users

ROOT = Path(__file__).resolve().parents[2]
DAYS = itertools.count()


@pytest.fixture(scope="module")
def push_app(live_settings, live_accounts):
    app = create_app(live_settings.with_(tile_stale_seconds=3.0))
    assert app.extensions["landmap.push"].wait_live(10), "the listener did not connect"
    return app


@pytest.fixture(scope="module")
def token(live_engine):
    """A token of the live schema's officer, for these tests alone (some revoke theirs)."""
    with Session(live_engine) as s:
        made = users.new_token(s, "t_officer", "push tests")
        s.commit()
    return made


def _client(app, token):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return c


def _new_token(live_engine, label: str) -> str:
    with Session(live_engine) as s:
        made = users.new_token(s, "t_officer", label)
        s.commit()
    return made


@contextlib.contextmanager
def statements(app):
    """The statements the app's engines send while the block runs."""
    sent: list[str] = []
    engines = {app.extensions[k].kw["bind"] for k in ("landmap.sessions", "landmap.read_sessions")}

    def seen(conn, cursor, statement, *args):
        sent.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)


def _toggle_dispute(client, code: str, on: bool):
    day = (dt.date(2012, 1, 1) + dt.timedelta(days=next(DAYS))).isoformat()
    body = {"dispute": on, "reason": "push test", "date": day}
    resp = client.post(f"/api/parcels/{code}/dispute", json=body)
    assert resp.status_code == 201, resp.get_json()


def _disputed(resp, code: str) -> bool:
    layer = mapbox_vector_tile.decode(resp.data)["parcels"]["features"]
    return {f["properties"]["code"]: f["properties"]["dispute"] for f in layer}[code]


def _until(check, seconds: float = 2.0):
    end = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > end:
            return found
        time.sleep(0.02)


@pytest.fixture(scope="module")
def parcel(live_engine):
    """One no other test moves: the last of the free ones."""
    with Session(live_engine) as s:
        free = free_parcels(s, 1000)
    assert free
    return free[-1]


def test_a_warm_tile_and_a_known_token_cost_no_database_round_trip(push_app, token, parcel):
    client = _client(push_app, token)
    z, x, y = where(client, parcel)
    url = f"/tiles/parcels/{z}/{x}/{y}.pbf?zone=C"
    client.get(url)
    with statements(push_app) as sent:
        warm = client.get(url)
    assert warm.status_code == 200 and warm.headers["X-Tile-Cache"] == "hit"
    assert sent == []
    # without the listener the same request asks: who the token is, zones, the tile's token
    quiet = create_app(push_app.extensions["landmap.settings"].with_(listen=False))
    other = _client(quiet, token)
    other.get(url)
    with statements(quiet) as sent:
        assert other.get(url).headers["X-Tile-Cache"] == "hit"
    assert len(sent) == 3


def test_a_change_committed_by_another_process_drops_the_tile_at_once(
    push_app, live_settings, token, parcel
):
    client = _client(push_app, token)
    z, x, y = where(client, parcel)
    url = f"/tiles/parcels/{z}/{x}/{y}.pbf"
    before = client.get(url)
    assert client.get(url).headers["X-Tile-Cache"] == "hit"
    was = _disputed(before, parcel)
    # another server process (its own app, engines and listener is this process's: a real
    # second process is the next test) writes
    _toggle_dispute(_client(create_app(live_settings), token), parcel, not was)
    after = _until(lambda: (r := client.get(url)).headers["X-Tile-Cache"] == "miss" and r)
    assert after, "the tile was not dropped within 2 s"
    assert _disputed(after, parcel) is (not was)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert client.get(url).headers["X-Tile-Cache"] == "hit"


def test_low_zooms_are_served_stale_for_seconds_then_drawn_again_once(
    push_app, live_settings, live_accounts, token, parcel
):
    """A tile at zoom 14 may be served in its previous version for a few seconds after a
    write under it, and is drawn again in the background; zoom 16 is exact at once, and so
    is zoom 14 for the writer."""
    client = _client(push_app, live_accounts["viewer"]["token"])  # not the writer
    _, x, y = where(client, parcel)
    high, low = f"/tiles/parcels/16/{x}/{y}.pbf", f"/tiles/parcels/14/{x >> 2}/{y >> 2}.pbf"
    old_low = client.get(low)
    client.get(high)
    was = _disputed(old_low, parcel)
    writer = create_app(live_settings).test_client()  # a browser: signs in, keeps cookies
    writer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    _toggle_dispute(writer, parcel, not was)
    assert writer.get_cookie("lm_wrote") is not None
    # the writer's own tiles are exact at once, at any zoom (it is another app: the same
    # listener, which heard the write before the writer was answered)
    mine = writer.get(low)
    assert _disputed(mine, parcel) is (not was)
    at_once = client.get(high)
    assert at_once.headers["X-Tile-Cache"] == "miss" and _disputed(at_once, parcel) is (not was)
    stale = client.get(low)
    assert stale.headers["X-Tile-Cache"] == "stale"
    assert stale.headers["ETag"] == old_low.headers["ETag"] and _disputed(stale, parcel) is was
    # a second write within the grace: still the one version, still one drawing to come
    _toggle_dispute(writer, parcel, was)
    _toggle_dispute(writer, parcel, not was)
    assert client.get(low).headers["X-Tile-Cache"] == "stale"
    time.sleep(1.1)  # past the coalescing second: the next request sets the drawing off
    client.get(low)
    fresh = _until(lambda: (r := client.get(low)).headers["X-Tile-Cache"] == "hit" and r, 3)
    assert fresh and _disputed(fresh, parcel) is (not was)
    assert fresh.headers["ETag"] != old_low.headers["ETag"]


def test_never_stale_beyond_the_grace(push_app, live_settings, live_accounts, token, parcel):
    client = _client(push_app, live_accounts["viewer"]["token"])  # not the writer
    _, x, y = where(client, parcel)
    low = f"/tiles/parcels/13/{x >> 3}/{y >> 3}.pbf"
    was = _disputed(client.get(low), parcel)
    _toggle_dispute(_client(create_app(live_settings), token), parcel, not was)
    assert _until(lambda: client.get(low).headers["X-Tile-Cache"] == "stale", 1)
    time.sleep(3.1)  # the grace (3 s in these tests) is over: drawn now, never older
    resp = client.get(low)
    assert resp.headers["X-Tile-Cache"] in ("miss", "hit") and _disputed(resp, parcel) is not was


def test_a_revoked_token_and_a_disabled_user_are_refused_at_once(push_app, live_engine):
    fresh = _new_token(live_engine, "revoked at once")
    client = _client(push_app, fresh)
    assert client.get("/api/zones").status_code == 200
    with statements(push_app) as sent:
        assert client.get("/api/zones").status_code == 200
    assert not any("api_token" in s for s in sent)  # kept: not asked again
    with Session(live_engine) as s:
        assert users.revoke_token(s, fresh)
        s.commit()
    assert _until(lambda: client.get("/api/zones").status_code == 401, 1.0)


def test_a_lost_listen_connection_drops_every_cache_and_asks_the_database(
    push_app, live_settings, live_engine, parcel
):
    fresh = _new_token(live_engine, "lost connection")
    client = _client(push_app, fresh)
    z, x, y = where(client, parcel)
    url = f"/tiles/parcels/{z}/{x}/{y}.pbf"
    client.get(url)
    assert client.get("/api/zones").status_code == 200
    listener = push_app.extensions["landmap.push"]
    owner = make_engine(live_settings.with_(db_role=""))
    try:
        with owner.begin() as conn:
            # the connection is cut, and the token revoked while nobody listens
            conn.execute(
                text("""SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                                 WHERE application_name = 'landmap listen'""")
            )
        assert _until(lambda: not listener.live, 2), "the listener did not notice"
        app_engine = make_app_engine(live_settings)
        with Session(app_engine) as s:
            users.revoke_token(s, fresh)
            s.commit()
        app_engine.dispose()
        # refused whether or not it has listened again since: either way nothing is trusted
        assert client.get("/api/zones").status_code == 401
        assert listener.wait_live(10), "the listener did not reconnect"
        other = _client(push_app, _new_token(live_engine, "after reconnect"))
        other.get(url)
        with statements(push_app) as sent:
            assert other.get(url).headers["X-Tile-Cache"] == "hit"
        assert sent == []
    finally:
        owner.dispose()


def _env(settings, var_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "LANDMAP_DB_SCHEMA": settings.db_schema,
        "LANDMAP_DB_ROLE": settings.db_role,
        "LANDMAP_SECRET_KEY": "push-test",
        "LANDMAP_VAR_DIR": str(var_dir),
    }
    if settings.app_database_url:
        env["LANDMAP_APP_DATABASE_URL"] = settings.app_database_url
    return env


def _status(port: int, token: str) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/api/zones", headers={"Authorization": f"Bearer {token}"})
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def test_a_token_revoked_with_the_cli_is_refused_by_two_server_processes_within_a_second(
    live_settings, live_accounts, live_engine, tmp_path
):
    fresh = _new_token(live_engine, "two servers")
    env = _env(live_settings, tmp_path)
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "landmap", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for port in ports
    ]
    try:
        for port in ports:
            assert _until(lambda p=port: _status(p, fresh) == 200, 120), f"server {port} is not up"
        time.sleep(0.5)  # both listening (they connect at their first request)
        for port in ports:
            assert [_status(port, fresh) for _ in range(3)] == [200, 200, 200]
        done = subprocess.run(
            [sys.executable, "-m", "landmap", "users", "revoke", fresh],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        revoked_at = time.monotonic()
        for port in ports:
            assert _until(lambda p=port: _status(p, fresh) == 401, 1.0), port
        assert time.monotonic() - revoked_at < 1.0
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(10)


def test_sync_is_heard_when_live_and_refused_quietly_otherwise(live_settings):
    listener = listener_for(live_settings.database_url, live_settings.db_schema + "_nobody")
    assert listener.wait_live(10)
    assert listener.sync(2.0) is True


def test_project_progress_is_kept_until_the_register_changes(push_app, live_settings, token):
    client = _client(push_app, token)
    with Session(make_app_engine(live_settings)) as s:
        code, project, batch = s.execute(
            text("""SELECT code, project_id, batch_id FROM parcel
                    WHERE batch_id IS NOT NULL AND stage = 'not_started'
                      AND NOT EXISTS (SELECT 1 FROM stage_change c WHERE c.parcel_id = parcel.id)
                    ORDER BY code DESC OFFSET 1 LIMIT 1""")
        ).one()
    url = f"/api/projects/{project}/progress?batch={batch}&as_of=2026-06-30"
    first = client.get(url).get_json()
    with statements(push_app) as sent:
        assert client.get(url).get_json() == first
    assert sent == []
    moved = _client(create_app(live_settings), token).post(
        f"/api/parcels/{code}/stage", json={"stage": "pre_announced", "date": "2026-06-01"}
    )
    assert moved.status_code == 201, moved.get_json()
    after = _until(lambda: (b := client.get(url).get_json()) != first and b, 1.0)
    assert after, "progress did not change within 1 s"
    assert after["mu_by_stage"]["pre_announced"] > first["mu_by_stage"]["pre_announced"]
