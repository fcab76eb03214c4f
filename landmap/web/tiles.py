"""GET /tiles/<layer>/<z>/<x>/<y>.pbf: Mapbox Vector Tiles, cached, revalidated by ETag; what a
GIS adds them by: GET /tiles/<layer>.json (TileJSON) and GET /styles/<layer>.json (a GL style)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy.orm import Session
from werkzeug.datastructures import Authorization, ETags
from werkzeug.http import HTTP_STATUS_CODES, parse_accept_header, parse_etags

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
from landmap.web.auth import current_user_name, requires, token_key
from landmap.web.db import get_session
from landmap.web.i18n import locale
from landmap.web.security import data_headers

log = logging.getLogger(__name__)
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
    # tiles the cache trusts until told otherwise are drawn on the primary: a replica's
    # snapshot may predate a change this process has already been told of
    found = tiles.get_tile(
        lambda: get_session(primary=push.listener() is not None),
        current_app.extensions["landmap.tile_cache"],
        layer,
        z,
        x,
        y,
        selection,
        exact=push.wrote_lately(current_user_name()),
        redraw=_redraw(current_app.extensions["landmap.read_sessions"], layer, z, x, y, selection),
    )
    status, headers, body = _reply(
        found, request.accept_encodings.quality("gzip") > 0, request.if_none_match
    )
    return Response(body or None, status=status, headers=headers)


def _redraw(factory, layer: str, z: int, x: int, y: int, selection: TileFilter) -> Callable:
    """What draws the tile again in the background, with a session of its own."""

    def redraw() -> tuple[tuple[int, ...], bytes]:
        with factory() as session:
            return tiles.render_with_token(session, layer, z, x, y, selection)

    return redraw


def _reply(found: tiles.Tile, gzipped: bool, none_match: ETags) -> tuple[int, dict, bytes]:
    """The answer to a tile request: status, headers, body (b"" for none)."""
    etag = found.etag + ("-gz" if gzipped else "")  # one tag per representation
    headers = {
        "ETag": f'"{etag}"',
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding, Cookie",  # who is signed in may come in a cookie
        "X-Tile-Cache": "stale" if found.stale else "hit" if found.cached else "miss",
    }
    if none_match.contains(etag):
        return 304, headers, b""
    if not found.gzipped:
        return 204, headers, b""
    if gzipped:
        return 200, {**headers, "Content-Type": MVT, "Content-Encoding": "gzip"}, found.gzipped
    return 200, {**headers, "Content-Type": MVT}, found.data


# the tile route's addresses with no query (no filter): whole numbers without leading zeros
_WHOLE = r"(0|[1-9]\d{0,6})"
_PLAIN_TILE = re.compile(rf"/tiles/([a-z]{{1,20}})/{_WHOLE}/{_WHOLE}/{_WHOLE}\.pbf")


class PlainTiles:
    """A GIS's or a script's tile, answered before Flask dispatches: a warm tile costs ~30 µs
    of CPU here against ~500 µs through Flask's request context, hooks and Flask-Login
    (measured in process), and a cold one is spared the same.

    Only when everything the full path would check is known here, and gives the same answer:
    GET of a tile address with no query (no filter) and no body, authenticated by a token
    (Bearer, or Basic with the token as password, as for every GIS path) whose user the
    "auth" cache holds (the push listener drops it when a token or user changes) and whose
    role may view tiles, no cookie (a signed-in browser's session is for Flask-Login to read),
    and a live listener. The tile is then what the view would serve (tiles.get_tile, drawn on
    the primary, exact for a user who has just written through this process) with the view's
    headers (_reply, landmap.web.security.data_headers). Anything else goes on to Flask
    unchanged, and so does a request whose drawing failed (Flask draws it again, or answers
    the error as it answers every error).
    """

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app
        self.cache: tiles.TileCache = app.extensions["landmap.tile_cache"]
        self.users = app.extensions["landmap.cache.auth"]
        self.sessions = app.extensions["landmap.read_sessions"]
        self.stale_seconds = app.extensions["landmap.settings"].tile_stale_seconds
        self.permission = tile.landmap_permission  # type: ignore[attr-defined]
        self.security = data_headers(app)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        answer = self._answer(environ)
        if answer is None:
            return self.wsgi_app(environ, start_response)
        status, headers, body = answer
        listed = [*headers.items(), *self.security]
        if body:
            listed.append(("Content-Length", str(len(body))))
        start_response(f"{status} {HTTP_STATUS_CODES[status].upper()}", listed)
        return [body] if body else []

    def _answer(self, environ: dict) -> tuple[int, dict, bytes] | None:
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_COOKIE")
            or environ.get("CONTENT_LENGTH", "0") not in ("", "0")
            or "HTTP_TRANSFER_ENCODING" in environ
        ):
            return None
        address = _PLAIN_TILE.fullmatch(environ.get("PATH_INFO", ""))
        if address is None or not self.cache.live():
            return None
        user = self._user(environ.get("HTTP_AUTHORIZATION", ""))
        if user is None or not user.can(self.permission):
            return None
        layer, z, x, y = address.group(1), *map(int, address.group(2, 3, 4))
        if layer not in tiles.LAYERS or z > tiles.MAX_ZOOM or x >= 2**z or y >= 2**z:
            return None
        found = self._tile(user.name, layer, z, x, y)
        if found is None:
            return None
        gzipped = parse_accept_header(environ.get("HTTP_ACCEPT_ENCODING")).quality("gzip") > 0
        return _reply(found, gzipped, parse_etags(environ.get("HTTP_IF_NONE_MATCH")))

    def _tile(self, user: str, layer: str, z: int, x: int, y: int) -> tiles.Tile | None:
        selection = TileFilter()
        made: list[Session] = []

        def session() -> Session:  # only when the database is asked
            made.append(self.sessions())
            return made[-1]

        try:
            return tiles.get_tile(
                session,
                self.cache,
                layer,
                z,
                x,
                y,
                selection,
                exact=push.wrote_here(user, self.stale_seconds),
                redraw=_redraw(self.sessions, layer, z, x, y, selection),
            )
        except Exception:  # noqa: BLE001 - Flask's path answers it, errors included
            log.warning("tiles: %s/%s/%s/%s goes the full path", layer, z, x, y, exc_info=True)
            return None
        finally:
            for opened in made:
                opened.close()

    def _user(self, header: str):
        """The token's user, if the "auth" cache holds it (never asking the database)."""
        name = None
        if header.startswith("Bearer "):
            token = header[len("Bearer ") :].strip()
        else:
            basic = Authorization.from_header(header)
            if basic is None or basic.type != "basic" or not basic.username:
                return None
            name, token = basic.username, basic.password
        if not token:
            return None
        user = self.users.get(token_key(token), lambda: None, keep=False)
        if user is None or (name is not None and user.name != name):
            return None
        return user


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
    app.wsgi_app = PlainTiles(app, app.wsgi_app)  # type: ignore[method-assign]
