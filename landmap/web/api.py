"""JSON API: GeoJSON in EPSG:4326. Query parameters are checked here; bad ones get 400."""

from __future__ import annotations

import datetime as dt
import math

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from landmap.domain import Stage
from landmap.services import parcels, projects, zones
from landmap.web.auth import PUBLIC, requires
from landmap.web.db import get_session
from landmap.web.errors import ApiError

bp = Blueprint("api", __name__)

GEOJSON = "application/geo+json"


def _geojson(body: str) -> Response:
    return Response(body, mimetype=GEOJSON)


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or not all(math.isfinite(v) for v in parts):
        raise ApiError("bbox must be minlon,minlat,maxlon,maxlat (four numbers)")
    x0, y0, x1, y1 = parts
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise ApiError("bbox must lie within -180..180, -90..90 with min < max")
    return x0, y0, x1, y1


def parse_zone(value: str | None) -> str | None:
    if not value:
        return None
    known = zones.zone_codes(get_session())
    code = value.upper()
    if code not in known:
        raise ApiError(f"unknown zone {value!r}; zones are {', '.join(known)}")
    return code


def parse_stage(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return Stage.parse(value).value
    except ValueError as exc:
        raise ApiError(str(exc)) from exc


def parse_project(value: str | None) -> int | None:
    if not value:
        return None
    session = get_session()
    if value.isdigit():
        found = session.execute(text("SELECT id FROM project WHERE id = :v"), {"v": int(value)})
    else:
        found = session.execute(text("SELECT id FROM project WHERE name = :v"), {"v": value})
    project_id = found.scalar()
    if project_id is None:
        raise ApiError(f"unknown project {value!r}")
    return project_id


def parse_batch(value: str | None) -> int | None:
    if not value:
        return None
    found = None
    if value.isdigit():
        found = (
            get_session()
            .execute(text("SELECT id FROM acquisition_batch WHERE id = :v"), {"v": int(value)})
            .scalar()
        )
    if found is None:
        raise ApiError(f"unknown batch {value!r} (give a batch id)")
    return found


def parse_day(value, name: str = "date", required: bool = False) -> dt.date | None:
    """A YYYY-MM-DD date from a query argument or a JSON/form field; 400 naming ``name``."""
    if value in (None, ""):
        if required:
            raise ApiError(f"{name} is required (YYYY-MM-DD)")
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ApiError(f"{name} must be a date YYYY-MM-DD; got {value!r}") from exc


def parse_as_of(value: str | None) -> dt.date | None:
    return parse_day(value, "as_of")


def parse_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ApiError(f"{name} must be a whole number from {lo} to {hi}")
    return int(raw)


@bp.get("/api/zones")
@requires("view")
def zones_collection():
    as_of = parse_as_of(request.args.get("as_of"))
    if as_of:
        from landmap.services import adjustment

        return _geojson(adjustment.zones_as_of(get_session(), as_of))
    return _geojson(zones.feature_collection(get_session()))


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
    )
    return _geojson(parcels.feature_collection(get_session(), f))


@bp.get("/api/parcels/<code>")
@requires("view")
def parcel_feature(code: str):
    feature = parcels.get_feature(get_session(), code, parse_as_of(request.args.get("as_of")))
    if feature is None:
        raise ApiError(f"no parcel with code {code!r}", 404)
    return Response(jsonify(feature).get_data(), mimetype=GEOJSON)


@bp.get("/api/projects")
@requires("view")
def project_list():
    return jsonify(projects.list_projects(get_session(), parse_zone(request.args.get("zone"))))


@bp.get("/api/projects/<int:project_id>")
@requires("view")
def project_detail(project_id: int):
    found = projects.get_project(get_session(), project_id)
    if found is None:
        raise ApiError(f"no project with id {project_id}", 404)
    return jsonify(found)


@bp.get("/api/search")
@requires("view")
def search():
    q = request.args.get("q", "")
    if len(q) > 100:
        raise ApiError("q is longer than 100 characters")
    return jsonify(results=parcels.search(get_session(), q))


@bp.get("/healthz")
@requires(PUBLIC)
def healthz():
    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="unavailable", database=False), 503
    return jsonify(status="ok", database=True)
