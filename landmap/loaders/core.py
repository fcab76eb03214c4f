"""The load pipeline every layer shares: read and check in chunks, COPY into a staging table,
check the whole file in SQL, merge, record the import. All or nothing: the work happens inside
a savepoint of the caller's transaction, and a refusal or a dry run rolls it back.

Pipelined: a worker thread reads and checks the next chunk while the database takes the
previous one. A layer whose records merge independently of each other (parcels, patches) has
each chunk merged as soon as it is staged, while nothing is wrong so far; the whole file's
checks still run at the end and a refusal still undoes everything. Otherwise (and for what a
chunk's merge could not take) the merge waits for the whole file, in one statement."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import shapely
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from landmap.geo import crs as crs_mod
from landmap.geo import encoding as enc_mod
from landmap.loaders import reader
from landmap.loaders.profiles import Profile
from landmap.loaders.reader import OUTSIDE, Chunk, Problem, Reading, ReadPlan
from landmap.loaders.source import SourceError, open_source
from landmap.messages import LOCALES, Message, msg, rendered
from landmap.services import Refused

BAD_CODE = msg("code_malformed", "the code has spaces or is longer than 40 characters")
# the bad records a refusal lists (the count says how many there are in all)
MAX_LISTED = 100
# a field mapping (register field -> file field): this many pairs, names this long at most
MAX_MAPPED = 40
MAX_FIELD_NAME = 64


class LoadRefused(Refused):
    """The file was not loaded; ``problems`` lists every bad record (``render()`` and
    ``str()`` list them under the message; the web answers them as ``problems``: each a
    Message with the record number, its code and what is wrong, in the request's locale)."""

    def __init__(self, message: Message, problems: Sequence[Problem] = ()) -> None:
        self.problems = list(problems)
        listed = [problem.message for problem in self.problems[:MAX_LISTED]]
        super().__init__(message, **({"problems": listed} if listed else {}))

    def render(self, locale: str) -> str:
        lines = [super().render(locale)]
        listed = self.problems[:MAX_LISTED]
        lines += [f"  - {problem.message.render(locale)}" for problem in listed]
        more = len(self.problems) - len(listed)
        if more:
            lines.append(msg("more_problems", "… and %(n)s more", n=more).render(locale))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render("en")


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
    # register field -> file field, before the profile's own names (landmap.loaders.profiles)
    fields: dict[str, str] = field(default_factory=dict)
    # parcels: create the projects and batches a file names that the register lacks
    create_projects: bool = False
    # parcels: keep a GeoJSON preview (EPSG:4326) of the new and changed parcels in the report
    preview: bool = False


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
    # the rows the load made that a caller needs: a zone's new boundary version or draft
    # (none on a dry run)
    created_ids: tuple[int, ...] = ()
    # register field -> the file's field it was read from
    fields: dict[str, str] = field(default_factory=dict)
    # what the load created besides the layer's rows (parcels: projects, (project, batch))
    created_projects: list[str] = field(default_factory=list)
    created_batches: list[tuple[str, str]] = field(default_factory=list)
    preview: dict | None = None

    @property
    def unchanged(self) -> int:
        return self.records_read - len(self.rejected) - self.inserted - self.updated

    def as_dict(self, locale: str) -> dict:
        """The report as people read it in ``locale`` (the web's answer, the import record's
        copy): counts, decisions, the records listed (MAX_LISTED at most), what was made."""
        listed = self.rejected[:MAX_LISTED]
        return rendered(
            {
                "layer": self.layer,
                "file_name": self.file_name,
                "sha256": self.sha256,
                "dry_run": self.dry_run,
                "import_id": self.import_id,
                "counts": {
                    "read": self.records_read,
                    "new": self.inserted,
                    "updated": self.updated,
                    "unchanged": self.unchanged,
                    "rejected": len(self.rejected),
                },
                "crs": {"value": self.crs, "reason": self.crs_reason},
                "encoding": {"value": self.encoding, "reason": self.encoding_reason},
                "fields": self.fields,
                "total_mu": round(self.total_mu, 2),
                "rejected": [problem.message for problem in listed],
                "repaired": [problem.message for problem in self.repaired[:MAX_LISTED]],
                "mismatches": [
                    {"code": code, "certificate_mu": round(official, 2), "mu": round(mu, 2)}
                    for code, official, mu in self.mismatches[:MAX_LISTED]
                ],
                "mismatch_count": len(self.mismatches),
                "created": {
                    "projects": self.created_projects,
                    "batches": [{"project": p, "batch": b} for p, b in self.created_batches],
                },
            },
            locale,
        )


def field_mapping(pairs: Iterable[tuple[object, object]]) -> dict[str, str]:
    """A user's field mapping (register field -> file field) as the edges receive it, checked:
    text, MAX_FIELD_NAME characters at most, no control characters, each register field
    once, MAX_MAPPED pairs at most. Whether the fields exist is checked with the file."""
    found: dict[str, str] = {}
    for target, column in pairs:
        if not (isinstance(target, str) and isinstance(column, str)):
            raise Refused(_BAD_MAPPING)
        target, column = target.strip(), column.strip()
        names = (target, column)
        if not all(names) or any(len(n) > MAX_FIELD_NAME or not n.isprintable() for n in names):
            raise Refused(_BAD_MAPPING)
        if target in found or len(found) >= MAX_MAPPED:
            raise Refused(_BAD_MAPPING)
        found[target] = column
    return found


_BAD_MAPPING = msg(
    "field_mapping_invalid",
    "a field mapping gives each register field once, as register field = file field "
    "(at most %(n)s pairs of names of at most %(chars)s characters)",
    n=MAX_MAPPED,
    chars=MAX_FIELD_NAME,
)


@dataclass
class Context:
    """What a layer's steps may look at: the options, the fields present, problems so far."""

    options: LoadOptions
    columns: dict[str, str]  # profile target -> source field
    problems: list[Problem]
    attributes_sql: str = "'{}'::jsonb"  # the JSONB attributes of a staged row ``s``
    # what a layer's steps created besides its rows (parcels: projects, (project, batch))
    created_projects: list[str] = field(default_factory=list)
    created_batches: list[tuple[str, str]] = field(default_factory=list)
    # ids of the rows the merge inserted (True) or changed (False), for a preview
    touched: dict[int, bool] = field(default_factory=dict)


class Merged(NamedTuple):
    """What a layer's merge did: rows inserted and updated, and the ids of the rows it made
    that a caller needs (a zone's new boundary version or draft)."""

    inserted: int
    updated: int
    created_ids: tuple[int, ...] = ()


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
    merge: Callable[[Session, Context], Merged]
    summary: Callable[[Session], tuple[float, list[tuple[str, float, float]]]]
    # a GeoJSON preview (EPSG:4326) of what the merge inserted and changed
    preview: Callable[[Session, Context], dict] | None = None
    # a layer whose records merge independently of each other (with the options given: ``apart``)
    # merges the staged records of a range of record numbers alone: the load then merges each
    # chunk while the next one is read
    merge_part: Callable[[Session, Context, range], Merged] | None = None
    apart: Callable[[LoadOptions], bool] = lambda options: True


def records_sql(records: range | None, alias: str = "s") -> str:
    """The SQL condition on a staged row (aliased ``alias``) that its record is in ``records``
    (all records when None)."""
    if records is None:
        return "true"
    return f"{alias}.rec BETWEEN {int(records.start)} AND {int(records.stop) - 1}"


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
        self.session.execute(
            text(
                f"CREATE TEMP TABLE {STAGING} (rec integer NOT NULL, {', '.join(cols)}, "
                f"geom geometry(Geometry, {self.srid}) NOT NULL)"
            )
        )

    @property
    def attributes_sql(self) -> str:
        """SQL for the JSONB attributes of a staged row (aliased s), from the extra fields."""
        pairs = [f"{_quote(name)}, s.x{i}" for i, name in enumerate(self.extras or [])]
        if not pairs:
            return "'{}'::jsonb"
        groups = [pairs[i : i + 50] for i in range(0, len(pairs), 50)]  # 100 arguments at most
        return " || ".join(f"jsonb_strip_nulls(jsonb_build_object({', '.join(g)}))" for g in groups)

    def copy(self, part: Part) -> None:
        if self.extras is None:
            self.create(part.extras)
        if part.csv is None:
            return
        raw = self.session.connection().connection.driver_connection
        with raw.cursor() as cur:
            cur.copy_expert(
                f"COPY {STAGING} ({', '.join(part.columns)}) FROM STDIN WITH (FORMAT csv)",
                io.BytesIO(part.csv),
            )


@dataclass
class Part:
    """A chunk made ready for the staging table (in the worker thread, no database): the
    records it covers, the CSV of the rows kept (None when all were set aside), and what was
    found reading it."""

    records: range  # the record numbers the chunk covers, those set aside included
    extras: pa.Schema  # the file's fields no profile stores
    columns: list[str]
    csv: bytes | None
    problems: list[Problem]
    repaired: list[Problem]


def _part(layer: Layer, chunk: Chunk, first: int, ctx: Context) -> Part:
    """The chunk's staging rows as CSV; the layer's problems go to ``ctx.problems``."""
    values, keep = layer.rows(chunk, ctx)
    columns = {"rec": pa.array(chunk.records, pa.int32())}
    columns.update({n: values.column(n) for n, _ in layer.staging_columns})
    columns.update({f"x{i}": chunk.extras.column(i) for i in range(chunk.extras.num_columns)})
    columns["geom"] = pa.array(shapely.to_wkb(chunk.geoms, hex=True, include_srid=False))
    table = pa.table(columns).filter(pa.array(keep))
    csv_bytes = None
    if table.num_rows:
        buf = io.BytesIO()
        pa_csv.write_csv(table, buf, pa_csv.WriteOptions(include_header=False))
        csv_bytes = buf.getvalue()
    records = range(first, chunk.read_upto + 1)
    return Part(
        records, chunk.extras.schema, table.column_names, csv_bytes, ctx.problems, chunk.repaired
    )


_END = object()


@contextmanager
def read_ahead(items: Iterator) -> Iterator[Iterator]:
    """``items`` made in a worker thread one ahead of their use: the next is made while the
    caller works on the current one. Its errors reach the caller; however the caller ends,
    the item under way is waited for and ``items`` is closed, in the worker."""
    with ThreadPoolExecutor(1, thread_name_prefix="landmap-load") as worker:
        pending = worker.submit(next, items, _END)

        def ahead() -> Iterator:
            nonlocal pending
            while (item := pending.result()) is not _END:
                pending = worker.submit(next, items, _END)
                yield item

        try:
            yield ahead()
        finally:
            wait([pending])
            worker.submit(items.close).result()


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
        reason = msg("duplicate_code", "duplicate code (records %(records)s)", records=recs)
        found += [Problem(r, code, reason) for r in recs]
    return found


def upsert(session: Session, insert_sql: str, touched: dict[int, bool] | None = None) -> Merged:
    """Run an INSERT ... ON CONFLICT DO UPDATE; return the rows inserted and updated. With
    ``touched``, the id of each row written goes there (True: inserted); the INSERT's table
    is aliased as itself and has an ``id``."""
    if touched is not None:
        written = session.execute(text(f"{insert_sql} RETURNING id, (xmax = 0)")).all()
        touched.update((int(i), bool(new)) for i, new in written)
        inserted = sum(bool(new) for _, new in written)
        return Merged(inserted, len(written) - inserted)
    inserted, updated = session.execute(
        text(f"""
        WITH merged AS ({insert_sql} RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
        FROM merged
    """)
    ).one()
    return Merged(int(inserted), int(updated))


def drop_records(session: Session, problems: Iterable[Problem]) -> None:
    records = sorted({problem.record for problem in problems})
    if records:
        session.execute(text(f"DELETE FROM {STAGING} WHERE rec = ANY(:r)"), {"r": records})


def _write_rejects(path: Path, problems: list[Problem]) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(["record", "code", "reason"])
        for problem in sorted(problems, key=lambda problem: problem.record):
            writer.writerow([problem.record, problem.code, problem.reason])


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
            read_plan = reader.plan(
                src,
                layer.profile,
                encoding=options.encoding,
                srs=options.srs,
                central_meridian=options.central_meridian,
                fields=options.fields,
            )
            srid = session.execute(text("SELECT lm_storage_srid()")).scalar_one()
            job = Job(session, layer, read_plan, options, srid, region_bbox, progress)
            return _run(job)
    except (SourceError, enc_mod.EncodingError, crs_mod.CRSError) as exc:
        raise LoadRefused(exc.message) from exc


@dataclass
class Job:
    """One load under way: the file's read plan, how and where it is loaded (the storage
    SRID, the region its features must lie in, lon/lat), whom to tell how far it has got
    (records read, records in all), and what the layer's steps have found so far."""

    session: Session
    layer: Layer
    read_plan: ReadPlan
    options: LoadOptions
    srid: int
    region_bbox: tuple[float, float, float, float]
    progress: Callable[[int, int], None] | None = None
    ctx: Context = field(init=False)
    report: LoadReport = field(init=False)
    # the chunks merged as they came (their records: 1 .. merged_upto), while merging is on
    merging: bool = field(init=False)
    merged: list[Merged] = field(default_factory=list)
    merged_upto: int = 0
    staged_upto: int = 0

    def __post_init__(self) -> None:
        self.ctx = Context(self.options, self.read_plan.columns, [])
        layer, options = self.layer, self.options
        self.merging = bool(layer.merge_part and not options.repair and layer.apart(options))
        source = self.read_plan.source
        encoding = self.read_plan.encoding or enc_mod.Decision(
            "utf-8", msg("encoding_utf8_kind", "the text of this kind of file is UTF-8")
        )
        self.report = LoadReport(
            self.layer.name,
            source.name,
            source.sha256,
            self.read_plan.crs.label,
            self.read_plan.crs.reason,
            encoding.value,
            encoding.reason,
            dry_run=self.options.dry_run,
            fields=dict(self.read_plan.columns),
        )


def _run(job: Job) -> LoadReport:
    """Read, check and merge in a savepoint: kept unless refused or a dry run."""
    session, report, options = job.session, job.report, job.options
    savepoint = session.begin_nested()
    try:
        _stage(job)
        _refuse_what_is_wrong(job)
        drop_records(session, job.ctx.problems)
        report.rejected = sorted(job.ctx.problems, key=lambda problem: problem.record)
        report.inserted, report.updated, report.created_ids = _merge(job)
        report.total_mu, report.mismatches = job.layer.summary(session)
        report.created_projects = job.ctx.created_projects
        report.created_batches = job.ctx.created_batches
        if options.preview and job.layer.preview:
            report.preview = job.layer.preview(session, job.ctx)
        session.execute(text(f"DROP TABLE {STAGING}"))
        if options.dry_run:
            savepoint.rollback()
            report.created_ids = ()
        else:
            report.import_id = _record(session, report, options)
            savepoint.commit()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    if report.rejected and options.repair:
        report.rejects_path = options.rejects_path or Path(
            f"{Path(job.read_plan.source.name).stem}.rejects.csv"
        )
        _write_rejects(report.rejects_path, report.rejected)
    return report


def _stage(job: Job) -> None:
    """Read the file chunk by chunk into the staging table (merging each chunk where it may);
    the records set aside go to the job's problems, text samples to the mojibake check."""
    read_plan, report, ctx = job.read_plan, job.report, job.ctx
    reading = Reading(
        reproject=crs_mod.Reprojector(read_plan.crs.crs, job.srid),
        region=crs_mod.region_in(job.srid, job.region_bbox),
        repair=job.options.repair,
        problems=[],  # the worker's: each part carries its own
    )
    staging = Staging(job.session, job.layer, job.srid)
    with read_ahead(_parts(job, reading)) as parts:
        for part in parts:
            ctx.problems += part.problems
            report.repaired += part.repaired
            staging.copy(part)
            ctx.attributes_sql = staging.attributes_sql
            job.staged_upto = part.records.stop - 1
            _merge_early(job, part.records)
            report.records_read = job.staged_upto
            if job.progress:
                job.progress(report.records_read, read_plan.count)
    report.records_read = read_plan.count
    if staging.extras is None:  # an empty file
        staging.create(pa.schema([]))
    job.ctx.attributes_sql = staging.attributes_sql
    if read_plan.encoding:
        enc_mod.check_not_mojibake(
            read_plan.encoding, reading.text_samples, read_plan.source.sidecar(".dbf")
        )


def _parts(job: Job, reading: Reading) -> Iterator[Part]:
    """The file's chunks read, checked and made ready to copy: the worker thread's work. Each
    part carries the problems found in it (the reader's, then the layer's)."""
    seen, first = 0, 1
    with closing(reader.read_chunks(job.read_plan, reading)) as chunks:
        for chunk in chunks:
            found, seen = reading.problems[seen:], len(reading.problems)
            ctx = Context(job.options, job.read_plan.columns, found)
            yield _part(job.layer, chunk, first, ctx)
            first = chunk.read_upto + 1


def _merge_early(job: Job, records: range) -> None:
    """Merge the staged chunk now, where the result is the one a merge of the whole file would
    give: the layer's records merge apart, no repair sets records aside later, and nothing is
    wrong so far (else the load is refused, and what was merged undone). A chunk the database
    does not take (a code twice in it, say) waits, with the rest, for the whole file's checks."""
    if not job.merging or job.ctx.problems:
        job.merging = False
        return
    assert job.layer.merge_part is not None
    touched = dict(job.ctx.touched)
    try:
        with job.session.begin_nested():
            merged = job.layer.merge_part(job.session, job.ctx, records)
    except DBAPIError:
        job.ctx.touched = touched
        job.merging = False
        return
    job.merged.append(merged)
    job.merged_upto = records.stop - 1


def _merge(job: Job) -> Merged:
    """The layer's merge of what was not merged chunk by chunk, added to what was."""
    session, layer, ctx = job.session, job.layer, job.ctx
    if not job.merged:
        return layer.merge(session, ctx)
    assert layer.merge_part is not None
    done = list(job.merged)
    if job.merged_upto < job.staged_upto:
        done.append(layer.merge_part(session, ctx, range(job.merged_upto + 1, job.staged_upto + 1)))
    created = tuple(i for m in done for i in m.created_ids)
    return Merged(sum(m.inserted for m in done), sum(m.updated for m in done), created)


def _refuse_what_is_wrong(job: Job) -> None:
    """LoadRefused when features fall outside the region (the CRS is wrong) or, unless
    repairing, when any record is bad; the layer's own checks add their problems."""
    read_plan, problems = job.read_plan, job.ctx.problems
    outside = [p for p in problems if p.reason.code == OUTSIDE.code]
    if outside:
        n, crs = len(outside), read_plan.crs
        bbox = ", ".join(f"{v:g}" for v in job.region_bbox)
        raise LoadRefused(
            msg(
                "load_outside_region",
                "%(n)s of %(total)s features fall outside the region (%(bbox)s) after "
                "reprojection from %(crs)s (%(reason)s): the coordinate system is probably "
                "wrong; choose the file's %(choice)s",
                n=n,
                total=read_plan.count,
                bbox=bbox,
                crs=crs.label,
                reason=crs.reason,
                choice=crs_mod.CHOICE,
            ),
            outside[:20],
        )
    problems += job.layer.checks(job.session, job.ctx)
    if problems and not job.options.repair:
        n = len(problems)
        raise LoadRefused(
            msg(
                "load_bad_records",
                "%(file)s: %(n)s bad record(s); nothing was loaded: fix them and load the "
                "file again",
                file=read_plan.source.name,
                n=n,
            ),
            sorted(problems, key=lambda problem: problem.record),
        )


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
            "fields": options.fields,
            "create_projects": options.create_projects,
        }.items()
        if v
    }
    return session.execute(
        text("""
        INSERT INTO import_run (layer, file_name, sha256, run_by, crs, crs_reason, encoding,
            encoding_reason, records_read, inserted, updated, rejected, total_mu, options,
            report)
        VALUES (:layer, :file, :sha, :by, :crs, :crs_reason, :enc, :enc_reason, :read, :ins,
            :upd, :rej, :mu, CAST(:opts AS jsonb), CAST(:report AS jsonb))
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
            "report": json.dumps({locale: report.as_dict(locale) for locale in LOCALES}),
        },
    ).scalar_one()
