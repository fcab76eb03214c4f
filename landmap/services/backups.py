"""What the administrators' backups page shows: the last backup, its verification, whether it
is too old, and the recent runs (backup_run, written by `db backup`, `db restore` and
`db verify`: landmap.db.backup). Times are China time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from landmap.db.models import BackupRun
from landmap.domain import CHINA
from landmap.messages import Message
from landmap.services import Result

HISTORY = 20
KINDS = ("backup", "restore", "verify")


@dataclass(frozen=True)
class Check(Result):
    """One thing a restore or verification compared: what the backup said, what was found."""

    name: str
    expected: Any
    found: Any
    ok: bool


@dataclass(frozen=True)
class Run(Result):
    id: int
    kind: str  # backup | restore | verify
    started_at: dt.datetime
    finished_at: dt.datetime
    ok: bool
    file_name: str
    size_bytes: int | None
    dump_sha256: str | None
    revision: str | None
    landmap_version: str | None
    made_at: dt.datetime | None  # when the backup (made, restored or verified) was made
    counts: dict[str, int]
    checksums: dict[str, str]
    checks: tuple[Check, ...]
    problems: tuple[Message, ...]
    run_by: str
    host: str


@dataclass(frozen=True)
class Overview(Result):
    """``last_backup``: the newest backup that was written; ``verification``: the newest
    restore or verification of that same file (by its dump's sha256); ``stale``: no backup,
    or the last one older than ``warn_hours``; ``last_failed``: a backup that failed after
    the last one written."""

    last_backup: Run | None
    verification: Run | None
    last_failed: Run | None
    age_hours: float | None
    warn_hours: int
    stale: bool
    history: tuple[Run, ...]


def _run(row: BackupRun) -> Run:
    checks = tuple(
        Check(str(c.get("name")), c.get("expected"), c.get("found"), bool(c.get("ok")))
        for c in row.checks
        if isinstance(c, dict)
    )
    problems = tuple(
        Message(str(p.get("code")), str(p.get("text")), p.get("params") or {})
        for p in row.problems
        if isinstance(p, dict)
    )
    return Run(
        id=row.id,
        kind=row.kind,
        started_at=row.started_at.astimezone(CHINA),
        finished_at=row.finished_at.astimezone(CHINA),
        ok=row.ok,
        file_name=row.file_name,
        size_bytes=row.size_bytes,
        dump_sha256=row.dump_sha256,
        revision=row.revision,
        landmap_version=row.landmap_version,
        made_at=row.made_at.astimezone(CHINA) if row.made_at else None,
        counts=dict(row.counts),
        checksums=dict(row.checksums),
        checks=checks,
        problems=problems,
        run_by=row.run_by,
        host=row.host,
    )


def history(session: Session, limit: int = HISTORY) -> list[Run]:
    """The newest ``limit`` runs of every kind, newest first."""
    rows = session.scalars(
        select(BackupRun).order_by(BackupRun.finished_at.desc(), BackupRun.id.desc()).limit(limit)
    )
    return [_run(r) for r in rows]


def _newest(session: Session, *where) -> Run | None:
    row = session.scalars(
        select(BackupRun)
        .where(*where)
        .order_by(BackupRun.finished_at.desc(), BackupRun.id.desc())
        .limit(1)
    ).first()
    return _run(row) if row is not None else None


def overview(session: Session, warn_hours: int, now: dt.datetime | None = None) -> Overview:
    now = now or dt.datetime.now(CHINA)
    last = _newest(session, BackupRun.kind == "backup", BackupRun.ok)
    verification = None
    if last is not None and last.dump_sha256:
        verification = _newest(
            session,
            BackupRun.kind.in_(("restore", "verify")),
            BackupRun.dump_sha256 == last.dump_sha256,
        )
    failed = _newest(
        session,
        BackupRun.kind == "backup",
        BackupRun.ok.is_(False),
        *([BackupRun.finished_at > last.finished_at] if last else []),
    )
    # a register restored from a backup holds the state of its snapshot: age from there
    age = (now - (last.made_at or last.finished_at)).total_seconds() / 3600 if last else None
    return Overview(
        last_backup=last,
        verification=verification,
        last_failed=failed,
        age_hours=round(age, 1) if age is not None else None,
        warn_hours=warn_hours,
        stale=age is None or age > warn_hours,
        history=tuple(history(session)),
    )
