"""Backups, restores and verifications recorded in backup_run (migration 0023): where each is
recorded, that a restored register keeps the history of its source, that the manifest and the
dump are one snapshot, and that only the owner writes the record, and never changes it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from test_backup import _move_one, _snapshot, new_database, register  # noqa: F401

from landmap.db import backup, make_engine
from landmap.db.engine import make_app_engine
from landmap.services import backups

RUNS = "SELECT kind, ok, file_name, dump_sha256 FROM backup_run ORDER BY id"


def _runs(settings) -> list[tuple]:
    engine = make_engine(settings.with_(db_role=""))
    with engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(text(RUNS))]
    engine.dispose()
    return found


def test_a_restore_keeps_the_history_and_records_its_checks_in_both_databases(
    register,  # noqa: F811
    new_database,  # noqa: F811
    tmp_path,
):
    first = backup.backup(register, tmp_path / "first.backup")
    second = backup.backup(register, tmp_path / "second.backup")
    assert _runs(register) == [
        ("backup", True, "first.backup", first["dump_sha256"]),
        ("backup", True, "second.backup", second["dump_sha256"]),
    ]
    assert not any("backup_run" in table for table in second["counts"])
    done = backup.restore(register, tmp_path / "second.backup", new_database)
    assert all(c["ok"] for c in done["checks"]) and done["recorded_in_configured"] is True
    restored = register.with_(database_url=new_database)
    sha = second["dump_sha256"]
    assert _runs(restored) == [
        ("backup", True, "first.backup", first["dump_sha256"]),  # in the dump
        ("backup", True, "second.backup", sha),  # the backup restored, from its manifest
        ("restore", True, "second.backup", sha),
    ]
    assert _runs(register)[-1] == ("restore", True, "second.backup", sha)
    engine = make_app_engine(restored.with_(app_database_url=""))
    with Session(engine) as session:
        seen = backups.overview(session, warn_hours=24)
    engine.dispose()
    assert seen.last_backup.dump_sha256 == sha and seen.last_backup.counts == second["counts"]
    assert seen.verification.kind == "restore" and seen.verification.ok
    names = {c.name for c in seen.verification.checks}
    assert {"revision", "parcels", "audit_chain", f"{register.db_schema}.parcel"} <= names
    assert not seen.stale
    # the configured database records a restore of a backup it did not make nowhere else
    _move_one(restored)
    foreign = backup.backup(restored, tmp_path / "foreign.backup")
    before = _runs(register)
    other = register.with_(database_url=new_database)
    engine = make_engine(other.with_(db_role=""))
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{register.db_schema}" CASCADE'))
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{register.db_schema}_gis" CASCADE'))
    engine.dispose()
    again = backup.restore(register, tmp_path / "foreign.backup", new_database)
    assert again["recorded_in_configured"] is False and _runs(register) == before
    assert _runs(restored)[-1] == ("restore", True, "foreign.backup", foreign["dump_sha256"])


def test_the_manifest_and_the_dump_are_one_snapshot(
    register,  # noqa: F811
    new_database,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """A write that lands after the manifest is read and before pg_dump starts is in
    neither: the restored register passes its checks."""
    at_backup = _snapshot(register)
    real_run = backup._run
    moved = []

    def run(tool, url, *args):
        if tool == "pg_dump":
            moved.append(_move_one(register))
        return real_run(tool, url, *args)

    monkeypatch.setattr(backup, "_run", run)
    manifest = backup.backup(register, tmp_path / "b.backup")
    assert moved and _snapshot(register) != at_backup
    assert manifest["counts"][f"{register.db_schema}.stage_change"] == at_backup["history"]
    monkeypatch.setattr(backup, "_run", real_run)
    done = backup.restore(register, tmp_path / "b.backup", new_database)
    assert [c for c in done["checks"] if not c["ok"]] == []
    assert _snapshot(register.with_(database_url=new_database)) == at_backup


def test_only_the_owner_records_runs_and_nobody_changes_them(register, tmp_path):  # noqa: F811
    backup.backup(register, tmp_path / "b.backup")
    app = make_app_engine(register)
    with app.connect() as conn, pytest.raises(DBAPIError, match="owner of the register only"):
        conn.execute(
            text("""INSERT INTO backup_run (kind, started_at, finished_at, ok, file_name,
                    counts, checksums, checks, problems, run_by, host)
                    VALUES ('backup', now(), now(), false, 'x', '{}', '{}', '[]',
                    '[{"code": "x"}]', 'me', 'h')""")
        )
    app.dispose()
    owner = make_engine(register.with_(db_role=""))
    for sql in ("UPDATE backup_run SET ok = false", "DELETE FROM backup_run"):
        with owner.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(sql))
    with owner.connect() as conn, pytest.raises(DBAPIError, match="backup_run_check"):
        conn.execute(  # passed with a problem: not what the CHECK allows
            text("""INSERT INTO backup_run (kind, started_at, finished_at, ok, file_name,
                    counts, checksums, checks, problems, run_by, host)
                    VALUES ('verify', now(), now(), true, 'x', '{}', '{}', '[]',
                    '[{"code": "x"}]', 'me', 'h')""")
        )
    owner.dispose()
    assert len(_runs(register)) == 1
