"""Enterprise statistics (月统计) and 亩均效益: the API, the template and upload of the monthly
workbook, and the page /statistics with its forms (plain POST forms with CSRF that call the
same services as the API and show their refusals beside the form)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import PureWindowsPath

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from landmap.domain import today
from landmap.maps.builder import efficiency_overlay
from landmap.maps.styles import EFFICIENCY_COLORS
from landmap.messages import msg, rendered
from landmap.services import Refused, enterprises, statistics
from landmap.services import statistics_workbook as workbook_service
from landmap.web.api import GEOJSON, parse_as_of, parse_whole
from landmap.web.auth import can, current_user_name, requires
from landmap.web.db import get_session, rollback
from landmap.web.downloads import workbook
from landmap.web.errors import ApiError
from landmap.web.i18n import locale

bp = Blueprint("statistics", __name__)


def _json() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(msg("statistics_send_json_object", "send a JSON object"))
    return data


def _year_arg(required: bool = False) -> int | None:
    value = request.args.get("year")
    if required and not value:
        return today().year
    return parse_whole(value, "year", statistics.FIRST_YEAR, today().year)


def _ranking() -> statistics.Ranking:
    return statistics.ranking(get_session(), _year_arg(), parse_as_of(request.args.get("as_of")))


@bp.post("/api/enterprises/<int:enterprise_id>/statistics")
@requires("statistics")
def record(enterprise_id: int):
    found = statistics.record_month(get_session(), enterprise_id, _json(), current_user_name())
    get_session().commit()
    return jsonify(found.as_dict()), 200 if found.replaced else 201


@bp.get("/api/enterprises/<int:enterprise_id>/statistics")
@requires("view")
def months(enterprise_id: int):
    found = statistics.months(get_session(), enterprise_id, _year_arg())
    return jsonify([m.as_dict() for m in found])


@bp.get("/api/enterprises/<int:enterprise_id>/efficiency")
@requires("view")
def enterprise_efficiency(enterprise_id: int):
    found = statistics.efficiency(
        get_session(), enterprise_id, _year_arg(), parse_as_of(request.args.get("as_of"))
    )
    return jsonify(found.as_dict(locale()))


@bp.get("/api/efficiency")
@requires("view")
def efficiency_ranking():
    return jsonify(_ranking().as_dict(locale()))


@bp.get("/api/efficiency/parcels")
@requires("view")
def efficiency_parcels():
    """The 亩均效益 map theme: the enterprises' parcels with their class, as GeoJSON."""
    found = statistics.features(get_session(), _ranking(), locale())
    return Response(found, mimetype=GEOJSON)


@bp.get("/api/efficiency-classes")
@requires("view")
def get_classes():
    return jsonify(statistics.classes(get_session()))


@bp.put("/api/efficiency-classes")
@requires("classes")
def put_classes():
    found = statistics.set_classes(get_session(), _json())
    get_session().commit()
    return jsonify(found)


def _template_month() -> tuple[int, int]:
    """The month a template is for (``?year=&month=``): last month when not given."""
    last = today().replace(day=1) - dt.timedelta(days=1)
    year = request.args.get("year") or last.year
    month = request.args.get("month") or last.month
    return statistics.month_value(year, month)


@bp.get("/statistics/template.xlsx")
@requires("view")
def template():
    year, month = _template_month()
    data = workbook_service.template(get_session(), year, month)
    return workbook(data, f"statistics-{year}-{month:02d}.xlsx")


def _upload() -> workbook_service.Uploaded:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(msg("statistics_upload_no_file", "choose the filled workbook (.xlsx)"))
    name = PureWindowsPath(upload.filename).name[:200]
    data = upload.stream.read(workbook_service.MAX_BYTES + 1)
    return workbook_service.upload(get_session(), data, name, current_user_name())


def _wants_page() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


@bp.post("/statistics/upload")
@requires("statistics")
def upload():
    """The filled workbook: every row stored, or nothing and every problem listed (JSON for
    programs; the page with its report for a browser's form)."""
    try:
        result = _upload()
    except Refused as exc:
        rollback()
        if _wants_page():
            return _page(error=_error(exc, "upload"), status=exc.status)
        return jsonify(
            code=exc.code, error=exc.render(locale()), **rendered(exc.extra, locale())
        ), exc.status
    get_session().commit()
    if _wants_page():
        flash(
            _("%(n)s months stored (%(r)s of them replaced).", n=result.stored, r=result.replaced)
        )
        return redirect(url_for("statistics.page"))
    return jsonify(result.as_dict()), 201


# --- the page and its forms ---------------------------------------------------------------


def _error(exc: Refused, form: str) -> dict:
    problems = exc.extra.get("problems") or []
    return {
        "form": form,
        "code": exc.code,
        "text": exc.render(locale()),
        "problems": [p.render(locale()) for p in problems],
    }


@bp.get("/statistics")
@requires("view")
def page():
    return _page()


@bp.post("/statistics/entries")
@requires("statistics")
def form_entry():
    form = {key: value.strip() for key, value in request.form.items()}
    try:
        enterprise_id = enterprises.find_enterprise(get_session(), form.get("enterprise", ""))
        found = statistics.record_month(get_session(), enterprise_id, form, current_user_name())
    except Refused as exc:
        rollback()
        return _page(error=_error(exc, "entry"), typed=form, status=exc.status)
    get_session().commit()
    text = (
        _(
            "%(name)s %(year)s-%(month)s replaced.",
            name=found.enterprise,
            year=found.year,
            month=f"{found.month:02d}",
        )
        if found.replaced
        else _(
            "%(name)s %(year)s-%(month)s recorded.",
            name=found.enterprise,
            year=found.year,
            month=f"{found.month:02d}",
        )
    )
    flash(text)
    return redirect(url_for("statistics.page", year=found.year))


@bp.post("/statistics/classes")
@requires("classes")
def form_classes():
    form = {key: value.strip() for key, value in request.form.items()}
    try:
        statistics.set_classes(get_session(), form)
    except Refused as exc:
        rollback()
        return _page(error=_error(exc, "classes"), typed=form, status=exc.status)
    get_session().commit()
    flash(_("The class thresholds are saved."))
    return redirect(url_for("statistics.page", _anchor="classes"))


def _page(error: dict | None = None, typed: Mapping | None = None, status: int = 200):
    session = get_session()
    year = None if error else _year_arg()
    found = statistics.ranking(session, year)
    last = today().replace(day=1) - dt.timedelta(days=1)
    return (
        render_template(
            "statistics.html",
            title=_("Enterprise statistics and efficiency per mu"),
            ranking=found,
            rows=list(statistics.efficiency_rows(found)),
            trailing=found.rows[0].trailing if found.rows else None,
            enterprises=enterprises.list_enterprises(session),
            figures=statistics.FIGURES,
            error=error,
            typed=typed or {},
            template_year=last.year,
            template_month=last.month,
            this_year=today().year,
            can_record=can("statistics"),
            can_classes=can("classes"),
            colors=EFFICIENCY_COLORS,
        ),
        status,
    )


def efficiency_theme(as_of: dt.date | None) -> dict:
    """The 亩均效益 theme of the main map (maps.builder.efficiency_overlay): the enterprises'
    parcels filled by their class of the year (of ``as_of``, else the latest with figures)."""
    least = statistics.classes(get_session())
    rows = {
        cls: _("Class %(cls)s: at least %(least)s (10,000 yuan/mu)", cls=cls, least=value)
        for cls, value in least.items()
    }
    rows["D"] = _("Class D: less than %(least)s (10,000 yuan/mu)", least=least.get("C", 0))
    rows["none"] = _("No class (no land or no figures)")
    labels = {
        "mu": _("mu"),
        "status": _("Efficiency per mu"),
        "land_user": _("Land user"),
        "parcelUrl": url_for("pages.index", parcel="__CODE__"),
    }
    params = {"as_of": as_of.isoformat() if as_of else None}
    url = url_for("statistics.efficiency_parcels")
    legend = {"title": _("Efficiency per mu (tax per mu)"), "rows": rows}
    return efficiency_overlay(_("Efficiency per mu"), url, params, legend, labels)
