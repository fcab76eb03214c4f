"""Mapbox Vector Tiles from PostGIS, one SQL query per tile, and a cache that never serves a
tile whose data has changed.

Each tile query selects rows with the spatial index in the storage SRID (the tile envelope is
transformed, not the rows), simplifies by the zoom's pixel size before transforming to
EPSG:3857, and carries only the attributes the map styles and labels need. A cached tile is
served only while the change log (tile_change, written by triggers) holds the same number of
entries, up to the same id, over the tile's area: a stage change, an import or an approved
boundary makes the tiles under it stale at once.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
WORLD = 40075016.68557849  # EPSG:3857 width in metres


class TileError(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class TileFilter:
    zone: str | None = None
    stage: str | None = None
    project_id: int | None = None
    batch_id: int | None = None
    as_of: Any = None  # datetime.date

    def key(self) -> tuple:
        return (self.zone, self.stage, self.project_id, self.batch_id,
                self.as_of.isoformat() if self.as_of else None)  # fmt: skip


_ENVELOPE = f"""
    WITH env AS (
        SELECT ST_TileEnvelope(:z, :x, :y) AS merc,
               ST_Transform(ST_Segmentize(ST_TileEnvelope(:z, :x, :y,
                   margin => {BUFFER / EXTENT}), :seg), lm_storage_srid()) AS local
    )
"""


def _geom(expr: str = "t.geom") -> str:
    return (f"ST_AsMVTGeom(ST_Transform(ST_SimplifyPreserveTopology({expr}, :tol), 3857), "
            f"env.merc, {EXTENT}, {BUFFER}, true)")  # fmt: skip


def _parcels_sql(f: TileFilter) -> tuple[str, dict[str, Any]]:
    stage = "lm_stage_as_of(t.id, t.stage, CAST(:as_of AS date))" if f.as_of else "t.stage"
    dispute = ("lm_dispute_as_of(t.id, t.dispute, CAST(:as_of AS date))" if f.as_of
               else "t.dispute")  # fmt: skip
    where, params = ["t.geom && env.local"], {"as_of": f.as_of}
    if f.zone:
        where.append("t.zone_id = (SELECT id FROM zone WHERE code = :zone)")
        params["zone"] = f.zone
    if f.stage:
        where.append(f"{stage} = :stage")
        params["stage"] = f.stage
    if f.project_id is not None:
        where.append("t.project_id = :project")
        params["project"] = f.project_id
    if f.batch_id is not None:
        where.append("t.batch_id = :batch")
        params["batch"] = f.batch_id
    sql = f"""{_ENVELOPE}
        SELECT ST_AsMVT(m, 'parcels', {EXTENT}, 'geom') FROM (
            SELECT t.code, {stage} AS stage, {dispute} AS dispute,
                   EXISTS (SELECT 1 FROM commercial_plot c WHERE c.parcel_id = t.id) AS commercial,
                   lm_quota_status(t.project_id, t.batch_id) AS quota,
                   {_geom()} AS geom
            FROM parcel t, env WHERE {" AND ".join(where)}
        ) m WHERE m.geom IS NOT NULL"""
    return sql, params


def _zones_sql(f: TileFilter) -> tuple[str, dict[str, Any]]:
    when = ("b.status <> 'draft' AND b.valid_from <= :as_of AND "
            "(b.valid_to IS NULL OR b.valid_to > :as_of)" if f.as_of
            else "b.status = 'current'")  # fmt: skip
    return (
        f"""{_ENVELOPE}
        SELECT ST_AsMVT(m, 'zones', {EXTENT}, 'geom') FROM (
            SELECT z.code, z.name, {_geom("b.geom")} AS geom
            FROM zone_boundary b JOIN zone z ON z.id = b.zone_id, env
            WHERE b.geom && env.local AND {when}
        ) m WHERE m.geom IS NOT NULL""",
        {"as_of": f.as_of},
    )


def _simple_sql(table: str, layer: str, columns: str) -> tuple[str, dict[str, Any]]:
    return (
        f"""{_ENVELOPE}
        SELECT ST_AsMVT(m, '{layer}', {EXTENT}, 'geom') FROM (
            SELECT {columns}, {_geom()} AS geom FROM {table} t, env WHERE t.geom && env.local
        ) m WHERE m.geom IS NOT NULL""",
        {},
    )


def tile_sql(layer: str, f: TileFilter) -> tuple[str, dict[str, Any]]:
    if layer == "parcels":
        return _parcels_sql(f)
    if layer == "zones":
        return _zones_sql(f)
    if layer == "landuse":
        return _simple_sql("landuse_patch", "landuse", "t.code, t.land_use_code")
    if layer == "farmland":
        return _simple_sql("farmland", "farmland", "t.code")
    raise TileError(f"unknown layer {layer!r}; layers are {', '.join(LAYERS)}", 404)


LAYERS = ("parcels", "zones", "landuse", "farmland")


def check_address(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise TileError(f"zoom must be 0..{MAX_ZOOM}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise TileError(f"tile {z}/{x}/{y} is outside the world")


def params_for(z: int, x: int, y: int) -> dict[str, Any]:
    pixel = WORLD / 2**z / EXTENT
    return {"z": z, "x": x, "y": y, "tol": pixel * 0.5, "seg": WORLD / 2**z / 8}


def render(session: Session, layer: str, z: int, x: int, y: int, f: TileFilter) -> bytes:
    """The tile's bytes (empty when no feature falls in it)."""
    check_address(z, x, y)
    sql, params = tile_sql(layer, f)
    data = session.execute(text(sql), {**params, **params_for(z, x, y)}).scalar()
    return bytes(data or b"")


def freshness(session: Session, layer: str, z: int, x: int, y: int) -> tuple[int, int]:
    """(entries, last id) of the change log over the tile: equal values, same data."""
    row = session.execute(
        text(f"""{_ENVELOPE}
            SELECT count(c.id), coalesce(max(c.id), 0) FROM tile_change c, env
            WHERE c.layer = :layer AND c.geom && env.local"""),
        {"layer": layer, **params_for(z, x, y)},
    ).one()
    return int(row[0]), int(row[1])


class TileCache:
    """An in-process LRU cache of tiles, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[tuple, tuple[tuple[int, int], bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, token: tuple[int, int]) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] != token:
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: tuple, token: tuple[int, int], data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old[1])
            self._items[key] = (token, data)
            self.size += len(data)
            while self.size > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self.size -= len(dropped)


@dataclass(frozen=True)
class Tile:
    data: bytes
    etag: str
    cached: bool


def get_tile(
    session: Session, cache: TileCache, layer: str, z: int, x: int, y: int, f: TileFilter
) -> Tile:
    if layer not in LAYERS:
        raise TileError(f"unknown layer {layer!r}; layers are {', '.join(LAYERS)}", 404)
    check_address(z, x, y)
    key = (layer, z, x, y, f.key())
    token = freshness(session, layer, z, x, y)
    etag = hashlib.sha1(repr((key, token)).encode()).hexdigest()
    data = cache.get(key, token)
    if data is not None:
        return Tile(data, etag, True)
    data = render(session, layer, z, x, y, f)
    cache.put(key, token, data)
    return Tile(data, etag, False)
