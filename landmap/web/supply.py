"""Supply (供地), construction (动工 … 投产) and building facts of a parcel through the API, and
what the map's popup and the project page need to show and record them. See
landmap.services.supply."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from landmap.domain import ConstructionEvent, SupplyMethod, TransferWay
from landmap.messages import msg
from landmap.services import Result, supply
from landmap.web.auth import can, current_user_name, requires
from landmap.web.db import get_session
from landmap.web.errors import ApiError, or_404
from landmap.web.i18n import locale

bp = Blueprint("supply", __name__)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(msg("send_json_object", "send a JSON object (or a multipart form)"))
    return data


def _saved(code: str, recorded: Result, status: int):
    """The recorded row and the parcel's supply, construction and buildings now."""
    session = get_session()
    facts = supply.parcel_facts(session, code)
    session.commit()
    return jsonify({"recorded": recorded.as_dict(), **facts}), status


@bp.post("/api/parcels/<path:code>/supply")
@requires("supply")
def record_supply(code: str):
    """``{"method", "way"?, "date", "contract_no", "enterprise"?, "price_wan", "start_due",
    "completion_due", "investment_wan"?, "floor_area_m2"?, "note"?, "corrects"?}`` → 201."""
    found = supply.record_supply(get_session(), code, _body(), current_user_name())
    return _saved(code, found, 201)


@bp.post("/api/parcels/<path:code>/construction")
@requires("supply")
def record_construction(code: str):
    """``{"event", "date", "note", "developed_m2"?, "invested_wan"?}`` → 201."""
    found = supply.record_construction(get_session(), code, _body(), current_user_name())
    return _saved(code, found, 201)


@bp.patch("/api/parcels/<path:code>/buildings")
@requires("supply")
def record_buildings(code: str):
    """``{"floor_area_m2", "footprint_m2", "industrial_cover_m2"?, "date"?, "note"?}``."""
    found = supply.record_buildings(get_session(), code, _body(), current_user_name())
    return _saved(code, found, 200)


@bp.get("/api/parcels/<path:code>/supply-history")
@requires("view")
def supply_history(code: str):
    found = supply.history(get_session(), code)
    shown = code[:80]
    return jsonify(or_404(found, msg("no_such_parcel", "there is no parcel %(code)s", code=shown)))


def _choices(enum) -> list[dict[str, str]]:
    lang = locale()
    return [{"value": member.value, "label": member.label(lang)} for member in enum]


def popup_options(as_of: str | None) -> dict[str, Any]:
    """What the parcel popup's 供地/建设 section needs: its texts, the choices (with labels)
    and whether the user may record (not on a past day's map)."""
    return {
        "canEdit": can("supply") and not as_of,
        "locale": locale(),
        "methods": _choices(SupplyMethod),
        "ways": _choices(TransferWay),
        "events": _choices(ConstructionEvent),
        "labels": _popup_labels(),
    }


def _popup_labels() -> dict[str, str]:
    return {
        "section": _("Supply and construction"),
        "none": _("Not supplied"),
        "method": _("Supply method"),
        "way": _("Transfer way"),
        "date": _("Date"),
        "contract_no": _("Contract number"),
        "enterprise": _("Land user"),
        "price_wan": _("Price (10,000 yuan)"),
        "start_due": _("Contracted start"),
        "completion_due": _("Contracted completion"),
        "investment_wan": _("Planned investment (10,000 yuan)"),
        "floor_area_m2": _("Floor area (m²)"),
        "footprint_m2": _("Building footprint (m²)"),
        "industrial_cover_m2": _("Buildings, structures and yards (m²)"),
        "construction": _("Construction"),
        "buildings": _("Buildings"),
        "event": _("Event"),
        "note": _("Note"),
        "developed_m2": _("Area developed (m²)"),
        "invested_wan": _("Investment made (10,000 yuan)"),
        "record_supply": _("Record a supply"),
        "correct_supply": _("Correct the supply"),
        "record_event": _("Record a construction event"),
        "record_buildings": _("Record building facts"),
        "no_way": _("(none)"),
        "save": _("Save"),
        "saved": _("Saved"),
        "stop_reason": _("A stop needs its reason in the note"),
    }
