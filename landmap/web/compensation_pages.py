"""The compensation screens (补偿安置, issue 19): the household list of a project or batch with
its money (/projects/<id>/compensation), the project page's money block per batch, the parcel
popup's households section (static/js/compensation.js) and the 补偿 map theme (its GeoJSON and
overlay). Every figure comes from landmap.services.compensation; ID and phone numbers are
always masked here."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _

from landmap.domain import HouseholdStatus
from landmap.maps.themes import compensation_overlay
from landmap.services import compensation, compensation_theme, projects, zones
from landmap.web.api import GEOJSON, MAX_ID, parse_as_of, parse_id, parse_zone
from landmap.web.auth import requires
from landmap.web.compensation import for_people, sealer
from landmap.web.db import get_session
from landmap.web.i18n import locale

bp = Blueprint("compensation_pages", __name__)


def _project_or_404(project_id: int) -> dict[str, Any]:
    project = projects.get_project(get_session(), project_id) if project_id <= MAX_ID else None
    if project is None:
        abort(404, _("There is no such project."))
    return project


def _status_rows(money: dict[str, Any]) -> list[dict[str, Any]]:
    """The households by status (summary's ``households``): label, colour and count."""
    loc = locale()
    counts = money["households"]
    return [
        {"status": s.value, "label": s.label(loc), "colour": s.colour, "count": counts[s.value]}
        for s in HouseholdStatus
    ]


def _workbook_url(project_id: int, batch_id: int | None, as_of: dt.date | None) -> str:
    """The 补偿安置台账 workbook of the list (its route is /projects/<id>/compensation.xlsx)."""
    args = {"batch": batch_id, "as_of": as_of.isoformat() if as_of else None}
    query = urlencode({k: v for k, v in args.items() if v is not None})
    path = url_for("compensation_pages.page", project_id=project_id) + ".xlsx"
    return path + ("?" + query if query else "")


@bp.get("/projects/<int:project_id>/compensation")
@requires("view")
def page(project_id: int):
    """The households of the project (``?batch=``) with their status and money, as of
    ``?as_of=`` (agreements signed and payments made by then), the money at the top."""
    session = get_session()
    project = _project_or_404(project_id)
    batch_id = parse_id(request.args.get("batch"), "batch")
    batch = next((b for b in project["batches"] if b["id"] == batch_id), None)
    if batch_id is not None and batch is None:
        abort(404, _("There is no such batch."))
    as_of = parse_as_of(request.args.get("as_of"))
    households = compensation.households_of(session, sealer(), project_id, batch_id, as_of)
    money = compensation.summary(session, sealer(), project_id, batch_id, as_of, households)
    return render_template(
        "compensation.html",
        title=_("Compensation and resettlement: %(name)s", name=project["name"]),
        project=project,
        batch=batch,
        as_of=as_of,
        money=money,
        statuses=_status_rows(money),
        households=for_people(households),
        workbook_url=_workbook_url(project_id, batch_id, as_of),
        api_url=url_for(
            "compensation.project_compensation",
            project_id=project_id,
            batch=batch_id,
            as_of=as_of.isoformat() if as_of else None,
        ),
        zone_codes=zones.zone_codes(session),
    )


def batch_money(project: dict[str, Any], as_of: dt.date | None) -> list[dict[str, Any]]:
    """The project page's 补偿安置 block: each batch with its money
    (services.compensation.summary) as of ``as_of``."""
    session = get_session()
    return [
        {
            "batch": b,
            "money": compensation.summary(session, sealer(), project["id"], b["id"], as_of),
        }
        for b in project["batches"]
    ]


# --- the map: the popup's section and the 补偿 theme ----------------------------------------


def popup_options() -> dict[str, Any]:
    """What the parcel popup's 补偿安置 section needs: the URL of a parcel's households, the
    household list's page and the texts."""
    return {
        "url": url_for("compensation.parcel_households", code="__CODE__"),
        "pageUrl": url_for("compensation_pages.page", project_id=0).replace("/0/", "/__ID__/", 1),
        "labels": {
            "section": _("Compensation and resettlement"),
            "section_now": _("Compensation and resettlement (now)"),
            "loading": _("Loading…"),
            "none": _("No households recorded on this parcel."),
            "members": _("Members"),
            "agreed": _("Agreed (yuan)"),
            "paid": _("Paid (yuan)"),
            "outstanding": _("Outstanding (yuan)"),
            "none_agreed": _("not signed"),
            "list": _("The project's households"),
        },
    }


@bp.get("/api/compensation/theme")
@requires("view")
def theme_geojson():
    """The 补偿 map theme: the parcels with households (in ``?zone=``), each by the least
    advanced status of its households, as GeoJSON (EPSG:4326)."""
    zone = parse_zone(request.args.get("zone"))
    body = compensation_theme.feature_collection(get_session(), zone, locale())
    return Response(body, mimetype=GEOJSON)


def compensation_theme_overlay(zone: str | None) -> dict[str, Any]:
    """The 补偿 theme of a map (maps.themes.compensation_overlay) of ``zone`` (else all):
    the statuses' labels and colours from HouseholdStatus."""
    loc = locale()
    legend = {
        "title": _("Compensation paid (the parcel's least advanced household)"),
        "rows": [
            {"key": s.value, "label": s.label(loc), "color": s.colour} for s in HouseholdStatus
        ],
    }
    labels = {
        "mu": _("mu"),
        "status": _("Compensation"),
        "households": _("Households"),
        "parcelUrl": url_for("pages.index", parcel="__CODE__"),
    }
    url = url_for("compensation_pages.theme_geojson")
    return compensation_overlay(_("Compensation"), url, {"zone": zone}, legend, labels)
