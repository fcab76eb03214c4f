"""`db backup` and `db restore`: pg_dump of landmap's schemas with a manifest that says what
the dump holds, and a restore that checks the register it gave against that manifest.

A backup FILE is one uncompressed tar holding ``manifest.json`` and ``landmap.dump`` (pg_dump's
custom format, compressed itself): landmap's schema and the GIS views' schema, nothing else of
the database. The manifest records landmap's version, the migration revision, counts per
table, md5 checksums of the parcels (code, stage, geometry WKB by code), of the stage history
and of the audit chain (rows by id), the dump's sha256 and a digest of the manifest itself.
The manifest and the dump are read in one snapshot (pg_dump --snapshot): a write while the
backup runs is in both or in neither.

Each run is recorded in ``backup_run`` (migration 0023) for the administrators' page: a backup
(or its failure) in the database backed up; a restore, with what it checked, in the database
restored into, after the checks (which it does not count: backup_run is the record of backing
up itself), together with the backup it came from as the manifest describes it; a restore into
another database also in the configured one when that recorded making the backup; `db verify`
(the file read and its dump listed, nothing restored) in the configured database.

The owner's password goes to pg_dump and pg_restore in PGPASSWORD, never on a command line."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from landmap.config import PROJECT_ROOT, Settings
from landmap.db import migrate
from landmap.db.engine import make_engine
from landmap.domain import Refused
from landmap.messages import Message, msg

MANIFEST = "manifest.json"
DUMP = "landmap.dump"
FORMAT = 1
PG_BIN = Path("/usr/lib/postgresql")
# what is summed in one md5 each: rows in a fixed order, as text in UTC
CHECKSUMS = {
    "parcels": "SELECT md5(coalesce(string_agg(code || '|' || stage || '|' || "
    "encode(ST_AsBinary(geom), 'hex'), E'\\n' ORDER BY code), '')) FROM parcel",
    "stage_history": "SELECT md5(coalesce(string_agg(s::text, E'\\n' ORDER BY s.id), '')) "
    "FROM stage_change s",
    "audit_chain": "SELECT md5(coalesce(string_agg(a::text, E'\\n' ORDER BY a.id), '')) "
    "FROM audit_log a",
}
RUNS = "backup_run"  # the record of backups: not counted (backing up and restoring change it)


def backup(settings: Settings, path: str | Path) -> dict[str, Any]:
    """Dump landmap's schemas to ``path`` (a tar of dump and manifest); returns the manifest.
    The backup, or its refusal, is recorded in the database backed up."""
    owner = settings.with_(db_role="")
    path = Path(path)
    started = _now()
    try:
        manifest = _backup(owner, path, started)
    except Refused as exc:
        run = {"kind": "backup", "started_at": started, "file_name": path.name}
        _record_quietly(owner, {**run, "problems": [exc.message]})
        raise
    _record(owner, _backup_run(manifest, path, started))
    return manifest


def _backup(owner: Settings, path: Path, started: dt.datetime) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as work:
        dump = Path(work) / DUMP
        with _connect(owner) as conn:
            schemas = _schemas(conn, owner.db_schema)
            extensions = _extensions(conn)
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            conn.commit()
            with conn.execution_options(isolation_level="REPEATABLE READ").begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
                made_at = conn.execute(text("SELECT now()")).scalar()
                state = _read_state(conn, schemas)
                args = [f"--schema={s}" for s in schemas]
                _run("pg_dump", owner.database_url, "--format=custom", f"--snapshot={snapshot}",
                     *args, f"--file={dump}")  # fmt: skip
        manifest = {
            "format": FORMAT,
            "landmap_version": landmap_version(),
            "revision": revision,
            "made_at": made_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "started_at": started.isoformat(timespec="seconds"),
            "made_by": _who(),
            "host": socket.gethostname(),
            "schema": owner.db_schema,
            "schemas": schemas,
            "extensions": extensions,
            **state,
            "dump_sha256": _sha256(dump),
        }
        manifest["manifest_md5"] = _digest(manifest)
        _write(path, manifest, dump)
    return manifest


def restore(settings: Settings, path: str | Path, into_url: str | None = None) -> dict[str, Any]:
    """Restore the backup at ``path`` into ``into_url`` (default: the configured database,
    which must not hold landmap's schema yet), then check it against the manifest. Returns
    the manifest and ``checks``: each {"name", "expected", "found", "ok"}."""
    target = settings.with_(db_role="", database_url=into_url or settings.database_url)
    started = _now()
    with tempfile.TemporaryDirectory() as work:
        manifest, dump = _read(Path(path), Path(work))
        _check_revision(settings, manifest)
        _check_integrity(manifest, dump)
        target = target.with_(db_schema=manifest["schema"])
        with _connect(target) as conn:
            _prepare(conn, manifest)
        listing = _restore_list(dump, Path(work))
        _run("pg_restore", target.database_url, "--no-owner", "--no-acl", "--exit-on-error",
             "--single-transaction", f"--use-list={listing}", str(dump))  # fmt: skip
    migrate.grant_app_role(target.with_(db_role=settings.db_role))
    migrate.grant_gis_role(target)
    checks = verify(target, manifest)
    run = _checked_run("restore", manifest, started, Path(path), checks)
    _record(target, _backup_run(manifest, Path(path)))
    _record(target, run)
    source = settings.with_(db_role="")
    same = (make_url(target.database_url), target.db_schema) == (
        make_url(source.database_url),
        source.db_schema,
    )
    recorded = not same and _record_if_made_there(source, run)
    return {**manifest, "checks": checks, "recorded_in_configured": recorded}


def verify_file(settings: Settings, path: str | Path) -> dict[str, Any]:
    """Check the backup at ``path`` without restoring it: a landmap backup, its manifest and
    dump as written, of a revision this landmap knows, its dump's table of contents readable
    (pg_restore --list) with the data of every table the manifest counts. Recorded in the
    configured database. Returns the manifest (empty when unreadable) and ``checks``."""
    path = Path(path)
    started = _now()
    manifest: dict[str, Any] = {}
    checks: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as work:
        try:
            manifest, dump = _read(path, Path(work))
            checks.append(_check("file", True, True))
            checks += _integrity_checks(manifest, dump)
            checks.append(_check("revision", True, _known_revision(settings, manifest)))
            checks.append(_contents_check(manifest, dump))
        except (Refused, KeyError, TypeError, AttributeError, ValueError):
            checks = [_check("file", True, False)]
    run = _checked_run("verify", manifest, started, path, checks)
    _record(settings.with_(db_role=""), run)
    return {**manifest, "checks": checks}


def verify(settings: Settings, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The counts and checksums of the register at ``settings`` against the manifest's."""
    with _connect(settings.with_(db_role="")) as conn:
        found = _state(conn, manifest["schemas"])
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    checks = [{"name": "revision", "expected": manifest["revision"], "found": revision}]
    for name, expected in manifest["checksums"].items():
        checks.append({"name": name, "expected": expected, "found": found["checksums"][name]})
    for table, expected in manifest["counts"].items():
        checks.append({"name": table, "expected": expected, "found": found["counts"].get(table)})
    return [{**c, "ok": c["expected"] == c["found"]} for c in checks]


def _check(name: str, expected: Any, found: Any) -> dict[str, Any]:
    return {"name": name, "expected": expected, "found": found, "ok": expected == found}


def _integrity_checks(manifest: dict[str, Any], dump: Path) -> list[dict[str, Any]]:
    return [
        _check("manifest_md5", manifest.get("manifest_md5"), _digest(manifest)),
        _check("dump_sha256", manifest.get("dump_sha256"), _sha256(dump)),
    ]


def _contents_check(manifest: dict[str, Any], dump: Path) -> dict[str, Any]:
    """How many of the tables the manifest counts have their data in the dump's contents."""
    try:
        listed = set(re.findall(r" TABLE DATA (\S+) (\S+) ", _listing(dump)))
    except Refused:
        listed = set()
    tables = [tuple(name.split(".", 1)) for name in manifest["counts"]]
    return _check("contents", len(tables), sum(t in listed for t in tables))


def _checked_run(
    kind: str, manifest: dict[str, Any], started: dt.datetime, path: Path, checks: list
) -> dict[str, Any]:
    """The record of a restore or verification of the backup ``manifest`` describes."""
    failed = sum(not c["ok"] for c in checks)
    problems = []
    if failed:
        problems.append(
            msg(
                "restore_check_failed",
                "%(n)s checks of the restored register do not match its backup",
                n=str(failed),
            )
            if kind == "restore"
            else msg("verify_check_failed", "%(n)s checks of the backup failed", n=str(failed))
        )
    return {
        **_described(manifest, path),
        "kind": kind,
        "started_at": started,
        "checks": checks,
        "problems": problems,
    }


def _backup_run(manifest: dict[str, Any], path: Path, started: dt.datetime | None = None):
    """The record of the backup ``manifest`` describes: made just now (``started`` given), or,
    in a register restored from it, as its manifest tells (ended at its snapshot)."""
    made_at = _made_at(manifest, "made_at")
    return {
        **_described(manifest, path),
        "kind": "backup",
        "started_at": started or _made_at(manifest, "started_at") or made_at,
        "finished_at": _now() if started else made_at,
        "run_by": str(manifest.get("made_by") or "")[:200],
        "host": str(manifest.get("host") or "")[:200],
        "problems": [],
    }


def _described(manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    """What a run records of the backup at ``path`` and its manifest (read from a file:
    only what has the shape it should)."""
    sha = manifest.get("dump_sha256")
    counts, sums = manifest.get("counts"), manifest.get("checksums")
    return {
        "file_name": path.name,
        "size_bytes": path.stat().st_size if path.is_file() else None,
        "dump_sha256": sha if isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha) else None,
        "revision": str(manifest["revision"])[:64] if manifest.get("revision") else None,
        "landmap_version": str(manifest.get("landmap_version") or "")[:64] or None,
        "made_at": _made_at(manifest, "made_at"),
        "counts": counts if isinstance(counts, dict) else {},
        "checksums": sums if isinstance(sums, dict) else {},
    }


def _made_at(manifest: dict[str, Any], key: str) -> dt.datetime | None:
    try:
        at = dt.datetime.fromisoformat(str(manifest.get(key)))
    except ValueError:
        return None
    return at if at.tzinfo else None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _who() -> str:
    return f"cli:{getpass.getuser()}"


def _record(settings: Settings, run: dict[str, Any]) -> bool:
    """Add ``run`` to backup_run of the database at ``settings`` (as its owner); False when
    the register there has no backup_run (it is of a revision before 0023)."""
    row = {
        "finished_at": _now(),
        "run_by": _who(),
        "host": socket.gethostname(),
        "size_bytes": None,
        "dump_sha256": None,
        "revision": None,
        "landmap_version": None,
        "made_at": None,
        "counts": {},
        "checksums": {},
        "checks": [],
        **run,
    }
    row["finished_at"] = max(row["finished_at"], row["started_at"])
    row["ok"] = not row["problems"]
    problems: list[Message] = run["problems"]
    row["problems"] = [{"code": m.code, "text": m.text, "params": m.params} for m in problems]
    for key in ("counts", "checksums", "checks", "problems"):
        row[key] = json.dumps(row[key], ensure_ascii=False, default=str)
    columns = ", ".join(row)
    values = ", ".join(
        f"CAST(:{k} AS jsonb)" if k in ("counts", "checksums", "checks", "problems") else f":{k}"
        for k in row
    )
    with _connect(settings) as conn:
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": RUNS}).scalar() is None:
            return False
        conn.execute(text(f"INSERT INTO {RUNS} ({columns}) VALUES ({values})"), row)
        conn.commit()
    return True


def _record_quietly(settings: Settings, run: dict[str, Any]) -> None:
    """Record a failed run where that can be done: a database without the register (or
    unreachable) keeps no record, and the failure itself is what the caller reports."""
    with contextlib.suppress(SQLAlchemyError):
        _record(settings, run)


def _record_if_made_there(settings: Settings, run: dict[str, Any]) -> bool:
    """Record ``run`` (a restore into another database) in the database at ``settings`` too
    if that one recorded making the backup; whether it was recorded. Not reaching it (the
    machine a backup is restored for is often gone) is no failure of the restore."""
    if run["dump_sha256"] is None:
        return False
    try:
        with _connect(settings) as conn:
            if conn.execute(text("SELECT to_regclass(:t)"), {"t": RUNS}).scalar() is None:
                return False
            made = conn.execute(
                text(f"SELECT 1 FROM {RUNS} WHERE kind = 'backup' AND ok AND dump_sha256 = :d"),
                {"d": run["dump_sha256"]},
            ).first()
        return made is not None and _record(settings, run)
    except SQLAlchemyError:
        return False


def landmap_version() -> str:
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["project"]["version"]


def _connect(settings: Settings):
    engine = make_engine(settings)

    class Scope:
        def __enter__(self) -> Connection:
            self.conn = engine.connect()
            self.conn.execute(text("SET TIME ZONE 'UTC'"))
            self.conn.commit()
            return self.conn

        def __exit__(self, *exc) -> None:
            self.conn.close()
            engine.dispose()

    return Scope()


def _schemas(conn: Connection, schema: str) -> list[str]:
    """landmap's schema and, from migration 0017 on, the GIS views' schema."""
    if conn.execute(text("SELECT to_regnamespace(:s)"), {"s": schema}).scalar() is None:
        raise Refused(msg("backup_no_schema", "the database holds no register to back up"))
    gis = None
    if conn.execute(text("SELECT to_regproc('lm_gis_schema')")).scalar() is not None:
        gis = conn.execute(text("SELECT lm_gis_schema()")).scalar()
    return [schema, gis] if gis else [schema]


def _state(conn: Connection, schemas: list[str]) -> dict[str, Any]:
    """Counts of every table of ``schemas`` and the checksums, read in one snapshot."""
    conn.commit()
    with conn.execution_options(isolation_level="REPEATABLE READ").begin():
        return _read_state(conn, schemas)


def _read_state(conn: Connection, schemas: list[str]) -> dict[str, Any]:
    """Counts of every table of ``schemas`` but backup_run, and the checksums, read in the
    transaction ``conn`` is in."""
    tables = conn.execute(
        text(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(:s) "
            "AND tablename <> :runs ORDER BY 1, 2"
        ),
        {"s": schemas, "runs": RUNS},
    ).all()
    counts = {
        f"{s}.{t}": conn.execute(text(f'SELECT count(*) FROM "{s}"."{t}"')).scalar()
        for s, t in tables
    }
    sums = {name: conn.execute(text(sql)).scalar() for name, sql in CHECKSUMS.items()}
    return {"counts": counts, "checksums": sums}


def _extensions(conn: Connection) -> list[str]:
    return list(
        conn.execute(
            text("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")
        ).scalars()
    )


def _digest(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_md5"}
    return hashlib.md5(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write(path: Path, manifest: dict[str, Any], dump: Path) -> None:
    """The tar, written beside ``path`` and moved there: never a half-written backup."""
    partial = path.with_name(path.name + ".partial")
    body = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
    with tarfile.open(partial, "w") as tar:
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime = len(body), int(dt.datetime.now().timestamp())
        tar.addfile(info, io.BytesIO(body))
        tar.add(dump, arcname=DUMP)
    partial.chmod(0o600)  # the register, audit trail and password hashes are in it
    partial.replace(path)


def _read(path: Path, work: Path) -> tuple[dict[str, Any], Path]:
    unreadable = msg("backup_unreadable", "%(file)s is not a landmap backup", file=path.name)
    try:
        with tarfile.open(path, "r:") as tar:
            names = {m.name: m for m in tar.getmembers() if m.isfile()}
            if set(names) != {MANIFEST, DUMP}:
                raise Refused(unreadable)
            manifest = json.load(tar.extractfile(names[MANIFEST]))
            with (work / DUMP).open("wb") as out:
                shutil.copyfileobj(tar.extractfile(names[DUMP]), out)
    except (OSError, tarfile.TarError, ValueError) as exc:
        raise Refused(unreadable) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Refused(unreadable)
    return manifest, work / DUMP


def _scripts(settings: Settings):
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config(settings))


def _known_revision(settings: Settings, manifest: dict[str, Any]) -> bool:
    revision = str(manifest.get("revision"))
    return revision in {s.revision for s in _scripts(settings).walk_revisions()}


def _check_revision(settings: Settings, manifest: dict[str, Any]) -> None:
    """A dump of a revision this landmap does not know (a newer landmap's) is refused."""
    if not _known_revision(settings, manifest):
        scripts = _scripts(settings)
        revision = str(manifest.get("revision"))
        raise Refused(
            msg(
                "backup_newer_revision",
                "the backup is of database revision %(revision)s, newer than this landmap "
                "knows (%(head)s): restore it with the landmap that made it",
                revision=revision[:40],
                head=scripts.get_current_head() or "",
            ),
            409,
        )


def _check_integrity(manifest: dict[str, Any], dump: Path) -> None:
    if not all(c["ok"] for c in _integrity_checks(manifest, dump)):
        raise Refused(
            msg(
                "backup_damaged",
                "the backup is damaged: its dump or its manifest is not what was written",
            ),
            409,
        )


SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _prepare(conn: Connection, manifest: dict[str, Any]) -> None:
    """Refuse a database that holds the register's schemas already (an empty schema of that
    name is dropped); create the extensions the register needs."""
    names = [*manifest["schemas"], *manifest["extensions"]]
    if not all(isinstance(n, str) and SAFE_NAME.match(n) for n in names):
        raise Refused(msg("backup_unreadable", "%(file)s is not a landmap backup", file=DUMP))
    for schema in manifest["schemas"]:
        held = conn.execute(  # relations of its own, not an extension's (PostGIS in public)
            text("""SELECT count(*) FROM pg_class c WHERE c.relnamespace = to_regnamespace(:s)
                    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                    WHERE d.objid = c.oid AND d.deptype = 'e')"""),
            {"s": schema},
        ).scalar()
        if held:
            raise Refused(
                msg(
                    "restore_target_not_empty",
                    "the database to restore into holds a register already (schema "
                    "%(schema)s): restore into a new database",
                    schema=schema,
                ),
                409,
            )
        if schema != "public":  # where the extensions live, in the default deployment
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}"'))
    for extension in manifest["extensions"]:
        conn.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{extension}" SCHEMA public'))
    conn.commit()


def _tool(name: str) -> str:
    """The newest PostgreSQL client ``name`` installed (pg_dump must be at least the server's
    version), else the one on PATH."""
    versions = sorted(
        (p for p in PG_BIN.glob(f"*/bin/{name}") if p.parts[-3].isdigit()),
        key=lambda p: int(p.parts[-3]),
    )
    found = str(versions[-1]) if versions else shutil.which(name)
    if not found:
        raise Refused(msg("backup_no_tool", "%(tool)s is not installed", tool=name))
    return found


def _run(tool: str, url: str, *args: str) -> None:
    """Run a PostgreSQL client on the database at ``url``: its password in the environment,
    the rest as a connection string without it."""
    parts = make_url(url)
    conninfo = {
        "host": parts.host or "",
        "port": str(parts.port or ""),
        "dbname": parts.database or "",
        "user": parts.username or "",
        **{k: str(v) for k, v in parts.query.items()},
    }
    dsn = " ".join(f"{k}='{_quoted(v)}'" for k, v in conninfo.items() if v)
    env = {**os.environ, "PGPASSWORD": parts.password or "", "PGAPPNAME": "landmap-backup"}
    done = subprocess.run(
        [_tool(tool), f"--dbname={dsn}", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise Refused(
            msg(
                "backup_tool_failed",
                "%(tool)s failed: %(error)s",
                tool=tool,
                error=done.stderr.strip()[-2000:],
            ),
            500,
        )


def _restore_list(dump: Path, work: Path) -> Path:
    """pg_restore's table of contents of ``dump`` without ``CREATE SCHEMA public``: a dump of
    the public schema (the default deployment) holds it, and every database has that schema
    already (PostGIS lives there)."""
    kept = [ln for ln in _listing(dump).splitlines() if not re.search(r" SCHEMA - public ", ln)]
    listing = work / "restore.list"
    listing.write_text("\n".join(kept) + "\n")
    return listing


def _listing(dump: Path) -> str:
    """pg_restore --list of ``dump``: its table of contents (read from the file alone)."""
    done = subprocess.run([_tool("pg_restore"), "--list", str(dump)], capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise Refused(msg("backup_unreadable", "%(file)s is not a landmap backup", file=DUMP))
    return done.stdout


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
