"""db backup / db restore: a dump of the register with a manifest, restored into a new
database on the same cluster and checked against the manifest."""

from __future__ import annotations

import json
import os
import secrets
import tarfile
from datetime import date

import pytest
from conftest import free_parcels, invoke
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from landmap.db import backup, make_engine
from landmap.db.engine import make_app_engine
from landmap.demo import load_demo
from landmap.domain import Refused, Stage
from landmap.services import acquisition, documents
from landmap.services.acquisition import Move


@pytest.fixture
def register(scratch):
    """A scratch schema with the demo loaded (committed)."""
    engine = make_app_engine(scratch)
    with Session(engine) as session:
        load_demo(session, scratch)
        session.commit()
    engine.dispose()
    return scratch


@pytest.fixture
def new_database(scratch):
    """The URL of a new, empty database on the owner's cluster, dropped at the end."""
    name = f"landmap_restore_{os.getpid()}_{secrets.token_hex(3)}"
    admin = make_engine(scratch.with_(db_role="")).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(scratch.database_url).set(database=name).render_as_string(False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _snapshot(settings) -> dict:
    engine = make_engine(settings.with_(db_role=""))
    with engine.connect() as conn:
        found = {
            "stages": conn.execute(text("SELECT code, stage FROM parcel ORDER BY code")).all(),
            "history": conn.execute(text("SELECT count(*) FROM stage_change")).scalar(),
            "audit": conn.execute(
                text("SELECT id, entity, key, action, after::text FROM audit_log ORDER BY id")
            ).all(),
        }
    engine.dispose()
    return found


def _move_one(settings) -> str:
    engine = make_app_engine(settings)
    with Session(engine) as session:
        (code,) = free_parcels(session)
        acquisition.move(session, [code], Move(Stage.SURVEYED, date(2012, 3, 1), "测后"), "u")
        session.commit()
    engine.dispose()
    return code


def _document(settings) -> bytes:
    """A move backed by a scan, committed; the scan's bytes."""
    scan = b"%PDF-1.4\n" + secrets.token_bytes(3000)
    engine = make_app_engine(settings)
    with Session(engine) as session:
        (code,) = free_parcels(session)
        docs = documents.store(session, [("协议.pdf", scan)])
        acquisition.move(session, [code], Move(Stage.SURVEYED, date(2012, 2, 1)), "u", docs)
        session.commit()
    engine.dispose()
    return scan


def _documents(settings) -> list:
    engine = make_engine(settings.with_(db_role=""))
    with engine.connect() as conn:
        found = conn.execute(
            text("""SELECT d.file_name, c.content FROM stage_document d
                    JOIN document_content c ON c.sha256 = d.sha256 ORDER BY d.id""")
        ).all()
    engine.dispose()
    return [(name, bytes(content)) for name, content in found]


def test_backup_then_a_move_then_restore_into_a_new_database_gives_the_backed_up_register(
    register, new_database, tmp_path, runner, monkeypatch
):
    monkeypatch.setenv("LANDMAP_LANG", "zh_CN")
    scan = _document(register)
    at_backup = _snapshot(register)
    path = tmp_path / "register.backup"
    made = invoke(runner, register, "db", "backup", str(path))
    assert made.exit_code == 0, made.output
    assert f"备份已写入 {path}" in made.output
    with tarfile.open(path) as tar:
        assert sorted(tar.getnames()) == ["landmap.dump", "manifest.json"]
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["counts"][f"{register.db_schema}.parcel"] == len(at_backup["stages"]) > 0
    assert manifest["revision"] and manifest["landmap_version"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    moved = _move_one(register)
    assert _snapshot(register) != at_backup
    done = invoke(runner, register, "db", "restore", str(path), "--into", new_database)
    assert done.exit_code == 0, done.output
    assert "已恢复" in done.output and "✓ parcels" in done.output and "✗" not in done.output
    restored = register.with_(database_url=new_database)
    assert _snapshot(restored) == at_backup
    assert dict(_snapshot(restored)["stages"])[moved] == "not_started"
    assert _documents(restored) == [("协议.pdf", scan)]  # the documents are in the backup
    checks = backup.verify(restored, manifest)
    assert {c["name"] for c in checks} >= {"parcels", "audit_chain", "stage_history", "revision"}
    assert all(c["ok"] for c in checks)
    # the app's role works on the restored register as it did
    app = make_app_engine(restored.with_(app_database_url=""))
    with app.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar() == "landmap_app"
        assert conn.execute(text("SELECT count(*) FROM parcel")).scalar() > 0
    app.dispose()


def test_a_restore_into_a_database_holding_the_register_is_refused(register, tmp_path):
    path = tmp_path / "b.backup"
    backup.backup(register, path)
    with pytest.raises(Refused) as info:
        backup.restore(register, path)
    assert info.value.code == "restore_target_not_empty"


def test_verification_fails_when_the_restored_register_differs(register, new_database, tmp_path):
    path = tmp_path / "b.backup"
    manifest = backup.backup(register, path)
    backup.restore(register, path, new_database)
    restored = register.with_(database_url=new_database)
    _move_one(restored)
    failed = {c["name"] for c in backup.verify(restored, manifest) if not c["ok"]}
    assert {"parcels", "audit_chain", "stage_history"} <= failed
    assert f"{register.db_schema}.stage_change" in failed


def _rewrite(path, manifest=None, dump=None):
    with tarfile.open(path) as tar:
        old = json.load(tar.extractfile("manifest.json"))
        body = tar.extractfile("landmap.dump").read()
    manifest = manifest(old) if manifest else old
    body = dump(body) if dump else body
    (path.parent / "manifest.json").write_text(json.dumps(manifest))
    (path.parent / "landmap.dump").write_bytes(body)
    with tarfile.open(path, "w") as tar:
        tar.add(path.parent / "manifest.json", arcname="manifest.json")
        tar.add(path.parent / "landmap.dump", arcname="landmap.dump")


def _counts_changed(m):
    m["counts"] = {k: v + 1 for k, v in m["counts"].items()}
    return m


def _revision(m):
    m["revision"] = "9999"
    return m


@pytest.mark.parametrize(
    ("manifest", "dump", "code"),
    [
        (_counts_changed, None, "backup_damaged"),
        (None, lambda b: b[: len(b) // 2], "backup_damaged"),
        (_revision, None, "backup_newer_revision"),
    ],
    ids=["tampered manifest", "truncated dump", "newer revision"],
)
def test_a_damaged_or_newer_backup_is_refused_before_anything_is_restored(
    register, new_database, tmp_path, runner, manifest, dump, code
):
    path = tmp_path / "b.backup"
    backup.backup(register, path)
    _rewrite(path, manifest, dump)
    with pytest.raises(Refused) as info:
        backup.restore(register, path, new_database)
    assert info.value.code == code
    engine = make_engine(register.with_(db_role="", database_url=new_database))
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT to_regnamespace(:s)"), {"s": register.db_schema})
        assert schema.scalar() is None
    engine.dispose()
    r = invoke(runner, register, "db", "restore", str(path), "--into", new_database)
    assert r.exit_code != 0


def test_a_file_that_is_not_a_backup_is_refused(register, tmp_path):
    path = tmp_path / "x.backup"
    path.write_bytes(b"not a tar")
    with pytest.raises(Refused) as info:
        backup.restore(register, path, register.database_url)
    assert info.value.code == "backup_unreadable"


def test_a_failed_check_fails_the_command_and_no_password_is_on_a_command_line(
    register, new_database, tmp_path, runner, monkeypatch
):
    monkeypatch.setenv("LANDMAP_LANG", "zh_CN")
    seen = []
    real_run = backup.subprocess.run

    def run(args, **kw):
        seen.append(args)
        return real_run(args, **kw)

    monkeypatch.setattr(backup.subprocess, "run", run)
    path = tmp_path / "b.backup"
    assert invoke(runner, register, "db", "backup", str(path)).exit_code == 0
    real_verify = backup.verify

    def verify(settings, manifest):
        return [
            *real_verify(settings, manifest),
            {"name": "x", "expected": 1, "found": 2, "ok": False},
        ]

    monkeypatch.setattr(backup, "verify", verify)
    r = invoke(runner, register, "db", "restore", str(path), "--into", new_database)
    assert r.exit_code != 0 and "✗ x: 2" in r.output and "应为 1，实为 2" in r.output
    assert "1 项核对与备份不符" in r.output
    password = make_url(register.database_url).password
    # pg_restore --list reads the dump's contents (no connection), then pg_restore restores
    assert [a[0].rsplit("/", 1)[-1] for a in seen] == ["pg_dump", "pg_restore", "pg_restore"]
    assert password and not any(password in arg for args in seen for arg in args)


@pytest.fixture
def public_register(scratch):
    """A register in the public schema of a database of its own (the default deployment, where
    PostGIS lives in the same schema), and a second empty database to restore into."""
    names = [f"landmap_public_{os.getpid()}_{secrets.token_hex(3)}_{i}" for i in (1, 2)]
    admin = make_engine(scratch.with_(db_role="")).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    urls = [make_url(scratch.database_url).set(database=n).render_as_string(False) for n in names]
    settings = scratch.with_(database_url=urls[0], db_schema="public", app_database_url="")
    from landmap.db import migrate

    migrate.upgrade(settings)
    engine = make_engine(settings.with_(db_role=""))
    with Session(engine) as session:
        load_demo(session, settings)
        session.commit()
    engine.dispose()
    yield settings, urls[1]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_register_in_the_public_schema_restores_into_a_new_database(public_register, tmp_path):
    """The public schema is where PostGIS is: it is neither dropped nor created again."""
    settings, into = public_register
    path = tmp_path / "public.backup"
    backup.backup(settings, path)
    result = backup.restore(settings, path, into)
    assert all(c["ok"] for c in result["checks"]), [c for c in result["checks"] if not c["ok"]]
    assert _snapshot(settings.with_(database_url=into)) == _snapshot(settings)
    with pytest.raises(Refused):  # and not twice
        backup.restore(settings, path, into)
