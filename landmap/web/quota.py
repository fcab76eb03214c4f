"""The land-use quota ledger (用地指标台账): books per year, entries, demand from the land."""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from landmap.domain import MAX_MU, QuotaKind, QuotaSource, today
from landmap.services import projects, quota, reports, zones
from landmap.services.quota import FIRST_YEAR, Entry, last_year
from landmap.web import charts
from landmap.web.api import check_day, parse_day, parse_id, parse_number, parse_whole
from landmap.web.auth import current_user_name, requires
from landmap.web.db import get_session
from landmap.web.downloads import workbook
from landmap.web.errors import ApiError
from landmap.web.i18n import locale
from landmap.web.pages import quota_map

bp = Blueprint("quota", __name__)


def _json() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("send a JSON object")
    return data


def _id(data, name: str) -> int | None:
    return parse_id(data.get(name), name)


def _year(value, required: bool = False) -> int | None:
    if value is None and required:
        raise ApiError("year is required")
    return parse_whole(value, "year", FIRST_YEAR, last_year())


def _year_arg() -> int:
    return _year(request.args.get("year")) or today().year


def _project_of_batch(batch_id: int | None, project_id: int | None) -> int | None:
    if batch_id is None or project_id is not None:
        return project_id
    found = projects.project_of_batch(get_session(), batch_id)
    if found is None:
        raise ApiError(f"unknown batch {batch_id}", 404)
    return found


@bp.get("/api/quota")
@requires("view")
def ledger():
    return jsonify(quota.ledger(get_session(), _year_arg()).as_dict())


@bp.post("/api/quota/entries")
@requires("quota")
def add_entry():
    data = _json()
    kind = str(data.get("kind"))
    batch = _id(data, "batch")
    entry = Entry(
        year=_year(data.get("year"), required=kind != QuotaKind.CORRECT) or 0,
        kind=kind,
        source=str(data.get("source") or QuotaSource.PLAN),
        mu=None if kind == QuotaKind.CORRECT else _amount(data),
        project_id=_project_of_batch(batch, _id(data, "project")),
        batch_id=batch,
        reverses=_id(data, "reverses"),
        ref=str(data.get("ref") or "")[:500],
        note=str(data.get("note") or "")[:2000],
        day=parse_day(data.get("date")),
    )
    result = quota.record(get_session(), entry, current_user_name())
    get_session().commit()
    return jsonify(result.as_dict()), 201


def _amount(data: dict):
    """mu or ha (one of them), each a number within range; the service converts."""
    mu, ha = data.get("mu"), data.get("ha")
    return quota.to_mu(
        None if mu is None else parse_number(mu, "mu", 0, MAX_MU),
        None if ha is None else parse_number(ha, "ha", 0, MAX_MU),
    )


@bp.post("/api/quota/reserve-demand")
@requires("quota")
def reserve_demand():
    data = _json()
    batch = _id(data, "batch")
    project = _project_of_batch(batch, _id(data, "project"))
    if project is None:
        raise ApiError("give the project or batch to reserve for")
    result = quota.reserve_demand(
        get_session(),
        _year(data.get("year"), required=True),
        str(data.get("source") or QuotaSource.PLAN),
        project,
        batch,
        current_user_name(),
        str(data.get("ref") or ""),
        str(data.get("note") or ""),
        parse_day(data.get("date")),
    )
    get_session().commit()
    return jsonify(result.as_dict()), 201


@bp.put("/api/quota/years/<int:year>")
@requires("quota")
def set_target(year: int):
    data = _json()
    year = _year(year)
    target = parse_number(data.get("target_mu"), "target_mu", 0, MAX_MU)
    quota.set_target(get_session(), year, target, str(data.get("note") or ""))
    get_session().commit()
    return jsonify(quota.ledger(get_session(), year).as_dict())


@bp.get("/api/quota/demand")
@requires("view")
def demand():
    args = request.args
    if args.get("parcels"):
        codes = [code.strip() for code in args["parcels"].split(",") if code.strip()]
        found = quota.demand(get_session(), codes=codes)
    else:
        found = quota.demand(
            get_session(), project_id=_id(args, "project"), batch_id=_id(args, "batch")
        )
    return jsonify(found)


@bp.get("/quota")
@requires("view")
def page():
    year = _year_arg()
    session = get_session()
    book = quota.ledger(session, year)
    batches = quota.demand_vs_reserved(session, year)
    batch_id = _id(request.args, "batch")
    chosen = next((b for b in batches if b.id == batch_id), None)
    last = min(dt.date(year, 12, 1), today())  # the reports link to a period that has begun
    loc = locale()
    labels = {"granted": _("granted"), "reserved": _("reserved"), "consumed": _("consumed")}
    return render_template(
        "quota.html",
        title=_("Land-use quota ledger %(year)s", year=year),
        year=year,
        book=book,
        batches=batches,
        projects=quota.by_project(session, year),
        chosen=chosen,
        map=quota_map(chosen.as_dict()) if chosen else None,
        zone_codes=zones.zone_codes(session),
        source_label=lambda source: QuotaSource(source).label(loc),
        kind_label=lambda kind: QuotaKind(kind).label(loc),
        chart=charts.monthly_bars(quota.monthly(session, year), labels),
        report_month=f"{last:%Y-%m}",
        report_quarter=f"{last.year}-Q{(last.month + 2) // 3}",
        ledger_api=url_for("quota.ledger", year=year),
    )


def _period(name: str, pattern: str, months: int, message: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a month (YYYY-MM) or a quarter (YYYY-Qn) asked for; a period
    before EARLIEST_DATE or one that has not begun is 400."""
    raw = request.args.get(name, "")
    found = re.fullmatch(pattern, raw)
    try:
        if not found:
            raise ValueError(raw)
        year, number = int(found[1]), int(found[2])
        first = dt.date(year, (number - 1) * months + 1, 1)
    except ValueError as exc:
        raise ApiError(message) from exc
    check_day(first, name, raw)
    return first, _add_months(first, months) - dt.timedelta(days=1)


@bp.get("/reports/monthly.xlsx")
@requires("view")
def monthly_report():
    first, last = _period("month", r"([0-9]{4})-([0-9]{2})", 1, "month must be YYYY-MM")
    data = reports.period_workbook(get_session(), first, last, _("Monthly statistics"))
    return workbook(data, f"monthly-{first:%Y-%m}.xlsx")


@bp.get("/reports/quarterly.xlsx")
@requires("view")
def quarterly_report():
    first, last = _period(
        "quarter", r"([0-9]{4})-Q([1-4])", 3, "quarter must be YYYY-Qn, e.g. 2011-Q4"
    )
    data = reports.period_workbook(get_session(), first, last, _("Quarterly analysis"))
    return workbook(data, f"quarterly-{first.year}-Q{(first.month + 2) // 3}.xlsx")


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)
