"""Parcel edits through the API: attribute corrections (officers), splits, merges and
geometry corrections (administrators). See landmap.services.parcel_edits."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from landmap.messages import msg
from landmap.services import parcel_edits
from landmap.web.api import parse_day, parse_number
from landmap.web.auth import current_user_name, requires
from landmap.web.db import get_session
from landmap.web.errors import ApiError

bp = Blueprint("parcel_edits", __name__)

MAX_AREA_M2 = 10**11  # what numeric(14, 2) holds, and more than any zone


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(msg("send_json_object", "send a JSON object (or a multipart form)"))
    return data


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(msg("reason_not_text", "the reason must be text"))
    return value


def _saved(result: dict[str, Any], status: int = 200):
    get_session().commit()
    return jsonify(result), status


@bp.patch("/api/parcels/<path:code>")
@requires("parcels")
def correct(code: str):
    """Correct a parcel's attributes: ``{field: value, ..., "reason": "...", "date"?}``
    (fields: parcel_edits.CORRECTABLE)."""
    data = _body()
    fields = {k: v for k, v in data.items() if k not in ("reason", "date")}
    if fields.get("official_area_m2") is not None:
        fields["official_area_m2"] = parse_number(
            fields["official_area_m2"], "official_area_m2", 0, MAX_AREA_M2
        )
    result = parcel_edits.correct(
        get_session(),
        code,
        fields,
        _text(data, "reason"),
        current_user_name(),
        parse_day(data.get("date")),
    )
    return _saved(result)


@bp.post("/api/parcels/<path:code>/split")
@requires("reshape")
def split(code: str):
    """``{"line": <LineString>} or {"parts": [<Polygon>...]}``, ``codes``?, ``reason``?,
    ``date``? → 201 with the new parcels."""
    data = _body()
    result = parcel_edits.split(
        get_session(),
        code,
        current_user_name(),
        line=data.get("line"),
        parts=data.get("parts"),
        codes=data.get("codes"),
        reason=_text(data, "reason"),
        day=parse_day(data.get("date")),
    )
    return _saved(result, 201)


@bp.post("/api/parcels/merge")
@requires("reshape")
def merge():
    """``{"codes": [...], "code"?, "reason"?, "date"?}`` → 201 with the new parcel."""
    data = _body()
    result = parcel_edits.merge(
        get_session(),
        data.get("codes"),
        current_user_name(),
        code=data.get("code"),
        reason=_text(data, "reason"),
        day=parse_day(data.get("date")),
    )
    return _saved(result, 201)


@bp.patch("/api/parcels/<path:code>/geometry")
@requires("reshape")
def geometry(code: str):
    """``{"geometry": <Polygon|MultiPolygon>, "reason": "...", "date"?}``."""
    data = _body()
    result = parcel_edits.correct_geometry(
        get_session(),
        code,
        data.get("geometry"),
        _text(data, "reason"),
        current_user_name(),
        parse_day(data.get("date")),
    )
    return _saved(result)
