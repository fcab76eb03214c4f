"""Mapbox Vector Tiles from PostGIS, one SQL query per tile, and a cache that never serves a
tile whose data has changed (but for low zooms, a bounded few seconds, by choice).

Each tile query selects rows with the spatial index in the storage SRID (the tile envelope is
transformed, not the rows), simplifies by the zoom's pixel size before transforming to
EPSG:3857, and carries only the attributes the map styles and labels need.

Freshness. Every change to a tiled layer is logged in tile_change (by triggers) and announced
to every server process (pg_notify, landmap.db.notify). While a process listens, a tile it
keeps in memory is served with no database round trip until it is told that something under
the tile changed. Without a live listener (starting, connection lost), and for tiles read from
the shared disk cache, a kept tile is served only while the change log holds the same number of
entries, up to the same id, over the tile's area (its freshness token).

Low zooms after a write. A tile at zoom <= STALE_MAX_ZOOM (one tile there covers most of the
zone, and every write anywhere stales it) may be served in its previous version for
``stale_seconds`` after it went stale, while it is drawn again in the background, once however
many writes land meanwhile (``coalesce_seconds`` after the first). Tiles at higher zooms, and any
tile for a user who has just written, are exact at once.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import logging
import math
import os
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.db.notify import Listener, Subscriber
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


@functools.lru_cache(maxsize=256)
def _driver_sql(sql: str, dialect) -> str:
    """``sql`` (with :name parameters) in the driver's own parameter style, compiled once."""
    return str(text(sql).compile(dialect=dialect))


def _fetch_one(session: Session, sql: str, params: dict[str, Any]) -> tuple:
    """The one row of ``sql``, sent through the DBAPI cursor of the session's connection (a
    pooled one, or a test's in its transaction): a tile drawn pays for the query and little
    else, where SQLAlchemy's work per statement (parse, compile lookup, execution context,
    result) cost a cold tile about as much CPU as gzipping it. A connection the server
    dropped is invalidated here, so the pool never hands it out again. (The engine's
    statement events do not see it.)"""
    connection = session.connection()
    dbapi = connection.connection
    try:
        with dbapi.cursor() as cursor:
            cursor.execute(_driver_sql(sql, connection.dialect), params)
            return cursor.fetchone()
    except connection.dialect.loaded_dbapi.Error:
        if dbapi.closed:
            connection.invalidate()
        raise


def freshness(session: Session, layer: str, z: int, x: int, y: int) -> tuple[int, ...]:
    """The tile's freshness token: while it stays equal, so does the tile."""
    token = session.execute(
        text(_ENVELOPE + _TOKEN), {"layer": layer, **params_for(z, x, y)}
    ).scalar_one()
    return tuple(token)


def draw_sql(layer: str, selection: TileFilter) -> tuple[str, dict[str, Any]]:
    """The statement a tile is drawn by: its freshness token and the tile, in one statement
    (one round trip, one snapshot); parameters z, x, y and those of params_for()."""
    body, params = _tile_body(layer, selection)
    return f"{_ENVELOPE} SELECT ({_TOKEN}), ({body})", {**params, "layer": layer}


def render_with_token(
    session: Session, layer: str, z: int, x: int, y: int, selection: TileFilter
) -> tuple[tuple[int, ...], bytes]:
    """The tile and its freshness token (draw_sql)."""
    sql, params = draw_sql(layer, selection)
    token, data = _fetch_one(session, sql, {**params, **params_for(z, x, y)})
    return tuple(token), bytes(data or b"")


FRESH = "fresh"  # told of no change since it was drawn or checked: served as it is


@dataclass
class _Drawing:
    """A tile being drawn: others asking for it wait for this one (if nothing was heard since
    it began), rather than drawing it too."""

    generation: int
    done: threading.Event
    result: tuple[tuple[int, ...], bytes] | None = None


class TileCache(Subscriber):
    """Tiles kept in process (an LRU bounded in bytes) and, when a folder is given, on disk,
    where every worker process finds them; each under its freshness token.

    With ``push`` (the process's listener), a tile kept in memory is trusted (FRESH) until a
    notification over its area makes it stale; stale since when is kept, for the low zooms'
    grace (see the module's docstring). Without a live listener nothing is trusted: each use
    is checked against the token.

    A disk file holds one tile: its token on the first line, then the gzipped tile. Files are
    written by a background thread, after the response has gone: until one lands, another
    process simply renders the tile itself. A file is replaced whole (rename), never half read.
    The folder is bounded (`disk_bytes`, None: unbounded): see _DiskBudget. A tile read from
    disk has its file's time moved on (at most once a minute), so the tiles in use stay.
    """

    kinds = ("tiles",)

    def __init__(
        self,
        max_bytes: int,
        folder: Path | None = None,
        disk_bytes: int | None = None,
        push: Listener | None = None,
        stale_seconds: float = 5.0,
        coalesce_seconds: float = 1.0,
    ) -> None:
        self.max_bytes = max_bytes
        self.folder = folder
        self.disk_bytes = disk_bytes
        self.size = 0
        self.push = push
        self.stale_seconds = stale_seconds
        self.coalesce_seconds = min(coalesce_seconds, stale_seconds)
        self._items: OrderedDict[tuple, tuple[tuple[int, ...], bytes]] = OrderedDict()
        # key -> FRESH, or the monotonic time it went stale; absent: check the token
        self._trust: dict[tuple, str | float] = {}
        # (layer, z) -> (x, y) -> keys kept there (several filters of one tile)
        self._where: dict[tuple[str, int], dict[tuple[int, int], set[tuple]]] = {}
        # what was heard lately: (generation, layer, box, when); and since when it is complete
        # (generation, layer, box, monotonic time, wall time) of each tile notification
        self._news: deque[tuple[int, str, tuple[float, ...], float, float]] = deque(maxlen=4096)
        self._forgotten = (0, 0.0)  # news up to this generation and wall time is not in _news
        self._reset_at = (0, 0.0)  # the generation and wall time of the last reset
        self._drawing: dict[tuple, _Drawing] = {}
        self._lock = threading.Lock()
        self._writes: queue.SimpleQueue | None = None
        self._writer_pid = 0
        self._redraws: ThreadPoolExecutor | None = None
        self._redraws_pid = 0
        if push is not None:
            push.subscribe(self)
            # heard nothing before now: a tile file drawn earlier is checked, not trusted
            self._reset_at = (push.generation, time.time())

    # --- what push says ---------------------------------------------------------------------

    def live(self) -> bool:
        return self.push is not None and self.push.live

    def generation(self) -> int:
        return self.push.generation if self.push is not None else 0

    def notified(self, kind: str, payload: dict) -> None:
        layer, box = str(payload.get("l")), tuple(float(v) for v in payload["b"])
        if len(box) != 4:
            raise ValueError("a tile notification's box has four numbers")
        now = time.monotonic()
        with self._lock:
            if len(self._news) == self._news.maxlen:
                self._forgotten = (self._news[0][0], self._news[0][4])
            self._news.append((self.push.generation, layer, box, now, time.time()))
            for (kept_layer, z), cells in self._where.items():
                if kept_layer != layer:
                    continue
                for key in _keys_under(cells, z, box):
                    if self._trust.get(key) is FRESH or key not in self._trust:
                        self._trust[key] = now

    def reset(self) -> None:
        """Told nothing for a while, or about to be told again: trust nothing kept."""
        with self._lock:
            self._reset_at = (self.generation(), time.time())
            self._trust.clear()

    def _trust_after(self, key: tuple, since: int) -> str | float | None:
        """How far a tile drawn (or checked) from a snapshot taken at generation ``since``
        may be trusted, by what was heard since: FRESH, stale since a time, or not at all.
        Called holding the lock."""
        if not self.live() or self._reset_at[0] > since or self._forgotten[0] > since:
            return None
        where = _tile_of(key)
        stale = None
        for generation, layer, box, when, _ in reversed(self._news):
            if generation <= since:
                break
            if where is not None and layer == where[0] and _box_meets_tile(box, *where[1:]):
                stale = when
        return FRESH if stale is None else stale

    # --- kept tiles -------------------------------------------------------------------------

    def _path(self, key: tuple) -> Path | None:
        if self.folder is None:
            return None
        name = hashlib.sha1(repr(key).encode()).hexdigest()
        return self.folder / name[:2] / f"{name}{TILE_SUFFIX}"

    def _trust_file(self, key: tuple, drawn: float) -> str | float | None:
        """How far a tile another process drew from a snapshot taken after wall time
        ``drawn`` may be trusted: as one of this process's own, if it has listened without a
        break since before then and remembers all it heard since. Called holding the lock."""
        drawn -= CLOCK_SLACK
        if not self.live() or self._reset_at[1] >= drawn or self._forgotten[1] >= drawn:
            return None
        where = _tile_of(key)
        stale = None
        for _, layer, box, when, wall in reversed(self._news):
            if wall < drawn:
                break
            if where is not None and layer == where[0] and _box_meets_tile(box, *where[1:]):
                stale = when
        return FRESH if stale is None else stale

    @staticmethod
    def _header(token: tuple[int, ...], drawn: float | None = None) -> bytes:
        line = "-".join(map(str, token))
        if drawn is not None:
            line += f" {drawn:.6f}"
        return (line + "\n").encode()

    def lookup(self, key: tuple) -> tuple[tuple[tuple[int, ...], bytes] | None, str | float | None]:
        """The tile kept under `key` with its token, and how far it is trusted (FRESH, stale
        since, None: check its token). A tile read from disk is trusted as far as what this
        process heard since it was drawn allows (see _trust_file)."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found, self._trust.get(key)
        found = self._from_disk(key)
        with self._lock:
            return found, self._trust.get(key) if found is not None else None

    def peek(self, key: tuple) -> tuple[tuple[int, ...], bytes] | None:
        """The tile last kept under `key` and its token, from memory or else from disk."""
        return self.lookup(key)[0]

    def _from_disk(self, key: tuple) -> tuple[tuple[int, ...], bytes] | None:
        path = self._path(key)
        if path is None:
            return None
        stored = _read_and_touch(path)
        if stored is None:
            return None
        header, _, data = stored.partition(b"\n")
        token_part, _, drawn_part = header.partition(b" ")
        try:
            token = tuple(int(part) for part in token_part.split(b"-"))
            drawn = float(drawn_part) if drawn_part else None
        except ValueError:
            return None  # not a file this cache wrote
        self._remember(key, token, data, None, drawn)
        return token, data

    def confirm(self, key: tuple, since: int) -> None:
        """The kept tile's token was found current in a snapshot taken at generation
        ``since``: trusted from now on, unless something was heard over it meanwhile."""
        with self._lock:
            if key in self._items:
                self._set_trust(key, self._trust_after(key, since))

    def _set_trust(self, key: tuple, trust: str | float | None) -> None:
        if trust is None:
            self._trust.pop(key, None)
        else:
            self._trust[key] = trust

    def put(
        self,
        key: tuple,
        token: tuple[int, ...],
        data: bytes,
        since: int | None = None,
        drawn: float | None = None,
    ) -> None:
        """Keep a tile drawn with `token`; ``since``: the generation at which its snapshot was
        taken (then it may be trusted, see _trust_after); ``drawn``: the wall time just before
        (kept on disk, for other processes: _trust_file)."""
        self._remember(key, token, data, since)
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
        self._writes.put((path, self._header(token, drawn) + data))

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

    def _remember(
        self,
        key: tuple,
        token: tuple[int, ...],
        data: bytes,
        since: int | None,
        drawn: float | None = None,
    ) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old[1])
            self._items[key] = (token, data)
            self.size += len(data)
            if since is not None:
                self._set_trust(key, self._trust_after(key, since))
            else:
                self._set_trust(key, None if drawn is None else self._trust_file(key, drawn))
            where = _tile_of(key)
            if where is not None:
                cells = self._where.setdefault((where[0], where[1]), {})
                cells.setdefault((where[2], where[3]), set()).add(key)
            while self.size > self.max_bytes:
                dropped_key, (_, dropped) = self._items.popitem(last=False)
                self.size -= len(dropped)
                self._forget(dropped_key)

    def _forget(self, key: tuple) -> None:
        self._trust.pop(key, None)
        where = _tile_of(key)
        if where is None:
            return
        cells = self._where.get((where[0], where[1]))
        if cells is None:
            return
        kept = cells.get((where[2], where[3]))
        if kept is not None:
            kept.discard(key)
            if not kept:
                del cells[(where[2], where[3])]

    # --- drawing ------------------------------------------------------------------------------

    def draw(
        self, key: tuple, render: Callable[[], tuple[tuple[int, ...], bytes]]
    ) -> tuple[tuple[int, ...], bytes]:
        """The tile drawn now by ``render`` (token, raw MVT), gzipped and kept: once for all
        who ask at the same time, when nothing was heard since the drawing began (else each
        draws its own: the one under way may not hold what they were told of)."""
        live = self.live()
        with self._lock:
            drawing = self._drawing.get(key)
            if drawing is not None and live and drawing.generation == self.generation():
                mine = None
            else:
                mine = drawing = _Drawing(self.generation(), threading.Event())
                if live:
                    self._drawing[key] = drawing
        if mine is None:
            drawing.done.wait(60)
            if drawing.result is not None:
                return drawing.result
            return self.draw(key, render) if drawing.done.is_set() else self._draw(key, render)
        try:
            result = self._draw(key, render, drawing.generation)
            drawing.result = result
            return result
        finally:
            with self._lock:
                if self._drawing.get(key) is drawing:
                    del self._drawing[key]
            drawing.done.set()

    def _draw(self, key: tuple, render, since: int | None = None):
        since = self.generation() if since is None else since
        drawn = time.time()
        token, raw = render()
        # fastest level: MVT still shrinks ~4x; a cached tile then costs nothing to send
        data = gzip.compress(raw, 1, mtime=0) if raw else b""
        self.put(key, token, data, since if self.live() else None, drawn)
        return token, data

    def redraw_later(self, key: tuple, render: Callable[[], tuple[tuple[int, ...], bytes]]) -> None:
        """Draw the tile again in the background (one thread per process), unless it is being
        drawn already."""
        with self._lock:
            if key in self._drawing:
                return
            if self._redraws_pid != os.getpid():
                self._redraws = ThreadPoolExecutor(1, thread_name_prefix="landmap-redraw")
                self._redraws_pid = os.getpid()
            self._drawing[key] = _Drawing(self.generation(), threading.Event())
            drawing = self._drawing[key]

        def run() -> None:
            try:
                drawing.result = self._draw(key, render, drawing.generation)
            except Exception:  # noqa: BLE001 - the next request draws it itself
                log.exception("tile cache: could not draw %s again", key[:4])
            finally:
                with self._lock:
                    if self._drawing.get(key) is drawing:
                        del self._drawing[key]
                drawing.done.set()

        self._redraws.submit(run)


CLOCK_SLACK = 0.05  # seconds: a tile file's time of drawing is taken as this much earlier
STALE_MAX_ZOOM = 14  # tiles up to this zoom may be served stale for a bounded few seconds


def _tile_of(key: tuple) -> tuple[str, int, int, int] | None:
    if len(key) >= 4 and isinstance(key[1], int) and isinstance(key[2], int):
        return key[0], key[1], key[2], key[3]
    return None


def _tile_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's box in EPSG:3857 with its buffer and a little more (the change log's boxes
    are the storage CRS's, transformed)."""
    size = WORLD / 2**z
    margin = size * (BUFFER / EXTENT + 0.01)
    x0 = -WORLD / 2 + x * size
    y1 = WORLD / 2 - y * size
    return x0 - margin, y1 - size - margin, x0 + size + margin, y1 + margin


def _box_meets_tile(box: tuple[float, ...], z: int, x: int, y: int) -> bool:
    tx0, ty0, tx1, ty1 = _tile_box(z, x, y)
    return box[0] <= tx1 and box[2] >= tx0 and box[1] <= ty1 and box[3] >= ty0


def _keys_under(cells: dict[tuple[int, int], set[tuple]], z: int, box: tuple[float, ...]):
    """The kept keys at zoom ``z`` whose tiles meet the box."""
    size = WORLD / 2**z
    margin = size * (BUFFER / EXTENT + 0.01)
    last = 2**z - 1

    def cell(value: float) -> int:
        return min(max(math.floor(value / size), 0), last)

    xa, xb = cell(box[0] - margin + WORLD / 2), cell(box[2] + margin + WORLD / 2)
    ya, yb = cell(WORLD / 2 - box[3] - margin), cell(WORLD / 2 - box[1] + margin)
    if (xb - xa + 1) * (yb - ya + 1) <= len(cells):
        for x in range(xa, xb + 1):
            for y in range(ya, yb + 1):
                yield from cells.get((x, y), ())
    else:
        for (x, y), keys in cells.items():
            if xa <= x <= xb and ya <= y <= yb:
                yield from keys


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
    stale: bool = False  # the previous version, while the new one is drawn (low zooms only)

    @property
    def data(self) -> bytes:
        return gzip.decompress(self.gzipped) if self.gzipped else b""


def get_tile(
    session: Session | Callable[[], Session],
    cache: TileCache,
    layer: str,
    z: int,
    x: int,
    y: int,
    selection: TileFilter,
    exact: bool = False,
    redraw: Callable[[], tuple[tuple[int, ...], bytes]] | None = None,
) -> Tile:
    """The tile, from the cache when it may be served. ``session``: a session, or what makes
    one when the database must be asked (a tile kept and trusted asks nothing: no session is
    made for it); ``exact``: never a stale version (the user has just written); ``redraw``:
    draws the tile with a session of its own, for drawing a stale low-zoom tile again in the
    background."""
    check_layer(layer)
    check_address(z, x, y)
    key = (layer, z, x, y, selection.key())
    kept, trust = cache.lookup(key)
    live = cache.live()
    if kept is not None and live and trust is FRESH:
        return Tile(kept[1], _etag(key, kept[0]), True)
    if kept is not None and live and isinstance(trust, float):
        age = time.monotonic() - trust
        if not exact and z <= STALE_MAX_ZOOM and age < cache.stale_seconds:
            if redraw is not None and age >= cache.coalesce_seconds:
                cache.redraw_later(key, redraw)
            return Tile(kept[1], _etag(key, kept[0]), True, stale=True)
        kept = None  # told it changed: no need to ask the database whether it did
    db = session if isinstance(session, Session) else session()  # the database is asked now
    if kept is not None:
        since = cache.generation()
        if kept[0] == freshness(db, layer, z, x, y):
            cache.confirm(key, since)
            return Tile(kept[1], _etag(key, kept[0]), True)
    # not kept, or stale: the tile and its token in one query, compressed once
    token, data = cache.draw(key, lambda: render_with_token(db, layer, z, x, y, selection))
    return Tile(data, _etag(key, token), False)


def _etag(key: tuple, token: tuple[int, ...]) -> str:
    return hashlib.sha1(repr((key, token)).encode()).hexdigest()
