"""The land-use quota ledger (用地指标台账): books per year, entries, demand from the land."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from landmap.services import acquisition, quota, reports, zones
from landmap.services.quota import Entry
from landmap.web import charts
from landmap.web.api import parse_day
from landmap.web.auth import current_user_name, requires
from landmap.web.db import get_session
from landmap.web.downloads import workbook
from landmap.web.errors import ApiError
from landmap.web.i18n import locale

bp = Blueprint("quota", __name__)


def _json() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("send a JSON object")
    return data


def _int(data: dict, name: str, required: bool = False) -> int | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ApiError(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ApiError(f"{name} must be a whole number")
    return int(value)


def _year_arg() -> int:
    raw = request.args.get("year")
    if raw is None:
        return acquisition.today().year
    if not raw.isdigit():
        raise ApiError("year must be a year such as 2011")
    return int(raw)


def _project_of_batch(batch_id: int | None, project_id: int | None) -> int | None:
    if batch_id is None or project_id is not None:
        return project_id
    from sqlalchemy import text

    found = (
        get_session()
        .execute(text("SELECT project_id FROM acquisition_batch WHERE id = :b"), {"b": batch_id})
        .scalar()
    )
    if found is None:
        raise ApiError(f"unknown batch {batch_id}", 404)
    return found


@bp.get("/api/quota")
@requires("view")
def ledger():
    return jsonify(quota.ledger(get_session(), _year_arg()))


@bp.post("/api/quota/entries")
@requires("quota")
def add_entry():
    data = _json()
    kind = str(data.get("kind"))
    batch = _int(data, "batch")
    entry = Entry(
        year=_int(data, "year", required=kind != "correct") or 0,
        kind=kind,
        source=str(data.get("source") or "plan"),
        mu=None if kind == "correct" else quota.to_mu(data.get("mu"), data.get("ha")),
        project_id=_project_of_batch(batch, _int(data, "project")),
        batch_id=batch,
        reverses=_int(data, "reverses"),
        ref=str(data.get("ref") or "")[:500],
        note=str(data.get("note") or "")[:2000],
        day=parse_day(data.get("date")),
    )
    result = quota.record(get_session(), entry, current_user_name())
    get_session().commit()
    return jsonify(result), 201


@bp.post("/api/quota/reserve-demand")
@requires("quota")
def reserve_demand():
    data = _json()
    batch = _int(data, "batch")
    project = _project_of_batch(batch, _int(data, "project"))
    if project is None:
        raise ApiError("give the project or batch to reserve for")
    result = quota.reserve_demand(
        get_session(), _int(data, "year", required=True), str(data.get("source") or "plan"),
        project, batch, current_user_name(), str(data.get("ref") or ""),
        str(data.get("note") or ""), parse_day(data.get("date")),
    )  # fmt: skip
    get_session().commit()
    return jsonify(result), 201


@bp.put("/api/quota/years/<int:year>")
@requires("quota")
def set_target(year: int):
    data = _json()
    try:
        target = Decimal(str(data.get("target_mu")))
    except ArithmeticError as exc:
        raise ApiError("target_mu must be a number") from exc
    quota.set_target(get_session(), year, target, str(data.get("note") or ""))
    get_session().commit()
    return jsonify(quota.ledger(get_session(), year))


@bp.get("/api/quota/demand")
@requires("view")
def demand():
    args = request.args
    if args.get("parcels"):
        codes = [c.strip() for c in args["parcels"].split(",") if c.strip()]
        found = quota.demand(get_session(), codes=codes)
    else:
        found = quota.demand(
            get_session(),
            project_id=_int(dict(args), "project"),
            batch_id=_int(dict(args), "batch"),
        )
    return jsonify(found)


@bp.get("/quota")
@requires("view")
def page():
    from landmap.web.pages import quota_map

    try:
        year = _year_arg()
    except ApiError as exc:
        abort(400, exc.message)
    session = get_session()
    book = quota.ledger(session, year)
    batches = quota.demand_vs_reserved(session, year)
    batch_id = request.args.get("batch", type=int)
    chosen = next((b for b in batches if b["id"] == batch_id), None)
    loc = locale()
    return render_template(
        "quota.html", title=_("Land-use quota ledger %(year)s", year=year), year=year, book=book,
        batches=batches, projects=quota.by_project(session, year), chosen=chosen,
        map=quota_map(chosen) if chosen else None, zone_codes=zones.zone_codes(session),
        source_label=lambda s: quota.SOURCE_LABELS[s][0 if loc != "en" else 1],
        kind_label=lambda k: quota.KIND_LABELS[k][0 if loc != "en" else 1],
        chart=charts.monthly_bars(quota.monthly(session, year), {
            "granted": _("granted"), "reserved": _("reserved"), "consumed": _("consumed")}),
        report_month=f"{year}-12", report_quarter=f"{year}-Q4",
        ledger_api=url_for("quota.ledger", year=year),
    )  # fmt: skip


@bp.get("/reports/monthly.xlsx")
@requires("view")
def monthly_report():
    try:
        first = dt.date.fromisoformat(request.args.get("month", "") + "-01")
    except ValueError as exc:
        raise ApiError("month must be YYYY-MM") from exc
    last = _add_months(first, 1) - dt.timedelta(days=1)
    data = reports.period_workbook(get_session(), first, last, _("Monthly statistics"))
    return workbook(data, f"monthly-{first:%Y-%m}.xlsx")


@bp.get("/reports/quarterly.xlsx")
@requires("view")
def quarterly_report():
    raw = request.args.get("quarter", "")
    try:
        year, q = raw.split("-Q")
        if q not in ("1", "2", "3", "4"):
            raise ValueError(raw)
        first = dt.date(int(year), 3 * int(q) - 2, 1)
    except ValueError as exc:
        raise ApiError("quarter must be YYYY-Qn, e.g. 2011-Q4") from exc
    last = _add_months(first, 3) - dt.timedelta(days=1)
    data = reports.period_workbook(get_session(), first, last, _("Quarterly analysis"))
    return workbook(data, f"quarterly-{raw}.xlsx")


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)
