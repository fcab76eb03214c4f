"""`db backup` and `db restore`: pg_dump of landmap's schemas with a manifest that says what
the dump holds, and a restore that checks the register it gave against that manifest.

A backup FILE is one uncompressed tar holding ``manifest.json`` and ``landmap.dump`` (pg_dump's
custom format, compressed itself): landmap's schema and the GIS views' schema, nothing else of
the database. The manifest records landmap's version, the migration revision, counts per
table, md5 checksums of the parcels (code, stage, geometry WKB by code), of the stage history
and of the audit chain (rows by id), the dump's sha256 and a digest of the manifest itself.

The owner's password goes to pg_dump and pg_restore in PGPASSWORD, never on a command line."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from landmap.config import PROJECT_ROOT, Settings
from landmap.db import migrate
from landmap.db.engine import make_engine
from landmap.domain import Refused
from landmap.messages import msg

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


def backup(settings: Settings, path: str | Path) -> dict[str, Any]:
    """Dump landmap's schemas to ``path`` (a tar of dump and manifest); returns the manifest."""
    owner = settings.with_(db_role="")
    with tempfile.TemporaryDirectory() as work:
        dump = Path(work) / DUMP
        with _connect(owner) as conn:
            schemas = _schemas(conn, settings.db_schema)
            manifest = _state(conn, schemas)
            extensions = _extensions(conn)
            args = [f"--schema={s}" for s in schemas]
            _run("pg_dump", owner.database_url, "--format=custom", *args, f"--file={dump}")
        manifest = {
            "format": FORMAT,
            "landmap_version": landmap_version(),
            "revision": migrate.current(owner),
            "made_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "schema": settings.db_schema,
            "schemas": schemas,
            "extensions": extensions,
            **manifest,
            "dump_sha256": _sha256(dump),
        }
        manifest["manifest_md5"] = _digest(manifest)
        _write(Path(path), manifest, dump)
    return manifest


def restore(settings: Settings, path: str | Path, into_url: str | None = None) -> dict[str, Any]:
    """Restore the backup at ``path`` into ``into_url`` (default: the configured database,
    which must not hold landmap's schema yet), then check it against the manifest. Returns
    the manifest and ``checks``: each {"name", "expected", "found", "ok"}."""
    target = settings.with_(db_role="", database_url=into_url or settings.database_url)
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
    return {**manifest, "checks": verify(target, manifest)}


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
        tables = conn.execute(
            text(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(:s) "
                "ORDER BY 1, 2"
            ),
            {"s": schemas},
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


def _check_revision(settings: Settings, manifest: dict[str, Any]) -> None:
    """A dump of a revision this landmap does not know (a newer landmap's) is refused."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.alembic_config(settings))
    revision = str(manifest.get("revision"))
    known = {s.revision for s in scripts.walk_revisions()}
    if revision not in known:
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
    intact = manifest.get("manifest_md5") == _digest(manifest)
    if not intact or manifest.get("dump_sha256") != _sha256(dump):
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
    done = subprocess.run([_tool("pg_restore"), "--list", str(dump)], capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise Refused(msg("backup_unreadable", "%(file)s is not a landmap backup", file=DUMP))
    kept = [ln for ln in done.stdout.splitlines() if not re.search(r" SCHEMA - public ", ln)]
    listing = work / "restore.list"
    listing.write_text("\n".join(kept) + "\n")
    return listing


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
