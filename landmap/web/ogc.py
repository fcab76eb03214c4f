"""OGC API Features at ``/ogc``: pygeoapi's API behind landmap's authentication.

Every route needs the permission "view"; ``/ogc`` is one of the GIS paths (landmap.web.auth),
so scripts send their personal token as a Bearer header and QGIS 3.22 sends the user name and
the token by HTTP Basic; without either the answer is 401 with ``WWW-Authenticate: Basic``.
pygeoapi's own Flask app is not used: it reads a configuration file once at import, while
landmap builds pygeoapi's configuration per application and base URL (the links it writes are
absolute) and hands pygeoapi the request's database connection (landmap.services.ogc). Answers
are JSON (GeoJSON, OpenAPI 3.0, JSON-LD on request); pygeoapi's HTML pages load scripts from the
internet, which an intranet has not, so a request for HTML gets JSON.
"""

from __future__ import annotations

import json
import logging
import math

from flask import Blueprint, current_app, make_response, request, url_for
from pygeoapi import api as core_api
from pygeoapi.api import API, APIRequest
from pygeoapi.api import itemtypes as itemtypes_api
from pygeoapi.openapi import get_oas
from sqlalchemy import text

from landmap.messages import msg
from landmap.services import ogc
from landmap.web.auth import requires
from landmap.web.db import get_session
from landmap.web.errors import ApiError

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

logging.getLogger("pygeoapi").setLevel(logging.ERROR)  # it warns of DATE columns per request
MAX_APIS = 8  # one per base URL the service is reached by; a few at most

_EXTENT = """
    SELECT lm_gis_schema(), lm_storage_srid(),
           ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
    FROM (SELECT ST_Extent(ST_Transform(geom, 4326)) AS e
          FROM zone_boundary WHERE status = 'current') x
"""


def _api() -> API:
    """pygeoapi's API for this application at the base URL the request came by."""
    base = url_for("ogc.landing_page", _external=True).rstrip("/")
    apis = current_app.extensions.setdefault("landmap.ogc", {})
    if base not in apis:
        schema, srid, *bbox = get_session().execute(text(_EXTENT)).one()
        if bbox[0] is None:
            bbox = [-180.0, -90.0, 180.0, 90.0]
        config = ogc.config(base, schema, srid, [float(v) for v in bbox])
        if len(apis) >= MAX_APIS:
            apis.clear()
        apis[base] = API(config, get_oas(config))
    return apis[base]


JSON_TYPES = ("application/json", "application/geo+json", "application/vnd.oai.openapi+json")
# links pygeoapi writes to what landmap does not serve: processes, jobs, tile matrix sets and
# its HTML pages (which load scripts from the internet)
UNSERVED = {
    "http://www.opengis.net/def/rel/ogc/1.0/processes",
    "http://www.opengis.net/def/rel/ogc/1.0/job-list",
    "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
}


def _served(document):
    """``document`` without links to what is not served here. Links stand at the top and in
    each collection of a list (a page of items is not walked: its geometries are large)."""
    if not isinstance(document, dict):
        return document
    for holder in [document, *document.get("collections", [])]:
        if isinstance(holder, dict) and isinstance(holder.get("links"), list):
            holder["links"] = [
                link
                for link in holder["links"]
                if not isinstance(link, dict)
                or (link.get("type") != "text/html" and link.get("rel") not in UNSERVED)
            ]
    return document


def _numbers(value: str | None) -> list[float]:
    """The bbox's numbers (pygeoapi has refused a malformed bbox before they are used)."""
    try:
        return [float(v) for v in (value or "").split(",")[:6]] if value else []
    except ValueError:
        return []


MAX_OFFSET = 10**9
MAX_COORDINATE = 1e8  # metres of any CRS offered, and far beyond degrees


def _check_numbers() -> None:
    """What pygeoapi passes to the database unbounded: offset and bbox numbers."""
    offset = request.args.get("offset")
    if offset is not None and not (
        offset.isascii() and offset.isdigit() and len(offset) < 11 and int(offset) <= MAX_OFFSET
    ):
        raise ApiError(
            msg(
                "ogc_bad_offset",
                "offset must be a whole number from 0 to %(most)s",
                most=MAX_OFFSET,
            )
        )
    if any(
        not math.isfinite(v) or abs(v) > MAX_COORDINATE for v in _numbers(request.args.get("bbox"))
    ):
        raise ApiError(msg("ogc_bad_bbox", "bbox holds a number no coordinate can be"))


def _answer(function, *args):
    """Run one of pygeoapi's API functions on this request, through this request's
    connection."""
    _check_numbers()
    token = ogc.CONNECTION.set(get_session(scratch=True).connection())
    bbox = ogc.REQUEST_BBOX.set((_numbers(request.args.get("bbox")), request.args.get("bbox-crs")))
    try:
        api = _api()
        api_request = APIRequest.from_flask(request, api.locales)
        if api_request._format in (None, "html"):  # noqa: SLF001 - pygeoapi has no setter
            api_request._format = "json"  # noqa: SLF001
        if function is not itemtypes_api.get_collection_items and not api_request.is_valid():
            headers, status, content = api.get_format_exception(api_request)  # an unknown f
        else:  # (items check f themselves, against pygeoapi's formatters: csv too)
            headers, status, content = function(api, api_request, *args)
    finally:
        ogc.CONNECTION.reset(token)
        ogc.REQUEST_BBOX.reset(bbox)
    if str(headers.get("Content-Type", "")).startswith(JSON_TYPES):
        content = json.dumps(_served(json.loads(content)), ensure_ascii=False)
    response = make_response(content, status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.get("/", strict_slashes=False)
@requires("view")
def landing_page():
    return _answer(core_api.landing_page)


@bp.get("/openapi")
@requires("view")
def openapi():
    return _answer(core_api.openapi_)


@bp.get("/conformance")
@requires("view")
def conformance():
    return _answer(core_api.conformance)


@bp.get("/collections")
@requires("view")
def collections():
    return _answer(core_api.describe_collections, None)


@bp.get("/collections/<collection_id>")
@requires("view")
def collection(collection_id: str):
    return _answer(core_api.describe_collections, collection_id)


@bp.get("/collections/<collection_id>/queryables")
@requires("view")
def queryables(collection_id: str):
    return _answer(itemtypes_api.get_collection_queryables, collection_id)


@bp.get("/collections/<collection_id>/items")
@requires("view")
def items(collection_id: str):
    return _answer(itemtypes_api.get_collection_items, collection_id)


@bp.get("/collections/<collection_id>/items/<item_id>")
@requires("view")
def item(collection_id: str, item_id: str):
    return _answer(itemtypes_api.get_collection_item, collection_id, item_id)
