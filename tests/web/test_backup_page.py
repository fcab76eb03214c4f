"""The administrators' backups page (/admin/backups, /api/admin/backups): the last backup as
`db backup` made it (the figures of its manifest), its verification, a warning when there is
none or it is old, the recent runs; in Chinese, in English on the switch; admins only."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import tarfile

import pytest
from conftest import _add_accounts, client_for, invoke
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap import create_app
from landmap.db import make_engine
from landmap.db.engine import make_app_engine
from landmap.demo import load_demo


@pytest.fixture
def office(scratch):
    """A register of its own (demo and accounts committed): the backup commands commit."""
    engine = make_app_engine(scratch)
    with Session(engine) as session:
        load_demo(session, scratch)
        session.commit()
    accounts = _add_accounts(engine)
    engine.dispose()
    app = create_app(scratch)
    return scratch, client_for(app, accounts["admin"]["token"]), app, accounts


def _backed_up(runner, settings, path) -> dict:
    made = invoke(runner, settings, "db", "backup", str(path))
    assert made.exit_code == 0, made.output
    with tarfile.open(path) as tar:
        return json.load(tar.extractfile("manifest.json"))


def _cells(page: str, table_id: str) -> dict[str, list[str]]:
    """The rows of the table ``table_id`` by their data-table/data-name, as cell texts."""
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for key, row in re.findall(r'<tr data-(?:table|name)="([^"]+)"[^>]*>(.*?)</tr>', body, re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        rows[html.unescape(key)] = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]
    return rows


def test_the_page_shows_the_last_backup_with_its_manifest_figures_in_chinese(
    office, runner, tmp_path, monkeypatch
):
    monkeypatch.setenv("LANDMAP_LANG", "zh_CN")
    settings, client, _, _ = office
    path = tmp_path / "landmap-2026-12-02.backup"
    manifest = _backed_up(runner, settings, path)
    page = client.get("/admin/backups")
    assert page.status_code == 200
    text_ = page.get_data(as_text=True)
    assert "最近一次备份" in text_ and "备份核验" in text_ and "定时备份" in text_
    assert "此备份尚未核验" in text_ and 'id="backup-warning"' not in text_
    assert ">landmap-2026-12-02.backup<" in text_ and str(tmp_path) not in text_
    assert f"{path.stat().st_size:,} 字节" in text_
    assert f'<td id="backup-revision">{manifest["revision"]}</td>' in text_
    counts = _cells(text_, "backup-counts")
    assert {t: int(c[1]) for t, c in counts.items()} == manifest["counts"]
    assert counts[f"{settings.db_schema}.parcel"][1] != "0"
    sums = _cells(text_, "backup-checksums")
    assert {n: c[1] for n, c in sums.items()} == manifest["checksums"]
    assert sums["parcels"][0] == "宗地校验和"
    made = dt.datetime.fromisoformat(manifest["made_at"]).astimezone(
        dt.timezone(dt.timedelta(hours=8))
    )
    assert f'<td id="backup-made">{made:%Y-%m-%d %H:%M:%S}</td>' in text_
    assert "README.md" in text_ and "db backup" in text_  # how to schedule it
    # the nav links the page for an administrator
    assert 'href="/admin/backups">备份</a>' in client.get("/").get_data(as_text=True)
    # the same as JSON
    body = client.get("/api/admin/backups").get_json()
    last = body["last_backup"]
    assert last["counts"] == manifest["counts"] and last["checksums"] == manifest["checksums"]
    assert last["size_bytes"] == path.stat().st_size and last["revision"] == manifest["revision"]
    assert last["dump_sha256"] == manifest["dump_sha256"] and last["ok"] is True
    assert last["file_name"] == path.name and last["finished_at"].endswith("+08:00")
    assert body["verification"] is None and body["stale"] is False and body["warn_hours"] == 24
    assert [r["kind"] for r in body["history"]] == ["backup"]


def test_a_verified_backup_shows_its_checks_passed(office, runner, tmp_path, monkeypatch):
    monkeypatch.setenv("LANDMAP_LANG", "zh_CN")
    settings, client, _, _ = office
    path = tmp_path / "b.backup"
    manifest = _backed_up(runner, settings, path)
    checked = invoke(runner, settings, "db", "verify", str(path))
    assert checked.exit_code == 0, checked.output
    assert "完好，转储可读" in checked.output and "✗" not in checked.output
    text_ = client.get("/admin/backups").get_data(as_text=True)
    assert "此备份尚未核验" not in text_
    assert re.search(r'id="verification-result"><span class="text-success lm-ok">通过', text_)
    checks = _cells(text_, "verification-checks")
    assert set(checks) == {"file", "manifest_md5", "dump_sha256", "revision", "contents"}
    assert checks["contents"][0] == "转储中含数据的表"
    assert checks["contents"][1] == checks["contents"][2] == str(len(manifest["counts"]))
    assert all(c[3] == "通过" for c in checks.values())
    body = client.get("/api/admin/backups").get_json()
    assert body["verification"]["kind"] == "verify" and body["verification"]["ok"] is True
    assert body["verification"]["dump_sha256"] == manifest["dump_sha256"]
    assert [r["kind"] for r in body["history"]] == ["verify", "backup"]


def test_a_damaged_backup_fails_its_verification_on_the_page(office, runner, tmp_path, monkeypatch):
    monkeypatch.setenv("LANDMAP_LANG", "zh_CN")
    settings, client, _, _ = office
    path = tmp_path / "b.backup"
    _backed_up(runner, settings, path)
    with tarfile.open(path) as tar:
        manifest = tar.extractfile("manifest.json").read()
        dump = tar.extractfile("landmap.dump").read()
    (tmp_path / "manifest.json").write_bytes(manifest)
    (tmp_path / "landmap.dump").write_bytes(dump[: len(dump) // 2])
    with tarfile.open(path, "w") as tar:
        tar.add(tmp_path / "manifest.json", arcname="manifest.json")
        tar.add(tmp_path / "landmap.dump", arcname="landmap.dump")
    checked = invoke(runner, settings, "db", "verify", str(path))
    assert checked.exit_code != 0 and "✗ dump_sha256" in checked.output
    assert "项核对未通过" in checked.output
    text_ = client.get("/admin/backups").get_data(as_text=True)
    assert re.search(r'id="verification-result"><span class="text-danger lm-failed">未通过', text_)
    checks = _cells(text_, "verification-checks")
    assert checks["dump_sha256"][3] == "未通过" and checks["manifest_md5"][3] == "通过"
    assert "备份有" in text_ and "项核对未通过" in text_  # the problem, in the history too
    assert client.get("/api/admin/backups").get_json()["verification"]["ok"] is False


def test_no_backup_is_a_warning(client):
    page = client.get("/admin/backups")
    assert page.status_code == 200
    text_ = page.get_data(as_text=True)
    assert 'id="backup-warning"' in text_ and "本数据库中没有备份记录" in text_
    assert 'id="last-backup"' not in text_ and "没有记录。" in text_
    body = client.get("/api/admin/backups").get_json()
    assert body["last_backup"] is None and body["stale"] is True and body["history"] == []


def _old_backup(settings, hours: int) -> None:
    """A backup recorded ``hours`` ago (the owner writes backup_run; nobody else may)."""
    owner = make_engine(settings.with_(db_role=""))
    with owner.begin() as conn:
        conn.execute(
            text("""INSERT INTO backup_run (kind, started_at, finished_at, ok, file_name,
                        size_bytes, dump_sha256, revision, made_at, counts, checksums, checks,
                        problems, run_by, host)
                    VALUES ('backup', now() - make_interval(hours => :h),
                        now() - make_interval(hours => :h), true, 'old.backup', 1000,
                        repeat('a', 64), '0023', now() - make_interval(hours => :h),
                        '{}', '{}', '[]', '[]', 'cli:test', 'host')"""),
            {"h": hours},
        )
    owner.dispose()


def test_a_backup_older_than_the_setting_is_a_warning_until_a_new_one(
    office, runner, tmp_path, monkeypatch
):
    settings, client, _, accounts = office
    _old_backup(settings, 30)
    text_ = client.get("/admin/backups").get_data(as_text=True)
    assert "最近一次备份已是 30.0 小时前，超过 24 小时" in text_
    # LANDMAP_BACKUP_WARN_HOURS
    monkeypatch.setenv("LANDMAP_BACKUP_WARN_HOURS", "48")
    from landmap.config import Settings

    longer = settings.with_(backup_warn_hours=Settings.from_env().backup_warn_hours)
    relaxed = client_for(create_app(longer), accounts["admin"]["token"])
    assert 'id="backup-warning"' not in relaxed.get("/admin/backups").get_data(as_text=True)
    assert relaxed.get("/api/admin/backups").get_json()["warn_hours"] == 48
    _backed_up(runner, settings, tmp_path / "new.backup")
    text_ = client.get("/admin/backups").get_data(as_text=True)
    assert 'id="backup-warning"' not in text_ and ">new.backup<" in text_


def test_a_failed_backup_is_shown(office, runner, tmp_path, monkeypatch):
    monkeypatch.setenv("LANDMAP_LANG", "zh_CN")
    settings, client, _, _ = office
    from landmap.db import backup

    monkeypatch.setattr(backup, "_tool", lambda name: "/bin/false")
    failed = invoke(runner, settings, "db", "backup", str(tmp_path / "x.backup"))
    assert failed.exit_code != 0
    text_ = client.get("/admin/backups").get_data(as_text=True)
    assert 'id="backup-failed"' in text_ and "的备份失败" in text_ and "pg_dump" in text_
    assert "本数据库中没有备份记录" in text_  # none written, still
    body = client.get("/api/admin/backups").get_json()
    assert body["last_failed"]["ok"] is False and body["last_backup"] is None


def test_english_with_the_language_switch(office, runner, tmp_path):
    settings, client, _, _ = office
    path = tmp_path / "b.backup"
    _backed_up(runner, settings, path)
    assert invoke(runner, settings, "db", "verify", str(path)).exit_code == 0
    switched = client.get("/lang/en?next=/admin/backups")
    assert switched.status_code == 302 and switched.headers["Location"].endswith("/admin/backups")
    text_ = client.get("/admin/backups").get_data(as_text=True)
    assert "Last backup" in text_ and "Its verification" in text_ and "Scheduling backups" in text_
    assert f"{path.stat().st_size:,} bytes" in text_ and "Passed" in text_
    assert (
        _cells(text_, "verification-checks")["contents"][0] == "Tables with their data in the dump"
    )
    assert not re.search(r"[\u4e00-\u9fff]", text_.split('id="backups"', 1)[1].split("<pre", 1)[0])


@pytest.mark.parametrize("role", ["viewer", "officer", "planner"])
def test_only_administrators_see_backups(app, accounts, role):
    other = client_for(app, accounts[role]["token"])
    assert other.get("/admin/backups").status_code == 403
    assert other.get("/api/admin/backups").status_code == 403
    assert 'href="/admin/backups"' not in other.get("/").get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in(anonymous):
    assert anonymous.get("/api/admin/backups").status_code == 401
    page = anonymous.get("/admin/backups")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
