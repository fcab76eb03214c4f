"""Compensation and resettlement (补偿安置) through the API: standards, households, their
computed compensation, agreements and payments, a project's (or batch's) money. See
landmap.services.compensation; the 补偿 map theme is landmap.web.compensation_pages.

ID and phone numbers are masked for every reader except the roles that handle agreements
(permission "compensation"), and only in one household's own record
(``GET /api/households/<id>``); each such unmasked read is written to the audit trail, in a
transaction of its own, before the numbers are sent."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from landmap.config import personal_key
from landmap.db.engine import session_scope
from landmap.domain import LabelledEnum
from landmap.messages import Message, Term, gettext, msg
from landmap.services import compensation, projects
from landmap.services.personal import Sealer
from landmap.web.auth import can, current_user_name, requires
from landmap.web.db import get_session, settings
from landmap.web.errors import ApiError, or_404
from landmap.web.i18n import locale

bp = Blueprint("compensation", __name__)
MAX_ID = 2**31 - 1


def sealer() -> Sealer:
    """The app's sealer of personal numbers (Settings.personal_key), made once."""
    ext = current_app.extensions
    if "landmap.sealer" not in ext:
        ext["landmap.sealer"] = Sealer(personal_key(settings()))
    return ext["landmap.sealer"]


def for_people(value: Any, lang: str | None = None) -> Any:
    """A service's answer with its labels (enums, terms, messages) in the reader's language."""
    lang = lang or locale()
    if isinstance(value, LabelledEnum):
        return value.label(lang)
    if isinstance(value, Message):
        return value.render(lang)
    if isinstance(value, Term):
        return gettext(value.text, lang)
    if isinstance(value, dict):
        return {k: for_people(v, lang) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [for_people(v, lang) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(msg("send_json_object", "send a JSON object (or a multipart form)"))
    return data


def _day_arg(name: str) -> dt.date | None:
    value = request.args.get(name)
    if not value:
        return None
    return compensation.Reader({name: value}).day(name, future=name == "date")


def _id_arg(name: str) -> int | None:
    value = request.args.get(name)
    if not value:
        return None
    if not re.fullmatch(r"[0-9]{1,10}", value) or not 1 <= int(value) <= MAX_ID:
        raise ApiError(msg("not_an_id", "%(what)s must be an id (a whole number)", what=name))
    return int(value)


def _household_or_404(household_id: int) -> None:
    if household_id > MAX_ID:
        raise ApiError(msg("no_such_household", "no such household"), 404)


def _committed(payload: Any, status: int):
    get_session().commit()
    return jsonify(for_people(payload)), status


# --- standards -----------------------------------------------------------------------------


@bp.post("/api/compensation/standards")
@requires("standards")
def issue_standard():
    """``{"year", "effective_from", "area"?, "items": [{"kind", "class", "unit"?, "rate_yuan",
    "months"?, "until"?}], "note"?}`` → 201 the standard."""
    issued = compensation.issue_standard(get_session(), _body(), current_user_name())
    return _committed(issued, 201)


@bp.get("/api/compensation/standards")
@requires("view")
def list_standards():
    """Every standard, or with ``?date=`` those in force on that day (one per area)."""
    found = compensation.standards(get_session(), _day_arg("date"))
    return jsonify(for_people({"standards": found}))


# --- households ----------------------------------------------------------------------------


@bp.post("/api/parcels/<path:code>/households")
@requires("compensation")
def add_household(code: str):
    """``{"head", "id_number", "phone"?, "members", "houses": [{"structure", "area_m2",
    "storeys"?, "legal"?}], "attachments": [{"item", "quantity"}], "resettlement"
    ("money" | "flat"), "flat_area_m2"?, "parcels"?: [other codes], "note"?}`` → 201 ``id``."""
    added = compensation.add_household(
        get_session(), sealer(), code[:100], _body(), current_user_name()
    )
    return _committed(added, 201)


@bp.get("/api/parcels/<path:code>/households")
@requires("view")
def parcel_households(code: str):
    """The parcel's households with their status (numbers masked)."""
    found = compensation.parcel_households(get_session(), sealer(), code[:100], False)
    shown = code[:80]
    found = or_404(found, msg("no_such_parcel", "there is no parcel %(code)s", code=shown))
    return jsonify(for_people({"parcel": shown, "households": found}))


@bp.get("/api/households/<int:household_id>")
@requires("view")
def household(household_id: int):
    """One household; its ID and phone numbers unmasked (and the read audited) for the roles
    that handle agreements, masked for the others."""
    _household_or_404(household_id)
    unmasked = can("compensation")
    if unmasked:  # recorded (committed) before the numbers are read, or they are not sent
        with session_scope(current_app.extensions["landmap.sessions"]) as db:
            if compensation.exists(db, household_id):
                compensation.record_unmasked_view(
                    db, [household_id], current_user_name(), request.remote_addr or ""
                )
    found = compensation.household(get_session(), sealer(), household_id, unmasked)
    found = or_404(found, msg("no_such_household", "no such household"))
    return jsonify(for_people(found))


@bp.get("/api/households/<int:household_id>/compensation")
@requires("view")
def household_compensation(household_id: int):
    """The household's compensation item by item under the standard in force on its
    agreement's day (``?date=``, else today, before it has one): ``items``, ``unrated``,
    ``total_yuan``."""
    _household_or_404(household_id)
    session = get_session()
    if not compensation.exists(session, household_id):
        raise ApiError(msg("no_such_household", "no such household"), 404)
    computed = compensation.compute(session, household_id, _day_arg("date"))
    if computed.standard_id is None:
        raise compensation.no_standard(computed.day)
    return jsonify(for_people(computed.as_dict()))


@bp.post("/api/households/<int:household_id>/agreement")
@requires("compensation")
def agreement(household_id: int):
    """``{"number", "date", "amount_yuan", "adjustments": [{"reason", "amount_yuan"}],
    "supersedes"?, "note"?}`` → 201; the amount is the computed total plus the adjustments."""
    _household_or_404(household_id)
    signed = compensation.agree(get_session(), household_id, _body(), current_user_name())
    return _committed(signed, 201)


@bp.post("/api/households/<int:household_id>/payments")
@requires("compensation")
def payment(household_id: int):
    """``{"date", "amount_yuan", "voucher", "note"?}`` or ``{"date", "reverses", "voucher",
    "note"}`` → 201; beyond what is agreed → 409."""
    _household_or_404(household_id)
    paid = compensation.pay(get_session(), household_id, _body(), current_user_name())
    return _committed(paid, 201)


# --- a project's money ---------------------------------------------------------------------


def _project_scope(project_id: int) -> tuple[int | None, dt.date | None]:
    session = get_session()
    if project_id > MAX_ID or projects.find_project(session, project_id) is None:
        raise ApiError(projects.no_such_project(project_id), 404)
    batch = _id_arg("batch")
    if batch is not None and projects.project_of_batch(session, batch) != project_id:
        raise ApiError(projects.no_such_batch(batch), 404)
    return batch, _day_arg("as_of")


@bp.get("/api/projects/<int:project_id>/compensation")
@requires("view")
def project_compensation(project_id: int):
    """``budget_yuan``, ``computed_yuan``, ``agreed_yuan``, ``paid_yuan``,
    ``outstanding_yuan``, ``households`` by status, flats needed and planned (``?batch=``,
    ``?as_of=``)."""
    batch, as_of = _project_scope(project_id)
    found = compensation.summary(get_session(), sealer(), project_id, batch, as_of)
    return jsonify(for_people(found))


@bp.get("/api/projects/<int:project_id>/compensation/households")
@requires("view")
def project_households(project_id: int):
    """The households of the project (``?batch=``) with status and amounts (masked)."""
    batch, as_of = _project_scope(project_id)
    found = compensation.households_of(get_session(), sealer(), project_id, batch, as_of)
    return jsonify(for_people({"project": project_id, "batch": batch, "households": found}))
