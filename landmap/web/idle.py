"""Idle land (闲置土地, landmap.services.idle): the list as JSON, GeoJSON, a page and a
workbook, of any day (?as_of=) and zone (?zone=); and the idle-land theme of the maps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from landmap.maps.themes import idle_overlay
from landmap.services import idle, zones
from landmap.web.api import GEOJSON, parse_as_of, parse_zone
from landmap.web.auth import requires
from landmap.web.db import get_session
from landmap.web.downloads import workbook
from landmap.web.i18n import locale

bp = Blueprint("idle", __name__)


def _report() -> idle.IdleReport:
    args = request.args
    as_of = parse_as_of(args.get("as_of"))
    return idle.idle_land(get_session(), as_of, parse_zone(args.get("zone")))


@bp.get("/api/idle-land")
@requires("view")
def idle_land():
    """The idle parcels (``parcels``) and those to watch (``watch``) on ?as_of= (else today)
    in ?zone= (else all), with the rule's thresholds and source and the idle totals."""
    return jsonify(_report().shown(locale()))


@bp.get("/api/idle-land/features")
@requires("view")
def idle_land_geojson():
    """The same parcels as GeoJSON (EPSG:4326), each with its theme class for the map."""
    report = _report()
    body = idle.feature_collection(get_session(), report, locale())
    return Response(body, mimetype=GEOJSON)


@bp.get("/idle-land.xlsx")
@requires("view")
def idle_land_workbook():
    report = _report()
    name = f"idle-land-{report.zone + '-' if report.zone else ''}{report.as_of.isoformat()}.xlsx"
    return workbook(idle.workbook(report), name)


@bp.get("/idle-land")
@requires("view")
def page():
    report = _report()
    args = {"as_of": request.args.get("as_of") or None, "zone": report.zone}
    return render_template(
        "idle_land.html",
        title=_("Idle land"),
        report=report,
        rows=[p.shown(locale()) for p in report.parcels],
        watch=[p.shown(locale()) for p in report.watch],
        rule=idle.RULE,
        as_of=parse_as_of(request.args.get("as_of")),
        zone=report.zone,
        zone_codes=zones.zone_codes(get_session()),
        workbook_url=url_for("idle.idle_land_workbook", **args),
        api_url=url_for("idle.idle_land", **args),
    )


def idle_theme(as_of: dt.date | None, zone: str | None) -> dict[str, Any]:
    """The idle-land theme of a map (maps.themes.idle_overlay) of ``as_of`` and ``zone``."""
    legend = {
        "title": _("Idle land"),
        "rows": {
            "recoverable": _("Idle two years or more: may be taken back"),
            "idle": _("Idle one year or more: idle fee due"),
            "watch": _("To watch: start overdue or near, stopped"),
        },
    }
    labels = {
        "mu": _("mu"),
        "status": _("Status"),
        "land_user": _("Land user"),
        "reason": _("Reason"),
        "days_overdue": _("Days overdue"),
        "fee_wan": _("Idle fee (10,000 yuan)"),
        "parcelUrl": url_for("pages.index", parcel="__CODE__"),
    }
    params = {"as_of": as_of.isoformat() if as_of else None, "zone": zone}
    url = url_for("idle.idle_land_geojson")
    return idle_overlay(_("Idle land"), url, params, legend, labels)
