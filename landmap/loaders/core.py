"""The load pipeline every layer shares: read and check in chunks, COPY into a staging table,
check the whole file in SQL, merge in one statement, record the import. All or nothing: the
work happens inside a savepoint of the caller's transaction, and a refusal or a dry run rolls
it back."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.geo import crs as crs_mod
from landmap.geo import encoding as enc_mod
from landmap.loaders import reader
from landmap.loaders.profiles import Profile
from landmap.loaders.reader import Chunk, Problem
from landmap.loaders.source import SourceError, open_source


class LoadRefused(Exception):
    """The file was not loaded; ``problems`` lists every bad record."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)

    def __str__(self) -> str:
        lines = [self.args[0]] + [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


@dataclass
class LoadOptions:
    srs: str | None = None
    encoding: str | None = None
    layer: str | None = None
    dry_run: bool = False
    repair: bool = False
    rejects_path: Path | None = None
    run_by: str = "cli"
    central_meridian: int | None = None
    # the file's name as its sender called it (an upload's; messages never show temp paths)
    file_name: str | None = None
    # zone boundaries
    zone: str | None = None
    draft: bool = False
    valid_from: date | None = None
    note: str = ""


@dataclass
class LoadReport:
    layer: str
    file_name: str
    sha256: str
    crs: str
    crs_reason: str
    encoding: str
    encoding_reason: str
    records_read: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: list[Problem] = field(default_factory=list)
    repaired: list[Problem] = field(default_factory=list)
    total_mu: float = 0.0
    mismatches: list[tuple[str, float, float]] = field(default_factory=list)
    dry_run: bool = False
    import_id: int | None = None
    rejects_path: Path | None = None

    @property
    def unchanged(self) -> int:
        return self.records_read - len(self.rejected) - self.inserted - self.updated


@dataclass
class Context:
    """What a layer's steps may look at: the options, the fields present, problems so far."""

    options: LoadOptions
    columns: dict[str, str]  # profile target -> source field
    problems: list[Problem]
    attributes_sql: str = "'{}'::jsonb"  # the JSONB attributes of a staged row ``s``


@dataclass
class Layer:
    """What differs between layers: profile, staging columns, row building, checks, merge."""

    name: str
    profile: Profile
    staging_columns: tuple[tuple[str, str], ...]  # (name, SQL type); geom is added last
    # the staging columns for every record of the chunk, and which records to keep (the
    # layer appends a problem for each one it sets aside)
    rows: Callable[[Chunk, Context], tuple[pa.Table, np.ndarray]]
    checks: Callable[[Session, Context], list[Problem]]
    merge: Callable[[Session, Context], tuple[int, int]]
    summary: Callable[[Session], tuple[float, list[tuple[str, float, float]]]]


STAGING = "lm_stage"


def _pg_type(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double precision"
    if pa.types.is_boolean(t):
        return "boolean"
    return "text"


class Staging:
    """The temporary table one load goes through: the layer's columns, the file's other
    fields (x0, x1, ...; they become the JSONB attributes), and the geometry."""

    def __init__(self, session: Session, layer: Layer, srid: int) -> None:
        self.session = session
        self.layer = layer
        self.srid = srid
        self.extras: list[str] | None = None

    def create(self, extras: pa.Schema) -> None:
        self.extras = list(extras.names)
        cols = [f"{n} {t}" for n, t in self.layer.staging_columns]
        cols += [f"x{i} {_pg_type(f.type)}" for i, f in enumerate(extras)]
        self.session.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))
        self.session.execute(text(
            f"CREATE TEMP TABLE {STAGING} (rec integer NOT NULL, {', '.join(cols)}, "
            f"geom geometry(Geometry, {self.srid}) NOT NULL)"
        ))  # fmt: skip

    @property
    def attributes_sql(self) -> str:
        """SQL for the JSONB attributes of a staged row (aliased s), from the extra fields."""
        pairs = [f"{_quote(name)}, s.x{i}" for i, name in enumerate(self.extras or [])]
        if not pairs:
            return "'{}'::jsonb"
        groups = [pairs[i : i + 50] for i in range(0, len(pairs), 50)]  # 100 arguments at most
        return " || ".join(f"jsonb_strip_nulls(jsonb_build_object({', '.join(g)}))"
                           for g in groups)  # fmt: skip

    def copy(self, chunk: Chunk, values: pa.Table, keep: np.ndarray) -> None:
        if self.extras is None:
            self.create(chunk.extras.schema)
        if not keep.any():
            return
        mask = pa.array(keep)
        columns = {"rec": pa.array(chunk.records, pa.int32())}
        columns.update({n: values.column(n) for n, _ in self.layer.staging_columns})
        columns.update({f"x{i}": chunk.extras.column(i) for i in range(chunk.extras.num_columns)})
        columns["geom"] = pa.array(shapely.to_wkb(chunk.geoms, hex=True, include_srid=False))
        table = pa.table(columns).filter(mask)
        buf = io.BytesIO()
        pa_csv.write_csv(table, buf, pa_csv.WriteOptions(include_header=False))
        buf.seek(0)
        raw = self.session.connection().connection.driver_connection
        with raw.cursor() as cur:
            cur.copy_expert(
                f"COPY {STAGING} ({', '.join(table.column_names)}) FROM STDIN WITH (FORMAT csv)",
                buf,
            )


def _quote(name: str) -> str:
    """A field name as an SQL string literal inside text(): quotes doubled, and a colon
    escaped so that SQLAlchemy does not take ``x :foo`` for a bind parameter."""
    return "'" + name.replace("'", "''").replace(":", "\\:") + "'"


def duplicate_codes(session: Session) -> list[Problem]:
    """Every record whose code another record of the same file has too."""
    found = []
    for code, recs in session.execute(
        text(
            f"SELECT code, array_agg(rec ORDER BY rec) FROM {STAGING} "
            "GROUP BY code HAVING count(*) > 1"
        )
    ):
        found += [Problem(r, code, f"duplicate code (records {recs})") for r in recs]
    return found


def upsert(session: Session, insert_sql: str) -> tuple[int, int]:
    """Run an INSERT ... ON CONFLICT DO UPDATE; return (rows inserted, rows updated)."""
    row = session.execute(text(f"""
        WITH merged AS ({insert_sql} RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
        FROM merged
    """)).one()  # fmt: skip
    return int(row[0]), int(row[1])


def drop_records(session: Session, problems: Iterable[Problem]) -> None:
    recs = sorted({p.record for p in problems})
    if recs:
        session.execute(text(f"DELETE FROM {STAGING} WHERE rec = ANY(:r)"), {"r": recs})


def _write_rejects(path: Path, problems: list[Problem]) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["record", "code", "reason"])
        for p in sorted(problems, key=lambda p: p.record):
            w.writerow([p.record, p.code, p.reason])


def run(
    session: Session,
    layer: Layer,
    path: str | Path,
    options: LoadOptions,
    *,
    region_bbox: tuple[float, float, float, float],
    progress: Callable[[int, int], None] | None = None,
) -> LoadReport:
    """Load one file into the register or raise LoadRefused; the caller commits."""
    try:
        with open_source(path, options.layer, options.file_name) as src:
            rp = reader.plan(
                src,
                layer.profile,
                encoding=options.encoding,
                srs=options.srs,
                central_meridian=options.central_meridian,
            )
            srid = session.execute(text("SELECT lm_storage_srid()")).scalar_one()
            return _run(session, layer, rp, options, srid, region_bbox, progress)
    except (SourceError, enc_mod.EncodingError, crs_mod.CRSError) as exc:
        raise LoadRefused(str(exc)) from exc


def _run(session, layer, rp, options, srid, region_bbox, progress) -> LoadReport:
    enc = rp.encoding or enc_mod.Decision("utf-8", f"{rp.source.kind} text is UTF-8")
    report = LoadReport(
        layer.name,
        rp.source.name,
        rp.source.sha256,
        rp.crs.label,
        rp.crs.reason,
        enc.value,
        enc.reason,
        dry_run=options.dry_run,
    )
    reproject = crs_mod.Reprojector(rp.crs.crs, srid)
    region = crs_mod.region_in(srid, region_bbox)
    problems: list[Problem] = []
    samples: list[str] = []
    ctx = Context(options, rp.columns, problems)
    savepoint = session.begin_nested()
    try:
        staging = Staging(session, layer, srid)
        for chunk in reader.read_chunks(
            rp, reproject, region, repair=options.repair, problems=problems, text_samples=samples
        ):
            report.repaired += chunk.repaired
            staging.copy(chunk, *layer.rows(chunk, ctx))
            report.records_read = chunk.read_upto
            if progress:
                progress(report.records_read, rp.count)
        report.records_read = rp.count
        if staging.extras is None:  # an empty file
            staging.create(pa.schema([]))
        ctx.attributes_sql = staging.attributes_sql
        if rp.encoding:
            enc_mod.check_not_mojibake(rp.encoding, samples, rp.source.sidecar(".dbf"))
        outside = [p for p in problems if p.reason.startswith("outside the zone's region")]
        if outside:
            raise LoadRefused(
                f"{len(outside)} of {rp.count} features fall outside the region "
                f"{region_bbox} after reprojection from {rp.crs.label} ({rp.crs.reason}): the "
                "CRS is probably wrong; pass --srs EPSG:N",
                outside[:20],
            )
        problems += layer.checks(session, ctx)
        if problems and not options.repair:
            raise LoadRefused(
                f"{rp.source.name}: {len(problems)} bad record(s); nothing was loaded. Fix them, "
                "or load with --repair to make valid what can be and set the rest aside",
                sorted(problems, key=lambda p: p.record),
            )
        drop_records(session, problems)
        report.rejected = sorted(problems, key=lambda p: p.record)
        report.inserted, report.updated = layer.merge(session, ctx)
        report.total_mu, report.mismatches = layer.summary(session)
        session.execute(text(f"DROP TABLE {STAGING}"))
        if options.dry_run:
            savepoint.rollback()
        else:
            report.import_id = _record(session, report, options)
            savepoint.commit()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    if report.rejected and options.repair:
        report.rejects_path = options.rejects_path or Path(
            f"{Path(rp.source.name).stem}.rejects.csv"
        )
        _write_rejects(report.rejects_path, report.rejected)
    return report


def _record(session: Session, report: LoadReport, options: LoadOptions) -> int:
    opts = {
        k: v
        for k, v in {
            "srs": options.srs,
            "encoding": options.encoding,
            "repair": options.repair,
            "zone": options.zone,
            "draft": options.draft,
            "layer": options.layer,
        }.items()
        if v
    }
    return session.execute(
        text("""
        INSERT INTO import_run (layer, file_name, sha256, run_by, crs, crs_reason, encoding,
            encoding_reason, records_read, inserted, updated, rejected, total_mu, options)
        VALUES (:layer, :file, :sha, :by, :crs, :crs_reason, :enc, :enc_reason, :read, :ins,
            :upd, :rej, :mu, CAST(:opts AS jsonb))
        RETURNING id
        """),
        {
            "layer": report.layer,
            "file": report.file_name,
            "sha": report.sha256,
            "by": options.run_by,
            "crs": report.crs,
            "crs_reason": report.crs_reason,
            "enc": report.encoding,
            "enc_reason": report.encoding_reason,
            "read": report.records_read,
            "ins": report.inserted,
            "upd": report.updated,
            "rej": len(report.rejected),
            "mu": report.total_mu,
            "opts": json.dumps(opts),
        },
    ).scalar_one()
