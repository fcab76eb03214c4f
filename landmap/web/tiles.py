"""GET /tiles/<layer>/<z>/<x>/<y>.pbf: Mapbox Vector Tiles, cached, revalidated by ETag; what a
GIS adds them by: GET /tiles/<layer>.json (TileJSON) and GET /styles/<layer>.json (a GL style)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from landmap.services import tilejson, tiles
from landmap.services.quota import FIRST_YEAR, last_year
from landmap.services.tiles import TileFilter
from landmap.web import push
from landmap.web.api import (
    parse_as_of,
    parse_batch,
    parse_project,
    parse_stage,
    parse_whole,
    parse_zone,
)
from landmap.web.auth import current_user_name, requires
from landmap.web.db import get_session
from landmap.web.i18n import locale

bp = Blueprint("tiles", __name__)
MVT = "application/vnd.mapbox-vector-tile"


def _filter() -> TileFilter:
    """The parcels asked for; ``style=quota`` with each one's quota status, in the ledger of
    ``year`` (of every year without one)."""
    args = request.args
    quota = args.get("style") == "quota"
    year = parse_whole(args.get("year"), "year", FIRST_YEAR, last_year()) if quota else None
    return TileFilter(
        zone=parse_zone(args.get("zone")),
        stage=parse_stage(args.get("stage")),
        project_id=parse_project(args.get("project")),
        batch_id=parse_batch(args.get("batch")),
        as_of=parse_as_of(args.get("as_of")),
        quota=quota,
        quota_year=year,
    )


@bp.get("/tiles/<layer>/<int:z>/<int:x>/<int:y>.pbf")
@requires("view")
def tile(layer: str, z: int, x: int, y: int):
    selection = _filter()
    factory = current_app.extensions["landmap.read_sessions"]

    def redraw() -> tuple[tuple[int, ...], bytes]:  # in the background, its own session
        with factory() as session:
            return tiles.render_with_token(session, layer, z, x, y, selection)

    # tiles the cache trusts until told otherwise are drawn on the primary: a replica's
    # snapshot may predate a change this process has already been told of
    found = tiles.get_tile(
        get_session(primary=push.listener() is not None),
        current_app.extensions["landmap.tile_cache"],
        layer,
        z,
        x,
        y,
        selection,
        exact=push.wrote_lately(current_user_name()),
        redraw=redraw,
    )
    gzipped = request.accept_encodings.quality("gzip") > 0
    etag = found.etag + ("-gz" if gzipped else "")  # one tag per representation
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding",
        "X-Tile-Cache": "stale" if found.stale else "hit" if found.cached else "miss",
    }
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    if not found.gzipped:
        return Response(status=204, headers=headers)
    if gzipped:
        return Response(
            found.gzipped, mimetype=MVT, headers={**headers, "Content-Encoding": "gzip"}
        )
    return Response(found.data, mimetype=MVT, headers=headers)


def _base() -> str:
    return request.url_root.rstrip("/")


@bp.get("/tiles/<layer>.json")
@requires("view")
def tile_json(layer: str):
    """TileJSON 3.0.0: the tile URL template with the request's filters, zooms, extent, fields."""
    maker = current_app.extensions["landmap.settings"].maker
    return jsonify(tilejson.tilejson(get_session(), layer, _filter(), _base(), locale(), maker))


@bp.get("/styles/<layer>.json")
@requires("view")
def style(layer: str):
    """A MapLibre/Mapbox GL style over the layer's TileJSON; ``?labels=1`` adds its labels."""
    labels = parse_whole(request.args.get("labels"), "labels", 0, 1, default=0)
    return jsonify(
        tilejson.style(get_session(), layer, _filter(), _base(), locale(), labels=bool(labels))
    )


def init_app(app: Flask) -> None:
    settings = app.extensions["landmap.settings"]
    app.extensions["landmap.tile_cache"] = tiles.TileCache(
        settings.tile_cache_mb * 1024 * 1024,
        settings.var_dir / "tiles",
        settings.tile_disk_mb * 1024 * 1024,
        push=app.extensions.get("landmap.push"),
        stale_seconds=settings.tile_stale_seconds,
    )
    app.register_blueprint(bp)
