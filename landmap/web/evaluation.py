"""The zone's land intensive-use evaluation (开发区土地集约利用评价): the API, the page (each
figure's parcels shown on its map) and the workbook, all of services.evaluation."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from flask_babel import gettext as _

from landmap.services import evaluation, zones
from landmap.services.evaluation import Evaluation
from landmap.web.api import parse_as_of, parse_zone
from landmap.web.auth import requires
from landmap.web.db import get_session
from landmap.web.downloads import workbook
from landmap.web.i18n import locale
from landmap.web.pages import page_map

bp = Blueprint("evaluation", __name__)


def _asked() -> Evaluation:
    """The evaluation ``?zone=`` (every zone without) and ``?as_of=`` (now without) ask for."""
    zone = parse_zone(request.args.get("zone"))
    as_of = parse_as_of(request.args.get("as_of"))
    return evaluation.evaluation(get_session(), zone, as_of)


def _zone_name(code: str | None) -> str:
    found = zones.get_zone(get_session(), code) if code else None
    return found["name"] if found else _("All zones")


@bp.get("/api/evaluation")
@requires("view")
def evaluation_api():
    return jsonify(_asked().as_json(locale()))


def _units() -> dict[str, str]:
    """The units as the page shows them."""
    return {
        "%": "%",
        "ratio": "",
        "亩": _("mu"),
        "m²": "m²",
        "公顷": _("ha"),
        "万元": _("10,000 yuan"),
        "万元/公顷": _("10,000 yuan/ha"),
        "万元/亩": _("10,000 yuan/mu"),
    }


@bp.get("/evaluation")
@requires("view")
def evaluation_page():
    found = _asked()
    session = get_session()
    zone = zones.get_zone(session, found.zone) if found.zone else None
    parts = page_map(
        zone["bbox"] if zone else None,
        {"zone": found.zone} if found.zone else {},
        found.zone,
        found.as_of,
        subject=_("Land intensive-use evaluation"),
    )
    return render_template(
        "evaluation.html",
        map=parts,
        found=found,
        shown=found.as_json(locale()),
        units=_units(),
        zone=found.zone,
        zone_name=_zone_name(found.zone),
        as_of=found.as_of,
        zone_codes=zones.zone_codes(session),
        title=_("Land intensive-use evaluation"),
    )


@bp.get("/reports/evaluation.xlsx")
@requires("view")
def evaluation_workbook():
    found = _asked()
    data = evaluation.workbook(found, _zone_name(found.zone) if found.zone else "全部园区")
    return workbook(data, f"evaluation-{found.zone or 'all'}-{found.day}.xlsx")
