"""Imports from the browser: an uploaded file is checked by a dry run first and loaded only
when an administrator confirms it, with the same loader and rules as the command line.

Between its dry run and its confirmation the upload is kept in ``var/imports/<id>/``, under a
random id (128 bits, hex; the client's file name is never used on disk), beside what was
asked (layer, coordinate system, encoding, field mapping, create projects) and by whom. The
confirmation loads that file with those choices; its folder is removed whatever happens:
after the load, after a refusal of the load, after a refused dry run. A dry run nobody
confirms is removed by the next upload once it is PENDING_SECONDS old.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap import loaders
from landmap.config import Settings
from landmap.loaders import LoadOptions, LoadReport
from landmap.messages import DEFAULT_LOCALE, msg
from landmap.services import Refused

PENDING_DIR = "imports"
PENDING_SECONDS = 24 * 3600
_ID = re.compile(r"[0-9a-f]{32}")
_ASKED = "asked.json"


@dataclass(frozen=True)
class Asked:
    """What an upload asks for: the layer, the file's name as its sender called it and its
    suffix (what it is opened as), the choices made where the file does not say, by whom."""

    layer: str
    file_name: str
    suffix: str
    by: str
    srs: str | None = None
    encoding: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    create_projects: bool = False
    repair: bool = False

    def options(self, folder: Path, dry_run: bool) -> LoadOptions:
        return LoadOptions(
            srs=self.srs,
            encoding=self.encoding,
            fields=dict(self.fields),
            create_projects=self.create_projects,
            repair=self.repair,
            rejects_path=folder / "rejects.csv",  # removed with the folder
            dry_run=dry_run,
            preview=dry_run,
            run_by=self.by,
            file_name=self.file_name,
        )


def _root(var_dir: Path) -> Path:
    return var_dir / PENDING_DIR


def _not_pending(pending_id: str):
    shown = pending_id[:40]
    return Refused(
        msg(
            "import_not_pending",
            "there is no import %(id)s waiting to be confirmed (it was loaded or refused, or "
            "it has expired): upload the file again",
            id=shown,
        ),
        404,
    )


def _folder(var_dir: Path, pending_id: str) -> Path:
    if not _ID.fullmatch(pending_id):
        raise _not_pending(pending_id)
    return _root(var_dir) / pending_id


def sweep(var_dir: Path, now: float | None = None) -> int:
    """Remove the uploads whose dry run nobody confirmed within PENDING_SECONDS."""
    root, now = _root(var_dir), now or time.time()
    removed = 0
    if root.is_dir():
        for folder in root.iterdir():
            if folder.is_dir() and now - folder.stat().st_mtime > PENDING_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    return removed


def receive(var_dir: Path, asked: Asked, save: Callable[[Path], None]) -> str:
    """Keep an upload (``save`` writes it to the path given) with what it asks for; its id."""
    sweep(var_dir)
    pending_id = secrets.token_hex(16)
    folder = _root(var_dir) / pending_id
    folder.mkdir(mode=0o700, parents=True)
    try:
        save(folder / f"upload{asked.suffix}")
        (folder / _ASKED).write_text(json.dumps(asdict(asked)), encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return pending_id


def discard(var_dir: Path, pending_id: str) -> None:
    shutil.rmtree(_folder(var_dir, pending_id), ignore_errors=True)


def _asked(folder: Path) -> Asked:
    return Asked(**json.loads((folder / _ASKED).read_text(encoding="utf-8")))


def dry_run(session: Session, settings: Settings, pending_id: str) -> LoadReport:
    """The report of loading the upload, with a preview; nothing is written. A refusal
    removes the upload (there is nothing to confirm)."""
    folder = _folder(settings.var_dir, pending_id)
    try:
        asked = _asked(folder)
        options = asked.options(folder, dry_run=True)
        return loaders.load(
            session, settings, asked.layer, folder / f"upload{asked.suffix}", options
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


@contextmanager
def _claimed(var_dir: Path, pending_id: str, by: str) -> Iterator[tuple[Path, Asked]]:
    """The upload, taken (renamed) so that no second confirmation loads it, and removed at
    the end; only whoever uploaded it may confirm it."""
    folder = _folder(var_dir, pending_id)
    claimed = folder.with_name(f"{pending_id}.loading")
    try:
        os.rename(folder, claimed)
    except OSError as exc:
        raise _not_pending(pending_id) from exc
    try:
        asked = _asked(claimed)
        if asked.by != by:
            raise _not_pending(pending_id)
        yield claimed, asked
    finally:
        shutil.rmtree(claimed, ignore_errors=True)


def confirm(session: Session, settings: Settings, pending_id: str, by: str) -> LoadReport:
    """Load the upload (all or nothing, in the session's transaction; the caller commits);
    the import record keeps the report. The upload is removed, loaded or refused."""
    with _claimed(settings.var_dir, pending_id, by) as (folder, asked):
        options = asked.options(folder, dry_run=False)
        return loaders.load(
            session, settings, asked.layer, folder / f"upload{asked.suffix}", options
        )


@dataclass(frozen=True)
class ImportRecord:
    id: int
    layer: str
    file_name: str
    run_by: str
    run_at: str
    records_read: int
    inserted: int
    updated: int
    rejected: int
    total_mu: float
    options: dict
    report: dict | None = None  # in the locale asked for


_COLUMNS = """id, layer, file_name, run_by, to_char(run_at AT TIME ZONE 'Asia/Shanghai',
    'YYYY-MM-DD HH24:MI'), records_read, inserted, updated, rejected, total_mu, options"""


def list_imports(session: Session, limit: int = 100) -> list[ImportRecord]:
    """The newest imports first (China time)."""
    rows = session.execute(
        text(f"SELECT {_COLUMNS} FROM import_run ORDER BY id DESC LIMIT :n"), {"n": limit}
    )
    return [ImportRecord(*row) for row in rows]


def get_import(session: Session, import_id: int, locale: str) -> ImportRecord | None:
    """One import with its report in ``locale`` (None for imports made before reports were
    kept)."""
    row = session.execute(
        text(f"SELECT {_COLUMNS}, report -> :locale FROM import_run WHERE id = :id"),
        {"id": import_id, "locale": "en" if locale.startswith("en") else DEFAULT_LOCALE},
    ).one_or_none()
    return ImportRecord(*row) if row else None
