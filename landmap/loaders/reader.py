"""Read a source in chunks: decide encoding and CRS, check every record, reproject.

Nothing here writes to the database. Each chunk comes out as plain columns (the profile's
targets), the JSONB attributes of the fields no profile names, and 2D geometries in the
storage CRS; the records that fail a check come out as problems.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from landmap.geo import crs as crs_mod
from landmap.geo import encoding as enc_mod
from landmap.loaders.profiles import Profile
from landmap.loaders.source import Source, SourceError

CHUNK = 50_000
_POLYGONAL = {"Polygon", "MultiPolygon"}


@dataclass(frozen=True)
class Problem:
    record: int  # 1-based position in the file
    code: str
    reason: str

    def __str__(self) -> str:
        return f"record {self.record} ({self.code or 'no code'}): {self.reason}"


@dataclass
class Chunk:
    records: np.ndarray  # 1-based record numbers of the rows kept
    values: dict[str, list[Any]]  # profile target -> values
    attributes: list[dict[str, Any]]
    geoms: np.ndarray  # shapely geometries, 2D, storage CRS, valid
    repaired: list[Problem] = field(default_factory=list)


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
        raise SourceError(f"{src.name}: the .shp file is not a shapefile (bad header)")
    declared = struct.unpack(">i", head[24:28])[0] * 2
    if declared != shp_size:
        raise SourceError(
            f"{src.name}: the .shp file is truncated or padded ({shp_size} bytes, its header "
            f"says {declared}); ask for the file again"
        )
    shx_records = (shx.stat().st_size - 100) // 8
    with dbf.open("rb") as f:
        dhead = f.read(12)
    if len(dhead) < 12:
        raise SourceError(f"{src.name}: the .dbf file is truncated")
    dbf_records = struct.unpack("<I", dhead[4:8])[0]
    header_len, record_len = struct.unpack("<HH", dhead[8:12])
    if dbf.stat().st_size < header_len + dbf_records * record_len:
        raise SourceError(
            f"{src.name}: the .dbf file is truncated ({dbf_records} records declared)"
        )
    if shx_records != dbf_records:
        raise SourceError(
            f"{src.name}: the .shx lists {shx_records} shapes but the .dbf has {dbf_records} "
            "records; the parts do not belong together"
        )
    with shx.open("rb") as f:
        f.seek(100 + (shx_records - 1) * 8) if shx_records else None
        last = f.read(8)
    if shx_records and len(last) == 8:
        offset, length = struct.unpack(">ii", last)
        if (offset + 4 + length) * 2 > shp_size:
            raise SourceError(f"{src.name}: the .shp file is truncated (its index points past it)")


def plan(
    src: Source,
    profile: Profile,
    *,
    encoding: str | None,
    srs: str | None,
    central_meridian: int | None,
) -> ReadPlan:
    """Open the source, decide its encoding and CRS and match the profile's fields."""
    enc = None
    if src.kind == "shapefile":
        _check_shapefile_parts(src)
        enc = enc_mod.decide(src.sidecar(".dbf"), src.sidecar_text(".cpg"), encoding)
    elif encoding:
        enc = enc_mod.Decision(enc_mod.codec_name(encoding), "given with --encoding")
    try:
        info = pyogrio.read_info(
            src.path,
            layer=src.layer,
            encoding=enc.value if enc else None,
            force_total_bounds=True,
            force_feature_count=True,
        )
    except (DataSourceError, DataLayerError) as exc:
        raise SourceError(f"{src.name}: GDAL cannot read it ({exc})") from exc
    bounds = tuple(float(v) for v in info["total_bounds"])
    crs = crs_mod.decide(srs, info["crs"], bounds, central_meridian)
    columns = [str(c) for c in info["fields"]]
    matched = profile.match(columns)
    missing = profile.missing(matched)
    if missing:
        names = ", ".join(f"{f.target} ({'/'.join(f.aliases)})" for f in missing)
        raise SourceError(
            f"{src.name} lacks the {profile.name} field(s) {names}; its fields are: "
            f"{', '.join(columns)}"
        )
    return ReadPlan(src, profile, matched, enc, crs, int(info["features"]))


def _clean(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if kind == "text":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()
    if kind == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip()[:10].replace("/", "-"))
        except ValueError:
            return None
    return value


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _geometry_problems(geoms: np.ndarray) -> dict[int, str]:
    """index -> reason, for null, empty, non-polygonal and non-finite geometries."""
    out: dict[int, str] = {}
    missing = shapely.is_missing(geoms)
    kinds = shapely.get_type_id(geoms)
    for i in np.flatnonzero(missing):
        out[int(i)] = "empty geometry (null shape)"
    for i in np.flatnonzero(~missing & shapely.is_empty(geoms)):
        out[int(i)] = "empty geometry"
    polygonal = np.isin(kinds, [3, 6])
    for i in np.flatnonzero(~missing & ~polygonal):
        if int(i) not in out:
            out[int(i)] = f"not a polygon ({geoms[i].geom_type})"
    for i in np.flatnonzero(polygonal & ~shapely.is_empty(geoms)):
        coords = shapely.get_coordinates(geoms[i])
        if not np.isfinite(coords).all():
            out[int(i)] = "NaN or infinite coordinates"
    return out


def _polygonal_part(g):
    parts = [p for p in shapely.get_parts(g) if p.geom_type in _POLYGONAL and not p.is_empty]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(polys) if polys else None


def read_chunks(
    rp: ReadPlan,
    reproject: crs_mod.Reprojector,
    region,
    *,
    repair: bool,
    problems: list[Problem],
    text_samples: list[str],
) -> Iterator[Chunk]:
    """Yield checked chunks; problems (records set aside) are appended to ``problems``."""
    shapely.prepare(region)
    try:
        stream = pyogrio.open_arrow(
            rp.source.path,
            layer=rp.source.layer,
            encoding=rp.encoding.value if rp.encoding else None,
            batch_size=CHUNK,
            use_pyarrow=True,
        )
        meta, reader = stream.__enter__()
    except (DataSourceError, DataLayerError) as exc:
        raise SourceError(f"{rp.source.name}: GDAL cannot read it ({exc})") from exc
    try:
        yield from _chunks(rp, meta, reader, reproject, region, repair, problems, text_samples)
    finally:
        stream.__exit__(None, None, None)


def _chunks(rp, meta, reader, reproject, region, repair, problems, text_samples):
    targets = {f.target: f for f in rp.profile.fields}
    src_cols = {c for t, c in rp.columns.items() if targets[t].stored}
    code_col = rp.columns.get("code")
    code_required = targets["code"].required
    geom_col = meta["geometry_name"] or "wkb_geometry"
    start = 1
    for batch in reader:
        table = batch.to_pydict()
        n = len(table[geom_col])
        records = np.arange(start, start + n)
        start += n
        codes = [str(_clean(v, "text") or "") for v in table[code_col]] if code_col else [""] * n
        with np.errstate(invalid="ignore"):  # NaN coordinates are reported, not warned about
            geoms = shapely.force_2d(shapely.from_wkb(table[geom_col], on_invalid="ignore"))
            bad = _geometry_problems(geoms)
        ok = np.array([i not in bad for i in range(n)], dtype=bool)
        if ok.any():
            geoms[ok] = reproject(geoms[ok])
        repaired: list[Problem] = []
        invalid = ok & ~shapely.is_valid(geoms)
        for i in np.flatnonzero(invalid):
            reason = shapely.is_valid_reason(geoms[i])
            if repair:
                fixed = _polygonal_part(shapely.make_valid(geoms[i]))
                if fixed is not None and fixed.is_valid:
                    geoms[i] = fixed
                    repaired.append(Problem(int(records[i]), codes[i], f"repaired: {reason}"))
                    continue
            bad[int(i)] = f"invalid geometry: {reason}"
        ok = np.array([i not in bad for i in range(n)], dtype=bool)
        if ok.any():
            inside = shapely.within(geoms[ok], region)
            for i, good in zip(np.flatnonzero(ok), inside, strict=True):
                if not good:
                    bad[int(i)] = "outside the zone's region after reprojection"
        for i, code in enumerate(codes):
            if code_required and not code and i not in bad:
                bad[i] = f"no code ({code_col})"
        for i, reason in sorted(bad.items()):
            problems.append(Problem(int(records[i]), codes[i], reason))
        keep = np.array([i not in bad for i in range(n)], dtype=bool)
        values = {
            t: [_clean(v, targets[t].kind) for v, k in zip(table[c], keep, strict=True) if k]
            for t, c in rp.columns.items()
        }
        extra = [c for c in table if c not in src_cols and c != geom_col]
        attributes = [{c: _jsonable(table[c][i]) for c in extra} for i in np.flatnonzero(keep)]
        for t in ("name", "owner", "location"):
            if t in values:
                text_samples.extend(v for v in values[t][:200] if v)
        yield Chunk(records[keep], values, attributes, geoms[keep], repaired)
