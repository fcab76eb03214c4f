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

import contextlib
import gzip
import hashlib
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.geo.units import m2_to_mu
from landmap.messages import msg
from landmap.services import Refused
from landmap.services.parcels import filter_sql, state_sql

log = logging.getLogger(__name__)

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
WORLD = 40075016.68557849  # EPSG:3857 width in metres


class TileError(Refused):
    pass


@dataclass(frozen=True)
class TileFilter:
    zone: str | None = None
    stage: str | None = None
    project_id: int | None = None
    batch_id: int | None = None
    as_of: Any = None  # datetime.date
    quota: bool = False  # carry each parcel's quota status (the quota ledger's map)
    quota_year: int | None = None  # the status in that year's ledger (None: every year's)

    def key(self) -> tuple:
        as_of = self.as_of.isoformat() if self.as_of else None
        return (
            self.zone,
            self.stage,
            self.project_id,
            self.batch_id,
            as_of,
            self.quota,
            self.quota_year,
        )


# materialized: the envelope is transformed once, and a tile query never fans out to parallel
# workers (each would start PROJ afresh: 50 ms, for a tile that takes 5)
_ENVELOPE = f"""
    WITH env AS MATERIALIZED (
        SELECT ST_TileEnvelope(:z, :x, :y) AS merc,
               ST_Transform(ST_Segmentize(ST_TileEnvelope(:z, :x, :y,
                   margin => {BUFFER / EXTENT}), :seg), lm_storage_srid()) AS local
    )
"""


def _geom(expr: str = "t.geom") -> str:
    return (
        f"ST_AsMVTGeom(ST_Transform(ST_Simplify({expr}, :tol, true), 3857), "
        f"env.merc, {EXTENT}, {BUFFER}, true)"
    )


_QUOTA_STATUS = "lm_quota_status(t.project_id, t.batch_id, CAST(:quota_year AS integer)) AS quota,"


def _parcels_sql(selection: TileFilter) -> tuple[str, dict[str, Any]]:
    state = state_sql("t", bool(selection.as_of))
    stage, dispute = state["stage"], state["dispute"]
    # parcels smaller than a couple of screen pixels at this zoom are left out: invisible,
    # and at low zooms they are most of the work
    where, params = filter_sql(selection, "t")
    where = ["t.geom && env.local", "t.area_mu >= :min_mu", *where]
    if selection.quota:
        params["quota_year"] = selection.quota_year
    sql = f"""
        SELECT ST_AsMVT(m, 'parcels', {EXTENT}, 'geom') FROM (
            SELECT t.code, {stage} AS stage, {dispute} AS dispute,
                   EXISTS (SELECT 1 FROM commercial_plot c WHERE c.parcel_id = t.id) AS commercial,
                   {_QUOTA_STATUS if selection.quota else ""}
                   {_geom()} AS geom
            FROM parcel t, env WHERE {" AND ".join(where)}
        ) m WHERE m.geom IS NOT NULL"""
    return sql, params


def boundary_in_force_sql(as_of: bool) -> str:
    """SQL condition: zone boundary ``b`` is in force on the day bound as :as_of (``as_of``),
    or is the current one."""
    if as_of:
        return (
            "b.status <> 'draft' AND b.valid_from <= :as_of AND "
            "(b.valid_to IS NULL OR b.valid_to > :as_of)"
        )
    return "b.status = 'current'"


def _zones_sql(selection: TileFilter) -> tuple[str, dict[str, Any]]:
    when = boundary_in_force_sql(bool(selection.as_of))
    return (
        f"""
        SELECT ST_AsMVT(m, 'zones', {EXTENT}, 'geom') FROM (
            SELECT z.code, z.name, {_geom("b.geom")} AS geom
            FROM zone_boundary b JOIN zone z ON z.id = b.zone_id, env
            WHERE b.geom && env.local AND {when}
        ) m WHERE m.geom IS NOT NULL""",
        {"as_of": selection.as_of},
    )


def _simple_sql(table: str, layer: str, columns: str) -> tuple[str, dict[str, Any]]:
    return (
        f"""
        SELECT ST_AsMVT(m, '{layer}', {EXTENT}, 'geom') FROM (
            SELECT {columns}, {_geom()} AS geom FROM {table} t, env WHERE t.geom && env.local
        ) m WHERE m.geom IS NOT NULL""",
        {},
    )


def tile_sql(layer: str, selection: TileFilter) -> tuple[str, dict[str, Any]]:
    """The tile query: one statement, parameters z, x, y and those of params_for()."""
    body, params = _tile_body(layer, selection)
    return _ENVELOPE + body, params


def _tile_body(layer: str, selection: TileFilter) -> tuple[str, dict[str, Any]]:
    if layer == "parcels":
        return _parcels_sql(selection)
    if layer == "zones":
        return _zones_sql(selection)
    if layer == "landuse":
        return _simple_sql("landuse_patch", "landuse", "t.code, t.land_use_code")
    if layer == "farmland":
        return _simple_sql("farmland", "farmland", "t.code")
    raise _unknown_layer(layer)


LAYERS = ("parcels", "zones", "landuse", "farmland")


def _unknown_layer(layer: str) -> TileError:
    return TileError(
        msg(
            "unknown_tile_layer",
            "there is no tile layer %(layer)s; the layers are %(layers)s",
            layer=layer[:40],
            layers=list(LAYERS),
        ),
        404,
    )


def check_layer(layer: str) -> None:
    if layer not in LAYERS:
        raise _unknown_layer(layer)


def check_address(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise TileError(msg("bad_zoom", "the zoom level must be 0 to %(max)s", max=MAX_ZOOM))
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise TileError(
            msg("tile_outside", "tile %(z)s/%(x)s/%(y)s is outside the world", z=z, x=x, y=y)
        )


MIN_PIXELS = 2.0  # a parcel smaller than this many screen pixels square is not drawn
LATITUDE_SCALE = 0.87  # ground metres per Web Mercator metre near 29.5°N


def params_for(z: int, x: int, y: int) -> dict[str, Any]:
    pixel = WORLD / 2**z / EXTENT
    screen = WORLD / 2**z / 256 * LATITUDE_SCALE
    min_m2 = (MIN_PIXELS * screen) ** 2
    return {
        "z": z,
        "x": x,
        "y": y,
        "tol": pixel * 0.5,
        "seg": WORLD / 2**z / 8,
        "min_mu": m2_to_mu(min_m2),
    }


# (the change log's identity, entries, last id) over the tile: equal values, same data. The
# log's table oid changes when the schema is made anew, so a cache never outlives it. A tile
# with no entries has the id below the log's oldest as its last id (0 until the log is first
# pruned): after a prune it differs, see prune_tile_changes.
_TOKEN = """
    SELECT ARRAY['tile_change'::regclass::oid::bigint, count(c.id),
                 coalesce(max(c.id), (SELECT coalesce(min(id), 1) - 1 FROM tile_change))]
    FROM tile_change c, env WHERE c.layer = :layer AND c.geom && env.local"""


def prune_tile_changes(session: Session, older_than_days: int = 30) -> int:
    """Delete the change log's entries older than `older_than_days` (the oldest ids: always a
    run from the first id, and never the newest entry); how many went.

    Safe although the freshness token counts entries: tokens only ever move on. Deleting
    entries over a tile lowers its count (its last id stays, or drops to the id below the
    log's oldest, which is at or above every deleted id), so a tile cached before is drawn
    again, never served stale; and a tile changed since it was cached has lost an entry
    newer than its token's last id, so its token cannot come back to the cached one.
    """
    if older_than_days < 0:
        raise Refused(msg("prune_days_negative", "the number of days must be 0 or more"))
    return session.execute(
        text("""
        DELETE FROM tile_change WHERE id < coalesce(
            (SELECT min(id) FROM tile_change WHERE at >= now() - make_interval(days => :days)),
            (SELECT max(id) FROM tile_change))"""),
        {"days": older_than_days},
    ).rowcount


def freshness(session: Session, layer: str, z: int, x: int, y: int) -> tuple[int, ...]:
    """The tile's freshness token: while it stays equal, so does the tile."""
    token = session.execute(
        text(_ENVELOPE + _TOKEN), {"layer": layer, **params_for(z, x, y)}
    ).scalar_one()
    return tuple(token)


def render_with_token(
    session: Session, layer: str, z: int, x: int, y: int, selection: TileFilter
) -> tuple[tuple[int, ...], bytes]:
    """The tile and its freshness token, in one statement: one round trip, one snapshot."""
    body, params = _tile_body(layer, selection)
    token, data = session.execute(
        text(f"{_ENVELOPE} SELECT ({_TOKEN}), ({body})"),
        {**params, "layer": layer, **params_for(z, x, y)},
    ).one()
    return tuple(token), bytes(data or b"")


class TileCache:
    """Tiles kept in process (an LRU bounded in bytes) and, when a folder is given, on disk,
    where every worker process finds them; each under its freshness token.

    A disk file holds one tile: its token on the first line, then the gzipped tile. Files are
    written by a background thread, after the response has gone: until one lands, another
    process simply renders the tile itself. A file is replaced whole (rename), never half read.
    The folder is bounded (`disk_bytes`, None: unbounded): see _DiskBudget. A tile read from
    disk has its file's time moved on (at most once a minute), so the tiles in use stay.
    """

    def __init__(
        self, max_bytes: int, folder: Path | None = None, disk_bytes: int | None = None
    ) -> None:
        self.max_bytes = max_bytes
        self.folder = folder
        self.disk_bytes = disk_bytes
        self.size = 0
        self._items: OrderedDict[tuple, tuple[tuple[int, ...], bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._writes: queue.SimpleQueue | None = None
        self._writer_pid = 0

    def _path(self, key: tuple) -> Path | None:
        if self.folder is None:
            return None
        name = hashlib.sha1(repr(key).encode()).hexdigest()
        return self.folder / name[:2] / f"{name}{TILE_SUFFIX}"

    @staticmethod
    def _header(token: tuple[int, ...]) -> bytes:
        return ("-".join(map(str, token)) + "\n").encode()

    def peek(self, key: tuple) -> tuple[tuple[int, ...], bytes] | None:
        """The tile last kept under `key` and its token, from memory or else from disk."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        path = self._path(key)
        if path is None:
            return None
        stored = _read_and_touch(path)
        if stored is None:
            return None
        header, _, data = stored.partition(b"\n")
        try:
            token = tuple(int(part) for part in header.split(b"-"))
        except ValueError:
            return None  # not a file this cache wrote
        self._remember(key, token, data)
        return token, data

    def put(self, key: tuple, token: tuple[int, ...], data: bytes) -> None:
        self._remember(key, token, data)
        path = self._path(key)
        if path is None:
            return
        if self._writer_pid != os.getpid():  # first write in this process (or after a fork)
            self._writes = queue.SimpleQueue()
            self._writer_pid = os.getpid()
            budget = None
            if self.disk_bytes is not None:
                budget = _DiskBudget(self.folder, self.disk_bytes)
            threading.Thread(
                target=self._write_loop, args=(self._writes, budget), daemon=True
            ).start()
        self._writes.put((path, self._header(token) + data))

    def flush(self) -> None:
        """Wait until every queued disk write has landed."""
        if self._writes is not None and self._writer_pid == os.getpid():
            done = threading.Event()
            self._writes.put((None, done))
            done.wait()

    @staticmethod
    def _write_loop(writes: queue.SimpleQueue, budget: _DiskBudget | None) -> None:
        made: set[Path] = set()
        suffix = f".{os.getpid()}.tmp"  # one writer per process: its own temporary name
        if budget is not None:
            budget.look()  # once, lazily: the files already there, of every process
        while True:
            path, data = writes.get()
            if path is None:
                data.set()
                continue
            try:
                if path.parent not in made:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    made.add(path.parent)
                tmp = path.with_name(path.name + suffix)
                tmp.write_bytes(data)
                replaced = _size(path)
                os.replace(tmp, path)
                if budget is not None:
                    budget.wrote(len(data) - replaced)
            except OSError:
                made.discard(path.parent)
                log.exception("tile cache: could not write %s", path)

    def _remember(self, key: tuple, token: tuple[int, ...], data: bytes) -> None:
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


TILE_SUFFIX = ".mvt.gz"
TOUCH_EVERY = 60.0  # seconds: a tile file read from disk has its time moved on this seldom
KEEP_AFTER_EVICTING = 0.9  # an eviction goes down to this share of the bound


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_and_touch(path: Path) -> bytes | None:
    """The file's bytes, its time moved on when older than TOUCH_EVERY; None when it is not
    there (never written, or evicted by some process even as it was being opened)."""
    try:
        with open(path, "rb") as f:
            stored = f.read()
            if os.fstat(f.fileno()).st_mtime < time.time() - TOUCH_EVERY:
                os.utime(path)
    except FileNotFoundError:
        return None
    return stored


class _DiskBudget:
    """The bytes of the tile files in a folder that several processes write, kept under a
    bound: the least recently used (oldest file time) go first, down to KEEP_AFTER_EVICTING
    of it. The running total is what the folder held when this process first looked plus
    what it wrote since; each eviction looks again, so other processes' files count then.
    Any process may evict; a file already gone is simply skipped."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.total = 0

    def _files(self) -> list[tuple[float, int, str]]:
        found: list[tuple[float, int, str]] = []
        for top in _entries(self.folder):
            if not top.is_dir(follow_symlinks=False):
                continue
            for entry in _entries(top.path):
                if entry.name.endswith(TILE_SUFFIX):
                    try:
                        stat = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    found.append((stat.st_mtime, stat.st_size, entry.path))
        return found

    def look(self) -> None:
        self.total = sum(size for _, size, _ in self._files())
        if self.total > self.max_bytes:
            self.evict()

    def wrote(self, grown: int) -> None:
        self.total += grown
        if self.total > self.max_bytes:
            self.evict()

    def evict(self) -> None:
        files = sorted(self._files())
        total = sum(size for _, size, _ in files)
        goal = self.max_bytes * KEEP_AFTER_EVICTING
        for _, size, path in files:
            if total <= goal:
                break
            with contextlib.suppress(FileNotFoundError):  # another process evicted it first
                os.unlink(path)
            total -= size
        self.total = total


def _entries(folder: Path | str) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []


@dataclass(frozen=True)
class Tile:
    gzipped: bytes  # the tile gzip-compressed, as kept and as most clients take it; b"" if empty
    etag: str
    cached: bool

    @property
    def data(self) -> bytes:
        return gzip.decompress(self.gzipped) if self.gzipped else b""


def get_tile(
    session: Session, cache: TileCache, layer: str, z: int, x: int, y: int, selection: TileFilter
) -> Tile:
    check_layer(layer)
    check_address(z, x, y)
    key = (layer, z, x, y, selection.key())
    kept = cache.peek(key)
    if kept is not None:
        token = freshness(session, layer, z, x, y)
        if kept[0] == token:
            return Tile(kept[1], _etag(key, token), True)
    # not kept, or stale: the tile and its token in one query, compressed once, when made
    # (fastest level: MVT still shrinks ~4x); a cached tile then costs nothing more to send
    token, raw = render_with_token(session, layer, z, x, y, selection)
    data = gzip.compress(raw, 1, mtime=0) if raw else b""
    cache.put(key, token, data)
    return Tile(data, _etag(key, token), False)


def _etag(key: tuple, token: tuple[int, ...]) -> str:
    return hashlib.sha1(repr((key, token)).encode()).hexdigest()
