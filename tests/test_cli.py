"""The CLI: click's runner in-process, and `python -m landmap` as a user runs it."""

import os
import subprocess
import sys

import pytest
from conftest import invoke
from sqlalchemy import text

from landmap.cli import Ctx
from landmap.config import PROJECT_ROOT, ConfigError, Settings
from landmap.db import make_engine, migrate


def test_upgrade_demo_twice_and_info_on_an_empty_schema(runner, scratch):
    r = invoke(runner, scratch, "db", "upgrade")
    assert r.exit_code == 0 and f"revision {migrate.head(scratch)}" in r.output
    first = invoke(runner, scratch, "demo")
    assert first.exit_code == 0 and "parcels" in first.output and "new" in first.output
    assert "supply, construction, building and statistics rows" in first.output
    second = invoke(runner, scratch, "demo")
    assert second.exit_code == 0 and "nothing changed" in second.output
    info = invoke(runner, scratch, "info")
    assert info.exit_code == 0
    lines = {line.split()[0]: line.split() for line in info.output.splitlines()[1:]}
    assert set(lines) == {"A", "B", "C", "-"}  # "-": the parts outside every zone
    assert sum(int(v[2]) for v in lines.values()) >= 300


def test_python_m_landmap_honours_database_url(scratch):
    env = {
        **os.environ,
        "DATABASE_URL": scratch.database_url,
        "LANDMAP_DB_SCHEMA": scratch.db_schema,
    }

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "landmap", *args],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    assert run("db", "upgrade").returncode == 0
    assert run("demo").returncode == 0
    again = run("demo")
    assert again.returncode == 0 and "nothing changed" in again.stdout
    engine = make_engine(scratch)
    with engine.connect() as conn:
        # one import per demo layer (zones, parcels, land use, farmland), none for the re-run
        assert conn.execute(text("SELECT count(*) FROM import_run")).scalar_one() == 4
    engine.dispose()


def test_help_needs_no_database():
    r = subprocess.run(
        [sys.executable, "-m", "landmap", "--help"],
        cwd=PROJECT_ROOT, env={**os.environ, "DATABASE_URL": ""}, capture_output=True,
        text=True,
    )  # fmt: skip
    assert r.returncode == 0
    for command in ("db", "demo", "serve", "info", "load"):
        assert command in r.stdout


def test_no_database_configured_is_a_clear_error(monkeypatch, tmp_path):
    import landmap.config as config

    monkeypatch.setattr(config, "LOCAL_DB_URL_FILE", tmp_path / "missing")
    try:
        Settings.from_env({})
    except ConfigError as exc:
        assert "scripts/setup.sh" in str(exc) and "DATABASE_URL" in str(exc)
    else:
        raise AssertionError("no error")


def test_a_non_postgres_url_is_refused():
    try:
        Settings.from_env({"DATABASE_URL": "sqlite:///x.db"})
    except ConfigError as exc:
        assert "postgresql://" in str(exc)
    else:
        raise AssertionError("no error")


def test_users_commands(runner, scratch, monkeypatch):
    monkeypatch.setenv("LANDMAP_PASSWORD", "a long enough password")
    assert invoke(runner, scratch, "users", "add", "wang", "--role", "officer").exit_code == 0
    dup = runner.invoke(main_cli(), ["users", "add", "wang", "--role", "officer"],
                        obj=Ctx(scratch))  # fmt: skip
    assert dup.exit_code != 0 and "已有用户" in dup.output
    token = invoke(runner, scratch, "users", "token", "wang").output.strip()
    assert token.startswith("lm_") and len(token) > 30
    listing = invoke(runner, scratch, "users", "list").output
    assert "wang" in listing and "officer" in listing
    assert invoke(runner, scratch, "users", "disable", "wang").exit_code == 0
    engine = make_engine(scratch)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT u.active, count(t.id) FILTER (WHERE t.revoked_at IS NULL)"
                                " FROM app_user u LEFT JOIN api_token t ON t.user_id = u.id"
                                " WHERE u.name = 'wang' GROUP BY u.id")).one()  # fmt: skip
        actors = set(conn.execute(text("SELECT actor FROM audit_log WHERE entity = 'user'")
                                  ).scalars())  # fmt: skip
    engine.dispose()
    assert tuple(row) == (False, 0)
    assert all(a.startswith("cli:") for a in actors)


def test_bad_user_names_are_clear_errors_not_tracebacks(runner, scratch, monkeypatch):
    monkeypatch.setenv("LANDMAP_PASSWORD", "a long enough password")
    for name in ("bad name!", "x\x01y", "a" * 300, "x"):
        result = runner.invoke(main_cli(), ["users", "add", name, "--role", "viewer"],
                               obj=Ctx(scratch))  # fmt: skip
        assert result.exit_code == 1, result.output
        assert "用户名须为" in result.output and "Traceback" not in result.output
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        )


def test_demo_accounts_are_printed(runner, scratch):
    first = invoke(runner, scratch, "users", "demo-accounts")
    assert first.exit_code == 0
    for role in ("viewer", "officer", "planner", "admin"):
        assert f"demo_{role}" in first.output
    again = invoke(runner, scratch, "users", "demo-accounts")
    assert again.output == first.output  # the same passwords, shown again


def main_cli():
    from landmap.cli import main

    return main


def test_info_prints_the_figures_of_api_zones(runner, settings, client, db):
    """Boundary mu, parcels and their mu inside each zone: the same on the CLI as on the API."""
    out = invoke(runner, settings, "info")
    assert out.exit_code == 0
    printed = {r[0]: r[1:4] for r in (line.split() for line in out.output.splitlines()[1:])}
    features = client.get("/api/zones").get_json()["features"]
    assert {f["properties"]["code"] for f in features} == set(printed) - {"-"}
    for f in features:
        p = f["properties"]
        summary = client.get(f"/api/zones/{p['code']}/summary").get_json()
        assert printed[p["code"]] == [f"{p['area_mu']:.2f}", str(p["parcels"]),
                                      f"{p['parcels_mu']:.2f}"]  # fmt: skip
        assert (p["area_mu"], p["parcels_mu"]) == (summary["area_mu"], summary["parcels_mu_inside"])
    # the parts outside every zone complete the register: nothing is counted twice or lost
    total_mu = db.execute(text("SELECT sum(area_mu) FROM parcel")).scalar_one()
    assert sum(float(v[2]) for v in printed.values()) == pytest.approx(total_mu, abs=0.03)
