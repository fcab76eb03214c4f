"""The land-use quota ledger (用地指标台账): books per year, entries, demand from the land;
the ledger's forms on /quota (plain POST forms with CSRF) call the same service functions as
the API, so they meet the same refusals, shown beside the form in the user's language."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from landmap.domain import MAX_MU, QuotaKind, QuotaSource, today
from landmap.messages import Message, msg
from landmap.services import Refused, projects, quota, reports, zones
from landmap.services.quota import FIRST_YEAR, Entry, last_year
from landmap.web import charts
from landmap.web.api import check_day, parse_day, parse_id, parse_number, parse_whole
from landmap.web.auth import current_user_name, requires
from landmap.web.compensation import sealer
from landmap.web.db import get_session, rollback
from landmap.web.downloads import workbook
from landmap.web.errors import ApiError
from landmap.web.i18n import locale
from landmap.web.pages import quota_map

bp = Blueprint("quota", __name__)
# the kinds an entry form offers (a correction is made from the entry it reverses)
FORM_KINDS = (QuotaKind.GRANT, QuotaKind.RESERVE, QuotaKind.CONSUME, QuotaKind.RELEASE)


def _label(name: str) -> str:
    """A field as people read it in the request's locale (named in the refusals)."""
    labels = {
        "year": _("year"),
        "project": _("project"),
        "batch": _("batch"),
        "reverses": _("entry to reverse"),
        "date": _("date"),
        "target_mu": _("target (mu)"),
        "correct": _("entry to reverse"),
        "month": _("month"),
        "quarter": _("quarter"),
    }
    return labels[name]


def _json() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(msg("quota_send_json_object", "send a JSON object"))
    return data


def _id(data: Mapping, name: str) -> int | None:
    return parse_id(data.get(name), _label(name))


def _year(value, required: bool = False) -> int | None:
    if value in (None, "") and required:
        raise ApiError(msg("quota_year_required", "the year is required"))
    return parse_whole(value, _label("year"), FIRST_YEAR, last_year())


def _year_arg() -> int:
    return _year(request.args.get("year")) or today().year


def _project_of_batch(batch_id: int | None, project_id: int | None) -> int | None:
    if batch_id is None or project_id is not None:
        return project_id
    found = projects.project_of_batch(get_session(), batch_id)
    if found is None:
        raise ApiError(
            msg("quota_unknown_batch", "there is no batch %(batch)s", batch=batch_id), 404
        )
    return found


def _text(data: Mapping, name: str, most: int) -> str:
    return str(data.get(name) or "")[:most]


def _entry(data: Mapping) -> Entry:
    """The entry a request (JSON or a form's fields) asks for; the service checks the rest."""
    kind = str(data.get("kind"))
    batch = _id(data, "batch")
    return Entry(
        year=_year(data.get("year"), required=kind != QuotaKind.CORRECT) or 0,
        kind=kind,
        source=str(data.get("source") or QuotaSource.PLAN),
        mu=None if kind == QuotaKind.CORRECT else _amount(data),
        project_id=_project_of_batch(batch, _id(data, "project")),
        batch_id=batch,
        reverses=_id(data, "reverses"),
        ref=_text(data, "ref", 500),
        note=_text(data, "note", 2000),
        day=parse_day(data.get("date") or None, _label("date")),
    )


def _amount(data: Mapping):
    """mu or ha (one of them): the service checks and converts (quota.to_mu, the one place
    of the rule)."""
    return quota.to_mu(data.get("mu"), data.get("ha"))


def _target(year_value: Any, data: Mapping) -> int:
    """Set a year's target (mu) from a request's fields; the year set."""
    year = _year(year_value, required=True)
    assert year is not None
    target = parse_number(data.get("target_mu"), _label("target_mu"), 0, MAX_MU)
    quota.set_target(get_session(), year, target, _text(data, "note", 2000))
    return year


@bp.get("/api/quota")
@requires("view")
def ledger():
    return jsonify(quota.ledger(get_session(), _year_arg()).as_dict())


@bp.post("/api/quota/entries")
@requires("quota")
def add_entry():
    result = quota.record(get_session(), _entry(_json()), current_user_name())
    get_session().commit()
    return jsonify(result.as_dict()), 201


@bp.post("/api/quota/reserve-demand")
@requires("quota")
def reserve_demand():
    data = _json()
    batch = _id(data, "batch")
    project = _project_of_batch(batch, _id(data, "project"))
    if project is None:
        raise ApiError(msg("quota_reserve_needs_scope", "give the project or batch to reserve for"))
    result = quota.reserve_demand(
        get_session(),
        _year(data.get("year"), required=True),
        str(data.get("source") or QuotaSource.PLAN),
        project,
        batch,
        current_user_name(),
        _text(data, "ref", 500),
        _text(data, "note", 2000),
        parse_day(data.get("date"), _label("date")),
    )
    get_session().commit()
    return jsonify(result.as_dict()), 201


@bp.put("/api/quota/years/<int:year>")
@requires("quota")
def set_target(year: int):
    year = _target(year, _json())
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


# --- the page and its forms -------------------------------------------------------------


@bp.get("/quota")
@requires("view")
def page():
    return _render(_year_arg(), _id(request.args, "batch"), _id(request.args, "correct"))


@bp.post("/quota/entries")
@requires("quota")
def form_entry():
    """An entry from the page's entry or correction form: recorded, then back to the page
    (post/redirect/get); refused, the page again with the refusal beside that form."""
    form = "correction" if request.form.get("kind") == QuotaKind.CORRECT else "entry"
    try:
        row = quota.record(get_session(), _entry(_form_fields()), current_user_name())
    except Refused as exc:
        return _refused_form(exc, form)
    get_session().commit()
    kind, mu = row.kind.label(locale()), f"{row.mu:.2f}"
    flash(_("Entry %(id)s recorded: %(kind)s %(mu)s mu.", id=row.id, kind=kind, mu=mu))
    return redirect(url_for("quota.page", year=row.year, _anchor="entries"))


@bp.post("/quota/target")
@requires("quota")
def form_target():
    try:
        year = _target(request.form.get("year"), request.form)
    except Refused as exc:
        return _refused_form(exc, "target")
    get_session().commit()
    flash(_("The target for %(year)s is set.", year=year))
    return redirect(url_for("quota.page", year=year, _anchor="target"))


def _form_fields() -> dict[str, str]:
    """A form's fields as the API's JSON names them: the amount as mu or ha by its unit."""
    fields = {key: value.strip() for key, value in request.form.items()}
    amount, unit = fields.pop("amount", ""), fields.pop("unit", "mu")
    if amount:
        fields["ha" if unit == "ha" else "mu"] = amount
    return fields


def _refused_form(exc: Refused, form: str):
    """The page again, nothing written, with the refusal in the request's locale beside
    ``form`` and what the user typed kept in it."""
    rollback()
    year, correct = today().year, None
    try:  # what the form was about, as far as it can be read
        year = _year(request.form.get("year")) or year
        correct = _id(request.form, "reverses") if form == "correction" else None
    except Refused:
        pass
    error = {"form": form, "text": exc.render(locale()), "code": exc.code}
    return _render(year, correct=correct, error=error, typed=request.form), exc.status


def _render(
    year: int,
    batch_id: int | None = None,
    correct: int | None = None,
    error: dict | None = None,
    typed: Mapping | None = None,
):
    session = get_session()
    book = quota.ledger(session, year)
    batches = quota.demand_vs_reserved(session, year)
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
        form_kinds=FORM_KINDS,
        sources=list(QuotaSource),
        all_projects=projects.list_projects(session),
        correcting=next((e for e in book.entries if e.id == correct), None),
        correct_id=correct,
        error=error,
        typed=typed or {},
        today=today().isoformat(),
    )


def _period(name: str, pattern: str, months: int, message: Message) -> tuple[dt.date, dt.date]:
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
    check_day(first, _label(name), raw)
    return first, _add_months(first, months) - dt.timedelta(days=1)


@bp.get("/reports/monthly.xlsx")
@requires("view")
def monthly_report():
    first, last = _period(
        "month",
        r"([0-9]{4})-([0-9]{2})",
        1,
        msg("report_bad_month", "the month must be given as YYYY-MM (month 01 to 12)"),
    )
    data = reports.period_workbook(get_session(), first, last, _("Monthly statistics"), sealer())
    return workbook(data, f"monthly-{first:%Y-%m}.xlsx")


@bp.get("/reports/quarterly.xlsx")
@requires("view")
def quarterly_report():
    first, last = _period(
        "quarter",
        r"([0-9]{4})-Q([1-4])",
        3,
        msg("report_bad_quarter", "the quarter must be given as YYYY-Qn, e.g. 2011-Q4"),
    )
    data = reports.period_workbook(get_session(), first, last, _("Quarterly analysis"), sealer())
    return workbook(data, f"quarterly-{first.year}-Q{(first.month + 2) // 3}.xlsx")


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)
