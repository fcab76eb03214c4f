"""JSON API: GeoJSON in EPSG:4326. Query parameters are checked here; bad ones get 400.

Input at the edge, for every route of the app (init_app): no control character (NUL ...) in
the path, the query string or a form field; a body of at most MAX_BODY_BYTES (a route may
allow more with ``max_body``; uploads get the app's LANDMAP_MAX_UPLOAD_MB); JSON at most
MAX_JSON_DEPTH deep, with finite numbers and strings without control characters; <int:...>
in a path fits the database's integers. The parsers below (whole numbers, numbers, dates)
are the one place each kind of value is read, each with its range.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from landmap.db.engine import database_answers
from landmap.domain import EARLIEST_DATE, Stage, iso_day, today
from landmap.messages import field, msg
from landmap.services import parcels, projects, supply, zones
from landmap.web import push
from landmap.web.auth import PUBLIC, requires
from landmap.web.db import READS, get_session
from landmap.web.errors import ApiError, or_404

bp = Blueprint("api", __name__)

GEOJSON = "application/geo+json"
MAX_ID = 2**31 - 1  # ids are PostgreSQL integers
MAX_BODY_BYTES = 2 * 1024 * 1024  # a request body that is not an upload
MAX_JSON_DEPTH = 64  # a GeoJSON MultiPolygon in a body is 6 deep
MAX_NUMBER_CHARS = 40  # no number a person sends is longer
_CONTROL = re.compile(r"[\x00-\x1f]")  # C0 control characters, NUL first
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # text keeps tab and newlines
_WHOLE = re.compile(r"-?[0-9]{1,18}")


# --- input at the edge, for every route ---------------------------------------------------


class JSONProvider(DefaultJSONProvider):
    """The app's JSON. Answers never contain NaN or Infinity (not JSON: a bug raises rather
    than sending them). Request bodies: numbers finite, at most MAX_JSON_DEPTH deep, strings
    without control characters; otherwise 400, whatever the route."""

    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _not_a_number)
        kwargs.setdefault("parse_float", _finite)
        try:
            value = json.loads(s, **kwargs)
        except RecursionError as exc:
            raise _too_deep() from exc
        _check_json(value)
        return value


def _not_a_number(name: str):
    raise BadRequest(_("JSON numbers must be finite: %(value)s is not accepted.", value=name))


def _finite(text_: str) -> float:
    value = float(text_)
    if not math.isfinite(value):
        _not_a_number(text_[:40])
    return value


def _too_deep() -> BadRequest:
    return BadRequest(
        _("The JSON is nested more than %(depth)s levels deep.", depth=MAX_JSON_DEPTH)
    )


def _control_refused() -> BadRequest:
    return BadRequest(_("Control characters (such as NUL) are not accepted in the request."))


def _check_json(value: Any) -> None:
    """Depth and strings of a parsed body, without recursion (a deep body cannot overflow)."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            if _CONTROL_IN_TEXT.search(v):
                raise _control_refused()
        elif isinstance(v, list | dict):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep()
            items = v.items() if isinstance(v, dict) else ((None, x) for x in v)
            for key, x in items:
                if key is not None and _CONTROL.search(key):
                    raise _control_refused()
                stack.append((x, depth + 1))


def _refuse_control_characters() -> None:
    """Before every request: a control character in the path or the query string is 400."""
    if _CONTROL.search(request.path) or any(
        _CONTROL.search(k) or _CONTROL.search(v) for k, v in request.args.items(multi=True)
    ):
        raise _control_refused()


def check_body() -> None:
    """Before every permitted write: a JSON body is an object (what every route takes); a
    form field has no control character (text fields keep tab and newlines). 400 otherwise."""
    if request.method in READS:
        return
    if request.is_json:
        if request.get_data() and not isinstance(request.get_json(silent=True), dict):
            raise BadRequest(_("Send a JSON object."))
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in request.form.items(multi=True):
            if _CONTROL.search(key) or _CONTROL_IN_TEXT.search(value):
                raise _control_refused()


def max_body(n_bytes: int) -> Callable:
    """Let a route take a request body of up to ``n_bytes`` (not an upload)."""

    def mark(view: Callable) -> Callable:
        view.landmap_max_body = n_bytes  # type: ignore[attr-defined]
        return view

    return mark


def _limit_body() -> None:
    """A body larger than the route takes is 413 (see errors); uploads (multipart) are
    bounded by the app's MAX_CONTENT_LENGTH."""
    if request.mimetype == "multipart/form-data":
        return
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "landmap_max_body", MAX_BODY_BYTES)
    app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    request.max_content_length = min(limit, app_limit) if app_limit else limit


class IdConverter(IntegerConverter):
    """<int:...> in every route: a whole number that fits the database's integers."""

    def __init__(self, map, **options) -> None:
        super().__init__(map, **{"max": MAX_ID, **options})


def init_app(app: Flask) -> None:
    """Before the blueprints: the app's JSON, ids in paths, the checks of every request."""
    app.json = JSONProvider(app)
    app.url_map.converters["int"] = IdConverter
    app.before_request(_limit_body)
    app.before_request(_refuse_control_characters)


# --- the parsers ------------------------------------------------------------------------


def _geojson(body: str) -> Response:
    return Response(body, mimetype=GEOJSON)


def _shown(value: Any) -> str:
    """A value as a message may repeat it: short."""
    text_ = value if isinstance(value, str) else json.dumps(value, default=str)
    return text_ if len(text_) <= 40 else text_[:40] + "…"


def parse_whole(value: Any, name: str, lo: int, hi: int, default: int | None = None) -> int | None:
    """A whole number from lo to hi, from a query argument, a form field or JSON; ``default``
    when absent (None or "")."""
    if value is None or value == "":
        return default
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        number = int(value)
    if number is None or not lo <= number <= hi:
        raise ApiError(
            msg(
                "not_a_whole_number",
                "%(name)s must be a whole number from %(lo)s to %(hi)s; got %(value)s",
                name=field(name),
                lo=lo,
                hi=hi,
                value=_shown(value),
            )
        )
    return number


def parse_number(value: Any, name: str, lo: Decimal | int, hi: Decimal | int) -> Decimal:
    """A finite number from lo to hi (exact: a Decimal); NaN, Infinity and anything out of
    range are 400."""
    number = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip()) if len(str(value)) <= MAX_NUMBER_CHARS else None
        except ArithmeticError:
            number = None
    if number is None or not number.is_finite() or not lo <= number <= hi:
        raise ApiError(
            msg(
                "not_a_number",
                "%(name)s must be a number from %(lo)s to %(hi)s; got %(value)s",
                name=field(name),
                lo=lo,
                hi=hi,
                value=_shown(value),
            )
        )
    return number


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or not all(math.isfinite(v) for v in parts):
        raise ApiError(
            msg("bad_bbox", "the map extent (bbox) must be four numbers: west,south,east,north")
        )
    x0, y0, x1, y1 = parts
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise ApiError(
            msg(
                "bbox_out_of_range",
                "the map extent (bbox) must lie within longitudes -180..180 and latitudes "
                "-90..90, west before east and south before north",
            )
        )
    return x0, y0, x1, y1


def parse_zone(value: str | None) -> str | None:
    if not value:
        return None
    known = push.cache("zones").get("codes", lambda: zones.zone_codes(get_session(primary=True)))
    code = value.upper()
    if code not in known:
        raise ApiError(
            msg(
                "unknown_zone",
                "there is no zone %(given)s; the zones are %(known)s",
                given=_shown(value),
                known=list(known),
            )
        )
    return code


def parse_stage(value: str | None) -> str | None:
    if not value:
        return None
    return Stage.parse(value).value  # a Refused (400) naming the stages


def parse_id(value: Any, name: str) -> int | None:
    """An id (a whole number from 1 to MAX_ID) from a query argument, a form field or JSON;
    None when absent."""
    return parse_whole(value, name, 1, MAX_ID)


def parse_project(value: str | None) -> int | None:
    """A project named by its id or its name; 400 for one there is not."""
    if not value:
        return None
    key = parse_id(value, "project") if _WHOLE.fullmatch(value) else value
    unknown = msg("unknown_project", "there is no project %(given)s", given=_shown(value))
    return or_404(projects.find_project(get_session(), key), unknown, 400)


def parse_batch(value: str | None) -> int | None:
    """A batch named by its id; 400 for one there is not."""
    whole = bool(value) and _WHOLE.fullmatch(value) and 1 <= int(value) <= MAX_ID
    if value and not (whole and projects.project_of_batch(get_session(), int(value))):
        raise ApiError(
            msg("unknown_batch", "there is no batch %(given)s (give its id)", given=_shown(value))
        )
    return int(value) if value else None


def parse_day(value, name: str = "date", required: bool = False) -> dt.date | None:
    """A YYYY-MM-DD date from a query argument or a JSON/form field, from EARLIEST_DATE to
    today (China time): the days anything in the register happens, or is looked at as of.
    400 naming ``name``."""
    if value in (None, ""):
        if required:
            raise ApiError(
                msg("day_required", "%(name)s is required (YYYY-MM-DD)", name=field(name))
            )
        return None
    try:
        day = iso_day(value)
    except ValueError as exc:
        raise ApiError(
            msg(
                "not_a_day",
                "%(name)s must be a date YYYY-MM-DD; got %(value)s",
                name=field(name),
                value=_shown(value),
            )
        ) from exc
    check_day(day, name, value)
    return day


def check_day(day: dt.date, name: str, value: str) -> None:
    """A day (or the first day of a period) lies from EARLIEST_DATE to today; ``value`` is
    what the client sent as ``name``."""
    if not EARLIEST_DATE <= day <= today():
        raise ApiError(
            msg(
                "day_out_of_range",
                "%(name)s must lie from %(earliest)s to today (%(today)s); got %(value)s",
                name=field(name),
                earliest=EARLIEST_DATE,
                today=today(),
                value=_shown(value),
            )
        )


def parse_as_of(value: str | None) -> dt.date | None:
    return parse_day(value, "as_of")


def parse_int(name: str, default: int, lo: int, hi: int) -> int:
    """A whole number from the query string."""
    found = parse_whole(request.args.get(name), name, lo, hi, default)
    assert found is not None
    return found


@bp.get("/api/zones")
@requires("view")
def zones_collection():
    """The boundaries in force (now, or on ?as_of=), with the parcels' mu inside each."""
    as_of = parse_as_of(request.args.get("as_of"))
    return _geojson(zones.feature_collection(get_session(), as_of))


@bp.get("/api/zones/<code>/summary")
@requires("view")
def zone_summary(code: str):
    """A zone's figures (see landmap.services.zones): boundary mu, parcels' mu inside and
    outside, by stage and land-use class, cross-boundary parcels; ?as_of= for a past day."""
    as_of = parse_as_of(request.args.get("as_of"))
    found = zones.zone_summary(get_session(), code.upper(), as_of)
    if found is None:
        raise ApiError(msg("no_such_zone", "There is no zone %(code)s.", code=code), 404)
    return jsonify(found.as_dict())


@bp.get("/api/parcels")
@requires("view")
def parcels_collection():
    args = request.args
    bbox = args.get("bbox")
    f = parcels.ParcelFilter(
        zone=parse_zone(args.get("zone")),
        stage=parse_stage(args.get("stage")),
        project_id=parse_project(args.get("project")),
        batch_id=parse_batch(args.get("batch")),
        bbox=parse_bbox(bbox) if bbox is not None else None,
        as_of=parse_as_of(args.get("as_of")),
        limit=parse_int("limit", parcels.MAX_FEATURES, 1, parcels.MAX_FEATURES),
        offset=parse_int("offset", 0, 0, MAX_ID),
    )

    def next_href(offset: int) -> str:
        return url_for(request.endpoint, **{**args.to_dict(), "offset": offset})

    return _geojson(parcels.feature_collection(get_session(), f, next_href))


@bp.get("/api/parcels/<path:code>")
@requires("view")
def parcel_feature(code: str):
    as_of = parse_as_of(request.args.get("as_of"))
    feature = parcels.get_feature(get_session(), code, as_of)
    or_404(feature, msg("no_such_parcel", "there is no parcel %(code)s", code=_shown(code)))
    feature["properties"].update(supply.parcel_facts(get_session(), code, as_of))
    return Response(jsonify(feature).get_data(), mimetype=GEOJSON)


@bp.get("/api/projects")
@requires("view")
def project_list():
    return jsonify(projects.list_projects(get_session(), parse_zone(request.args.get("zone"))))


@bp.get("/api/projects/<int:project_id>")
@requires("view")
def project_detail(project_id: int):
    found = projects.get_project(get_session(), project_id)
    return jsonify(
        or_404(found, msg("no_such_project", "there is no project %(id)s", id=project_id))
    )


@bp.get("/api/search")
@requires("view")
def search():
    """Parcels and projects by any part of a code, owner, location or name (see
    parcels.search): ``q``, at most ``limit`` results (10 unless asked, at most 50)."""
    limit = parse_int("limit", 10, 1, parcels.MAX_HITS)
    hits = parcels.search(get_session(), request.args.get("q", ""), limit)
    return jsonify(results=[{**hit.as_dict(), "url": _hit_url(hit)} for hit in hits])


def _hit_url(hit: parcels.SearchHit) -> str | None:
    """A project's page (a project without parcels has no extent to zoom to)."""
    if hit.kind != "project":
        return None
    return url_for("acquisition.project_page", project_id=int(hit.key))


@bp.get("/healthz")
@requires(PUBLIC)
def healthz():
    if not database_answers(get_session()):
        return jsonify(status="unavailable", database=False), 503
    return jsonify(status="ok", database=True)


@bp.get("/api/parcels/stages-summary")
@requires("view")
def stages_summary():
    """Parcels and mu per acquisition stage, and their total, for a map's filter (zone=,
    project=, batch=) on a day (as_of=, else now): what the map's legend shows."""
    args = request.args
    f = parcels.ParcelFilter(
        zone=parse_zone(args.get("zone")),
        project_id=parse_project(args.get("project")),
        batch_id=parse_batch(args.get("batch")),
        as_of=parse_as_of(args.get("as_of")),
    )
    return jsonify(parcels.stages_summary(get_session(), f))
