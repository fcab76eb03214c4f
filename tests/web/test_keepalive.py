"""No request fails because the server closed an idle keep-alive connection that a client (a
load balancer) was reusing: under gunicorn with landmap/gunicorn_conf.py, a connection idle
for longer than gunicorn's default keepalive (2 s) still takes a POST; without that file the
same sequence fails, which shows that the test can tell the difference (issue 18)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port

from landmap.config import KEEPALIVE_DEFAULT_S, ConfigError, keepalive_seconds

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
IDLE_S = 3  # longer than gunicorn's default keepalive of 2 s
CLOSED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _environment(settings, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LANDMAP_KEEPALIVE"}
    return {
        **env,
        "DATABASE_URL": settings.database_url,
        "LANDMAP_APP_DATABASE_URL": settings.app_database_url,
        "LANDMAP_DB_SCHEMA": settings.db_schema,
        "LANDMAP_DB_ROLE": settings.db_role,
        "LANDMAP_VAR_DIR": str(var_dir),
        "LANDMAP_SECRET_KEY": "test-secret",
    }


def _wait_up(port: int, server: subprocess.Popen, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if server.poll() is not None:
            raise AssertionError(f"gunicorn on port {port} exited with {server.returncode}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise AssertionError(f"gunicorn on port {port} did not answer /healthz")


@pytest.fixture(scope="module")
def servers(live_settings, live_accounts, tmp_path_factory) -> Iterator[dict[str, int]]:
    """Two real gunicorns on the live schema: with landmap's config file, and without."""
    started: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        for name, conf in (("landmap", ["-c", "landmap/gunicorn_conf.py"]), ("default", [])):
            port = free_port()
            env = _environment(live_settings, tmp_path_factory.mktemp(f"keepalive-{name}"))
            cmd = [str(GUNICORN), *conf, "-w", "1", "-k", "gthread", "--threads", "2",
                   "--no-control-socket", "-b", f"127.0.0.1:{port}",
                   "landmap:create_app()"]  # fmt: skip
            server = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            started[name] = (server, port)
        for server, port in started.values():
            _wait_up(port, server)
        yield {name: port for name, (_, port) in started.items()}
    finally:
        for server, _ in started.values():
            server.terminate()
            server.wait(timeout=30)


def _idle_then_post(port: int, token: str) -> tuple[int, dict, bool]:
    """GET, idle IDLE_S seconds, then a POST on the same connection: its status, its JSON and
    whether the same socket carried both."""
    auth = {"Authorization": f"Bearer {token}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/stages", headers=auth)
        first = conn.getresponse()
        first.read()
        assert first.status == 200
        assert not first.will_close  # a keep-alive connection to reuse
        sock = conn.sock
        time.sleep(IDLE_S)
        body = json.dumps({"codes": ["430802003032JA00065", "NO-SUCH-PARCEL"]})
        conn.request("POST", "/api/parcels/select", body=body,
                     headers={**auth, "Content-Type": "application/json"})  # fmt: skip
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read()), conn.sock is sock
    finally:
        conn.close()


def test_an_idle_keepalive_connection_still_takes_a_post(servers, live_accounts):
    status, found, same = _idle_then_post(servers["landmap"], live_accounts["officer"]["token"])
    assert status == 200
    assert same  # not a new connection opened behind the test's back
    assert found["count"] == 1 and found["unknown"] == ["NO-SUCH-PARCEL"]


def test_gunicorns_default_closes_it_which_the_test_would_see(servers, live_accounts):
    with pytest.raises(CLOSED):
        _idle_then_post(servers["default"], live_accounts["officer"]["token"])


def test_the_keepalive_setting():
    assert keepalive_seconds({}) == KEEPALIVE_DEFAULT_S > 60  # a balancer's idle timeout
    assert keepalive_seconds({"LANDMAP_KEEPALIVE": "120"}) == 120
    for bad in ("0", "-5", "7.5", "forever", "99999"):
        with pytest.raises(ConfigError, match="LANDMAP_KEEPALIVE"):
            keepalive_seconds({"LANDMAP_KEEPALIVE": bad})
