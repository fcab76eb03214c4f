"""A tile for a token, with no filter, is answered before Flask (landmap.web.tiles.PlainTiles):
exactly as the full path answers it, and only while everything the full path checks is known;
anything else goes on to Flask.

These tests commit (the live schema): the push listener must be live for a tile to be trusted.
"""

from __future__ import annotations

import base64
import gzip
import time

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from test_tiles import tile_of

from landmap import create_app
from landmap.services import tiles, users

COMPARED = (
    "ETag",
    "Cache-Control",
    "Vary",
    "X-Tile-Cache",
    "Content-Type",
    "Content-Encoding",
    "Content-Length",
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Permissions-Policy",
)


@pytest.fixture(scope="module")
def warm_app(live_settings, live_accounts):
    app = create_app(live_settings)
    assert app.extensions["landmap.push"].wait_live(10), "the listener did not connect"
    return app


@pytest.fixture
def flask_calls(warm_app, monkeypatch):
    """How many requests reached Flask (not answered before it)."""
    calls = []
    inner = warm_app.wsgi_app.wsgi_app

    def counted(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    monkeypatch.setattr(warm_app.wsgi_app, "wsgi_app", counted)
    return calls


def _token(live_engine, app=None, label: str = "warm tiles") -> str:
    """A new token of the officer's; with ``app``, one it has been asked about (so that its
    "auth" cache holds it, as it does after a client's first request)."""
    with Session(live_engine) as s:
        made = users.new_token(s, "t_officer", label)
        s.commit()
    if app is not None:
        assert _get(app, "/api/zones", {"Authorization": f"Bearer {made}"}).status_code == 200
    return made


@pytest.fixture(scope="module")
def tile_over(warm_app, live_engine):
    """The address of a tile over a parcel of the demo zone, at a zoom."""
    with Session(live_engine) as s:
        lon, lat = s.execute(
            text("""SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom),
                 4326) p FROM parcel ORDER BY code LIMIT 1) s""")
        ).one()

    def url(z: int) -> str:
        return "/tiles/parcels/{}/{}/{}.pbf".format(z, *tile_of(lon, lat, z))

    return url


@pytest.fixture(scope="module")
def url(tile_over):
    return tile_over(16)


def _get(app, url: str, headers: dict, cookie: tuple[str, str] | None = None, **kw):
    client = app.test_client()
    if cookie:
        client.set_cookie(*cookie)
    return client.open(url, headers=headers, **kw)


def _same(fast, full) -> None:
    assert fast.status_code == full.status_code
    assert fast.data == full.data
    for name in COMPARED:
        assert fast.headers.get(name) == full.headers.get(name), name


@pytest.mark.parametrize(("encoding", "z"), [("gzip", 15), (None, 17)])
def test_a_tile_for_a_token_is_answered_before_flask_as_flask_answers_it(
    warm_app, live_engine, tile_over, flask_calls, encoding, z
):
    url = tile_over(z)
    bearer = {"Authorization": f"Bearer {_token(live_engine, warm_app)}"}
    if encoding:
        bearer["Accept-Encoding"] = encoding
    calls = len(flask_calls)
    cold = _get(warm_app, url, bearer)
    warm = _get(warm_app, url, bearer)
    assert len(flask_calls) == calls  # drawn, then served, before Flask
    # the same request with a cookie goes the full path: a browser's session is Flask's
    full = _get(warm_app, url, bearer, ("lang", "zh_CN"))
    assert flask_calls[calls:] == [url]
    _same(warm, full)
    assert (cold.headers["X-Tile-Cache"], warm.headers["X-Tile-Cache"]) == ("miss", "hit")
    assert cold.headers["ETag"] == warm.headers["ETag"] and cold.data == warm.data
    assert warm.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert warm.headers.get("Content-Encoding") == encoding
    body = gzip.decompress(warm.data) if encoding else warm.data
    assert len(body) > 100


def test_a_drawing_that_fails_goes_the_full_path(
    warm_app, live_engine, tile_over, flask_calls, monkeypatch
):
    url = tile_over(18)
    real, failed = tiles.render_with_token, []

    def fails_once(*args, **kwargs):
        if not failed:
            failed.append(args[1:5])
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    bearer = {"Authorization": f"Bearer {_token(live_engine, warm_app)}"}
    calls = len(flask_calls)
    monkeypatch.setattr(tiles, "render_with_token", fails_once)
    resp = _get(warm_app, url, bearer)
    assert resp.status_code == 200 and resp.headers["X-Tile-Cache"] == "miss"
    assert failed and flask_calls[calls:] == [url]


def test_revalidation_and_empty_tiles_before_flask(warm_app, live_engine, url, flask_calls):
    bearer = {"Authorization": f"Bearer {_token(live_engine)}", "Accept-Encoding": "gzip"}
    etag = _get(warm_app, url, bearer).headers["ETag"]
    fast = _get(warm_app, url, {**bearer, "If-None-Match": etag})
    full = _get(warm_app, url, {**bearer, "If-None-Match": etag}, ("lang", "zh_CN"))
    assert fast.status_code == 304 and fast.data == b""
    assert fast.headers["ETag"] == full.headers["ETag"] == etag
    empty = "/tiles/parcels/18/0/0.pbf"  # the world's corner: nothing there
    assert _get(warm_app, empty, bearer).status_code == 204
    calls = len(flask_calls)
    fast = _get(warm_app, empty, bearer)
    assert fast.status_code == 204 and fast.data == b""
    assert len(flask_calls) == calls
    assert fast.headers["ETag"] == _get(warm_app, empty, bearer, ("a", "b")).headers["ETag"]


def test_a_gis_with_basic_and_its_token_is_served_before_flask_and_a_wrong_name_is_not(
    warm_app, live_engine, url, flask_calls
):
    token = _token(live_engine)

    def basic(name: str) -> dict:
        return {"Authorization": "Basic " + base64.b64encode(f"{name}:{token}".encode()).decode()}

    assert _get(warm_app, url, basic("t_officer")).status_code == 200
    calls = len(flask_calls)
    assert _get(warm_app, url, basic("t_officer")).status_code == 200
    assert len(flask_calls) == calls
    wrong = _get(warm_app, url, basic("admin"))
    assert wrong.status_code == 401 and len(flask_calls) == calls + 1


@pytest.mark.parametrize(
    "change",
    [
        {"query": "?zone=C"},
        {"cookie": ("lm_wrote", "1")},
        {"headers": {"Authorization": "Bearer not-a-token"}},
        {"headers": {"Authorization": ""}},
        {"method": "HEAD"},
        {"path": "/tiles/parcels/{z}/0{x}/{y}.pbf"},
    ],
)
def test_anything_else_goes_on_to_flask(warm_app, live_engine, url, flask_calls, change):
    bearer = {"Authorization": f"Bearer {_token(live_engine)}"}
    assert _get(warm_app, url, bearer).status_code == 200  # warm now
    z, x, y = (int(v) for v in url.removesuffix(".pbf").split("/")[-3:])
    path = change.get("path", url).format(z=z, x=x, y=y) + change.get("query", "")
    calls = len(flask_calls)
    headers = {**bearer, **change.get("headers", {})}
    resp = _get(warm_app, path, headers, change.get("cookie"), method=change.get("method", "GET"))
    assert len(flask_calls) == calls + 1
    assert resp.status_code < 500


def test_a_revoked_token_is_refused_at_once_for_a_warm_tile(warm_app, live_engine, url):
    token = _token(live_engine, label="revoked for a warm tile")
    bearer = {"Authorization": f"Bearer {token}"}
    assert _get(warm_app, url, bearer).status_code == 200
    assert _get(warm_app, url, bearer).status_code == 200
    with Session(live_engine) as s:
        assert users.revoke_token(s, token)
        s.commit()
    end = time.monotonic() + 1.0
    while _get(warm_app, url, bearer).status_code != 401:
        assert time.monotonic() < end, "a revoked token still got a warm tile after 1 s"
        time.sleep(0.02)
