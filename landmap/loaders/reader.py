"""Read a source in chunks: decide encoding and CRS, check every record, reproject.

Nothing here writes to the database. Each chunk comes out as Arrow columns (the profile's
targets, cleaned), the fields no profile stores (for the JSONB attributes), and 2D geometries in
the storage CRS; the records that fail a check come out as problems. Work is vectorised: a
chunk is never walked record by record except for the records that have a problem.
"""

from __future__ import annotations

import datetime as dt
import logging
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from landmap.geo import crs as crs_mod
from landmap.geo import encoding as enc_mod
from landmap.geo import gdal
from landmap.loaders.profiles import Profile
from landmap.loaders.source import (
    KIND_NAMES,
    MAX_FIELDS,
    Source,
    SourceError,
    bad_shapefile_header,
    not_that_kind,
    shown_name,
)
from landmap.messages import Message, msg, term

log = logging.getLogger("landmap")

CHUNK = 10_000  # records per chunk: read while the previous one is merged
# what a profile's layer is called inside messages
_LAYER_NAMES = {
    "parcels": term("parcel layer"),
    "landuse": term("land-use layer"),
    "farmland": term("farmland layer"),
    "zones": term("zone boundary layer"),
}
_POLYGONAL = {"Polygon", "MultiPolygon"}


@dataclass(frozen=True)
class Problem:
    """A bad record: its 1-based position in the file, its code, what is wrong with it (a
    Message: ``str()`` is English, ``message.render(locale)`` in any locale)."""

    record: int  # 1-based position in the file
    code: str
    reason: Message

    @property
    def message(self) -> Message:
        # the code as text, cut short: a refusal never echoes more of a file than that
        code = shown_name(self.code, 40) or term("no code")
        return msg(
            "record_problem",
            "record %(record)s (%(code)s): %(reason)s",
            record=self.record,
            code=code,
            reason=self.reason,
        )

    def __str__(self) -> str:
        return str(self.message)


@dataclass
class Chunk:
    records: np.ndarray  # 1-based record numbers of the rows kept
    values: dict[str, pa.Array]  # profile target -> cleaned values
    extras: pa.Table  # the fields no profile stores, under their own names
    geoms: np.ndarray  # shapely geometries, 2D, storage CRS, valid
    read_upto: int  # records read from the file so far
    repaired: list[Problem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)


@dataclass
class ReadPlan:
    source: Source
    profile: Profile
    columns: dict[str, str]  # target -> source column
    encoding: enc_mod.Decision | None
    crs: crs_mod.Decision
    count: int


def _check_shapefile_parts(src: Source) -> None:
    """Record counts of .shp/.shx/.dbf must agree and the .shp must be whole."""
    shp, shx, dbf = src.path, src.sidecar(".shx"), src.sidecar(".dbf")
    assert shx is not None and dbf is not None
    shp_size = shp.stat().st_size
    with shp.open("rb") as f:
        head = f.read(100)
    if len(head) < 100 or struct.unpack(">i", head[:4])[0] != 9994:
        raise SourceError(bad_shapefile_header(src.name, ".shp"))
    declared = struct.unpack(">i", head[24:28])[0] * 2
    if declared != shp_size:
        raise SourceError(
            msg(
                "shp_wrong_size",
                "%(file)s: the .shp file is truncated or padded (%(size)s bytes, its header "
                "says %(declared)s); ask for the file again",
                file=src.name,
                size=shp_size,
                declared=declared,
            )
        )
    shx_records = (shx.stat().st_size - 100) // 8
    with dbf.open("rb") as f:
        dhead = f.read(12)
    if len(dhead) < 12:
        raise SourceError(_dbf_truncated(src.name))
    dbf_records = struct.unpack("<I", dhead[4:8])[0]
    header_len, record_len = struct.unpack("<HH", dhead[8:12])
    if dbf.stat().st_size < header_len + dbf_records * record_len:
        raise SourceError(_dbf_truncated(src.name))
    if shx_records != dbf_records:
        raise SourceError(
            msg(
                "shx_dbf_mismatch",
                "%(file)s: the .shx lists %(shapes)s shapes but the .dbf has %(records)s "
                "records; the parts do not belong together",
                file=src.name,
                shapes=shx_records,
                records=dbf_records,
            )
        )
    with shx.open("rb") as f:
        f.seek(100 + (shx_records - 1) * 8) if shx_records else None
        last = f.read(8)
    if shx_records and len(last) == 8:
        offset, length = struct.unpack(">ii", last)
        if (offset + 4 + length) * 2 > shp_size:
            raise SourceError(
                msg(
                    "shp_truncated",
                    "%(file)s: the .shp file is truncated (its index points past it)",
                    file=src.name,
                )
            )


def _dbf_truncated(shown: str) -> Message:
    return msg("dbf_truncated", "%(file)s: the .dbf file is truncated", file=shown)


def plan(
    src: Source,
    profile: Profile,
    *,
    encoding: str | None,
    srs: str | None,
    central_meridian: int | None,
    fields: dict[str, str] | None = None,
) -> ReadPlan:
    """Open the source, decide its encoding and CRS and match the profile's fields (``fields``:
    register field -> file field, chosen by the user, before the profile's names)."""
    enc = None
    if src.kind == "shapefile":
        _check_shapefile_parts(src)
        enc = enc_mod.decide(src.sidecar(".dbf"), src.sidecar_text(".cpg"), encoding)
    elif encoding:
        enc = enc_mod.Decision(enc_mod.codec_name(encoding), enc_mod.CHOSEN)
    try:
        info = gdal.pyogrio().read_info(
            src.path,
            layer=src.layer,
            encoding=enc.value if enc else None,
            force_total_bounds=True,
            force_feature_count=True,
        )
    except (DataSourceError, DataLayerError) as exc:
        raise _unreadable(src, exc) from exc
    if info.get("driver") != gdal.DRIVERS[src.kind]:
        raise SourceError(not_that_kind(src.name, src.kind))
    if len(info["fields"]) > MAX_FIELDS:
        n = len(info["fields"])
        raise SourceError(
            msg(
                "too_many_fields",
                "%(file)s has %(n)s fields; at most %(max)s",
                file=src.name,
                n=n,
                max=MAX_FIELDS,
            )
        )
    bounds = info["total_bounds"]
    if not info["features"] or bounds is None or not np.isfinite(bounds).all():
        raise SourceError(
            msg("no_features", "%(file)s holds no features with a geometry", file=src.name)
        )
    bounds = tuple(float(v) for v in info["total_bounds"])
    crs = crs_mod.decide(srs, info["crs"], bounds, central_meridian)
    matched = _matched(src, profile, [str(c) for c in info["fields"]], fields or {})
    return ReadPlan(src, profile, matched, enc, crs, int(info["features"]))


def _given_fields(
    src: Source, profile: Profile, columns: list[str], fields: dict[str, str]
) -> dict[str, str]:
    """The user's mapping (register field -> file field) with the file's own spelling of each
    field; SourceError for a register field the layer does not have or a field the file
    does not have (naming the file's fields)."""
    by_upper = {c.upper(): c for c in columns}
    given: dict[str, str] = {}
    for target, column in fields.items():
        if target not in profile.targets:
            raise SourceError(
                msg(
                    "field_mapping_unknown_target",
                    "%(file)s: %(field)s is not a field of the %(layer)s; its fields are "
                    "%(targets)s",
                    file=src.name,
                    field=repr(shown_name(target, 40)),
                    layer=_LAYER_NAMES.get(profile.name, profile.name),
                    targets=profile.targets,
                )
            )
        if column.upper() not in by_upper:
            raise SourceError(
                msg(
                    "field_mapping_unknown_column",
                    "%(file)s has no field %(column)s (for %(field)s); its fields are: %(fields)s",
                    file=src.name,
                    column=repr(shown_name(column, 40)),
                    field=target,
                    fields=[shown_name(c, 40) for c in columns] or ["-"],
                )
            )
        given[target] = by_upper[column.upper()]
    return given


def _matched(
    src: Source, profile: Profile, columns: list[str], fields: dict[str, str]
) -> dict[str, str]:
    """The profile's fields in ``columns`` (target -> column), the user's mapping first;
    SourceError names those a profile needs and the file lacks."""
    matched = profile.match(columns, _given_fields(src, profile, columns, fields))
    missing = profile.missing(matched)
    if missing:
        names = [f"{spec.target} ({'/'.join(spec.aliases)})" for spec in missing]
        layer = _LAYER_NAMES.get(profile.name, profile.name)
        raise SourceError(
            msg(
                "fields_missing",
                "%(file)s lacks the %(layer)s field(s) %(names)s; its fields are: %(fields)s",
                file=src.name,
                layer=layer,
                names=names,
                fields=columns,
            )
        )
    return matched


def _unreadable(src: Source, exc: Exception) -> SourceError:
    """GDAL's own message names paths and may quote the file: it goes to the log only."""
    log.warning("GDAL cannot read %s: %s", src.path, exc)
    kind = KIND_NAMES[src.kind]
    return SourceError(
        msg(
            "file_unreadable",
            "%(file)s: not readable as a %(kind)s (damaged or not that format)",
            file=src.name,
            kind=kind,
        )
    )


def _as_text(arr: pa.Array) -> pa.Array:
    if pa.types.is_floating(arr.type):  # 12.0 -> "12", as a code should read
        as_int = pc.cast(pc.round(arr), pa.int64(), safe=False)
        whole = pc.equal(arr, pc.cast(as_int, arr.type))
        arr = pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(arr, pa.string()))
    elif not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    return pc.utf8_trim_whitespace(_no_nul(arr))


def _no_nul(arr: pa.Array) -> pa.Array:
    """Text without NUL and the other control characters but tab and line breaks (DBF
    padding and noise: PostgreSQL text cannot hold NUL, an .xlsx cell none of them)."""
    return pc.replace_substring_regex(arr, "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]", "")


def _as_number(arr: pa.Array) -> pa.Array:
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        arr = pc.cast(arr, pa.float64())
    else:
        out = []
        for v in arr.to_pylist():
            try:
                out.append(float(str(v).strip()) if v is not None else None)
            except ValueError:
                out.append(None)
        arr = pa.array(out, pa.float64())
    return pc.if_else(pc.is_finite(arr), arr, pa.scalar(None, pa.float64()))


def _parse_date(v) -> dt.date | None:
    if v is None or isinstance(v, dt.date):
        return v.date() if isinstance(v, dt.datetime) else v
    try:
        return dt.date.fromisoformat(str(v).strip()[:10].replace("/", "-"))
    except ValueError:
        return None


def _as_date(arr: pa.Array) -> pa.Array:
    if pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type):
        return pc.cast(arr, pa.date32())
    return pa.array([_parse_date(v) for v in arr.to_pylist()], pa.date32())


def map_unique(arr: pa.Array, fn: Callable[[Any], Any], type_: pa.DataType) -> pa.Array:
    """fn applied to each distinct value of arr (codes, names and stages repeat a lot)."""
    uniques = pc.unique(arr)
    mapped = pa.array([fn(v) for v in uniques.to_pylist()], type_)
    return pc.take(mapped, pc.index_in(arr, value_set=uniques))


CLEAN = {"text": _as_text, "number": _as_number, "date": _as_date}


def plain(arr: pa.Array) -> pa.Array:
    """An extra field as it will be stored in the JSONB attributes (no NaN, no binary)."""
    if pa.types.is_floating(arr.type):
        return pc.if_else(pc.is_finite(arr), arr, pa.scalar(None, arr.type))
    if pa.types.is_dictionary(arr.type):
        return pc.cast(arr, arr.type.value_type)
    if pa.types.is_integer(arr.type) or pa.types.is_boolean(arr.type):
        return arr
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        return pa.array([v.hex() if v is not None else None for v in arr.to_pylist()])
    return _no_nul(pc.cast(arr, pa.string()))


NULL_SHAPE = msg("record_null_shape", "empty geometry (null shape)")
EMPTY = msg("record_geometry_empty", "empty geometry")
NOT_FINITE = msg("record_not_finite", "NaN or infinite coordinates")
OUTSIDE = msg("outside_region", "outside the zone's region after reprojection")


def _geometry_problems(geoms: np.ndarray) -> dict[int, Message]:
    """index -> reason, for null, empty, non-polygonal and non-finite geometries."""
    out: dict[int, Message] = {}
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    for i in np.flatnonzero(missing):
        out[int(i)] = NULL_SHAPE
    for i in np.flatnonzero(empty):
        out[int(i)] = EMPTY
    for i in np.flatnonzero(~missing & ~empty & ~polygonal):
        kind = geoms[i].geom_type
        out[int(i)] = msg("record_not_polygon", "not a polygon (%(kind)s)", kind=kind)
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    for i in np.unique(index[~np.isfinite(coords).all(axis=1)]):
        out.setdefault(int(i), NOT_FINITE)
    return out


def _polygonal_part(g):
    parts = [p for p in shapely.get_parts(g) if p.geom_type in _POLYGONAL and not p.is_empty]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(polys) if polys else None


@dataclass
class Reading:
    """How a source's records are read: reprojected to the storage CRS, kept to the region
    (in that CRS), made valid (``repair``) or set aside. Records set aside are appended to
    ``problems``; text of the name, owner and location fields to ``text_samples`` (for the
    mojibake check)."""

    reproject: crs_mod.Reprojector
    region: Any  # a shapely geometry in the storage CRS
    repair: bool
    problems: list[Problem]
    text_samples: list[str] = field(default_factory=list)


def read_chunks(read_plan: ReadPlan, reading: Reading) -> Iterator[Chunk]:
    """Yield checked chunks; the records set aside are appended to ``reading.problems``."""
    try:
        stream = gdal.pyogrio().open_arrow(
            read_plan.source.path,
            layer=read_plan.source.layer,
            encoding=read_plan.encoding.value if read_plan.encoding else None,
            batch_size=CHUNK,
            use_pyarrow=True,
        )
        meta, batches = stream.__enter__()
    except (DataSourceError, DataLayerError) as exc:
        raise _unreadable(read_plan.source, exc) from exc
    try:
        geometry_column = meta["geometry_name"] or "wkb_geometry"
        start = 1
        for batch in batches:
            yield _chunk(read_plan, reading, batch, geometry_column, start)
            start += batch.num_rows
    finally:
        stream.__exit__(None, None, None)


def _checked_geometries(
    reading: Reading, records: np.ndarray, codes: pa.Array, wkb: np.ndarray
) -> tuple[np.ndarray, dict[int, Message], list[Problem]]:
    """A batch's geometries, 2D, reprojected, made valid where ``reading.repair`` may;
    the index -> reason of those to set aside; the repairs made."""
    with np.errstate(invalid="ignore"):  # NaN coordinates are reported, not warned about
        geoms = shapely.force_2d(shapely.from_wkb(wkb, on_invalid="ignore"))
        bad = _geometry_problems(geoms)
    ok = np.ones(len(geoms), dtype=bool)
    ok[list(bad)] = False
    geoms[ok] = reading.reproject(geoms[ok])
    repaired: list[Problem] = []
    for i in np.flatnonzero(ok & ~shapely.is_valid(geoms)):
        reason = shapely.is_valid_reason(geoms[i])
        fixed = _polygonal_part(shapely.make_valid(geoms[i])) if reading.repair else None
        if fixed is not None and fixed.is_valid:
            geoms[i] = fixed
            done = msg("record_repaired", "repaired: %(reason)s", reason=reason)
            repaired.append(Problem(int(records[i]), codes[i].as_py(), done))
            continue
        bad[int(i)] = msg("record_geometry_invalid", "invalid geometry: %(reason)s", reason=reason)
        ok[i] = False
    # in the region: the bounds of every shape inside the region's envelope
    x0, y0, x1, y1 = reading.region.bounds
    box = shapely.bounds(geoms[ok])
    inside = (box[:, 0] >= x0) & (box[:, 1] >= y0) & (box[:, 2] <= x1) & (box[:, 3] <= y1)
    for i in np.flatnonzero(ok)[~inside]:
        bad[int(i)] = OUTSIDE
    return geoms, bad, repaired


def _chunk(
    read_plan: ReadPlan, reading: Reading, batch: pa.RecordBatch, geometry_column: str, start: int
) -> Chunk:
    """One batch of records, checked and cleaned; ``start`` is its first record's number."""
    targets = {spec.target: spec for spec in read_plan.profile.fields}
    n = batch.num_rows
    records = np.arange(start, start + n)
    code_column = read_plan.columns.get("code")
    codes = (
        pc.fill_null(_as_text(batch.column(code_column)), "") if code_column else pa.array([""] * n)
    )
    wkb = batch.column(geometry_column).to_numpy(zero_copy_only=False)
    geoms, bad, repaired = _checked_geometries(reading, records, codes, wkb)
    if targets["code"].required:
        for i in np.flatnonzero(pc.equal(codes, "").to_numpy(zero_copy_only=False)):
            bad.setdefault(int(i), msg("no_code", "no code (%(field)s)", field=code_column))
    for i, reason in sorted(bad.items()):
        reading.problems.append(Problem(int(records[i]), codes[i].as_py(), reason))
    keep = np.ones(n, dtype=bool)
    keep[list(bad)] = False
    mask = pa.array(keep)
    values = {
        target: CLEAN[targets[target].kind](pc.filter(batch.column(column), mask))
        for target, column in read_plan.columns.items()
    }
    if "code" in values:
        values["code"] = pc.fill_null(values["code"], "")
    stored = {column for target, column in read_plan.columns.items() if targets[target].stored}
    extra = [c for c in batch.schema.names if c not in stored and c != geometry_column]
    extras = pa.table({c: plain(pc.filter(batch.column(c), mask)) for c in extra})
    for target in ("name", "owner", "location"):
        if target in values:
            samples = values[target].slice(0, 200).to_pylist()
            reading.text_samples.extend(v for v in samples if v)
    return Chunk(records[keep], values, extras, geoms[keep], start + n - 1, repaired)
