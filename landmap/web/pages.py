"""Map pages: the whole zone (/) and one zone with its summary tables (/zones/<code>)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _

from landmap.domain import ProjectKind, ProjectStage, Stage
from landmap.maps.builder import MapSpec, build_map, render_parts
from landmap.maps.styles import STAGE_COLORS
from landmap.services import parcels, projects, zones
from landmap.web.db import get_session, settings
from landmap.web.i18n import SUPPORTED, locale

bp = Blueprint("pages", __name__)
PAGE = 50


def map_labels() -> dict[str, str]:
    """Every text the map's script shows, in the user's language."""
    return {
        "zones": _("Zone boundaries"),
        "parcels": _("Parcels"),
        "basemap": _("Basemap"),
        "zone": _("Zone"),
        "owner": _("Owner"),
        "location": _("Location"),
        "land_use": _("Land use"),
        "area": _("Area"),
        "official_area": _("Certificate area"),
        "mismatch": _("differs by more than 1%"),
        "mu": _("mu"),
        "stage": _("Acquisition stage"),
        "project": _("Project"),
        "batch": _("Batch"),
        "planned_use": _("Planned use"),
        "plot_ratio": _("Max plot ratio"),
        "transfer": _("Transfer"),
        "transfer_date": _("Transfer date"),
        "legend_title": _("Acquisition stage (mu)"),
        "total": _("Total"),
        "commercial_plot": _("Commercial plot"),
        "search_placeholder": _("Parcel code or project"),
        "no_hits": _("Nothing found"),
        "zoom_in": _("Zoom in to see parcels"),
        "truncated": _("Too many parcels here: zoom in to see them all"),
        "load_failed": _("Parcels could not be loaded"),
    }


def _map(bounds, params: dict, active_zone: str | None, mu_by_stage) -> dict[str, str]:
    s = settings()
    spec = MapSpec(
        parcels_url=url_for("api.parcels_collection"),
        zones_url=url_for("api.zones_collection"),
        search_url=url_for("api.search"),
        static_url=lambda path: url_for("static", filename=path),
        labels=map_labels(),
        locale=locale(),
        bounds=bounds,
        center=s.map_center,
        parcel_params=params,
        active_zone=active_zone,
        mu_by_stage=mu_by_stage,
        basemap_url=s.basemap_url,
        basemap_attribution=s.basemap_attribution,
    )
    return render_parts(build_map(spec))


def _all_bounds(session) -> list[float] | None:
    boxes = [
        z["bbox"]
        for z in (zones.get_zone(session, c) for c in zones.zone_codes(session))
        if z and z["bbox"]
    ]
    if not boxes:
        return None
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


@bp.get("/")
def index():
    session = get_session()
    by_stage = zones.mu_by_stage(session)
    parts = _map(_all_bounds(session), {}, None, by_stage)
    codes = zones.zone_codes(session)
    return render_template("map.html", map=parts, zone_codes=codes, title=_("Zone map"))


@bp.get("/zones/<code>")
def zone_page(code: str):
    session = get_session()
    zone = zones.get_zone(session, code.upper())
    if zone is None:
        abort(404, _("There is no zone %(code)s.", code=code))
    by_stage = zones.mu_by_stage(session, zone["code"])
    parts = _map(zone["bbox"], {"zone": zone["code"]}, zone["code"], by_stage)
    loc = locale()
    stage_rows = [
        {
            "label": s.label(loc),
            "color": STAGE_COLORS[s],
            **by_stage.get(s.value, {"parcels": 0, "mu": 0}),
        }
        for s in Stage
    ]
    project_rows = [
        {
            **p,
            "kind_label": ProjectKind(p["kind"]).label(loc),
            "stage_label": ProjectStage(p["stage"]).label(loc),
        }
        for p in projects.list_projects(session, zone["code"])
    ]
    page = max(1, request.args.get("page", 1, type=int))
    parcel_rows, total = parcels.table(session, zone["code"], (page - 1) * PAGE, PAGE)
    return render_template(
        "zone.html",
        map=parts,
        zone=zone,
        zone_codes=zones.zone_codes(session),
        parcels=parcel_rows,
        page=page,
        pages=max(1, -(-total // PAGE)),
        stages=stage_rows,
        land_use=zones.mu_by_land_use(session, zone["code"]),
        projects=project_rows,
        title=zone["name"],
        totals={
            "parcels": sum(r["parcels"] for r in stage_rows),
            "mu": round(sum(r["mu"] for r in stage_rows), 2),
        },
    )


@bp.get("/lang/<lang>")
def switch_language(lang: str):
    if lang not in SUPPORTED:
        abort(404)
    target = request.args.get("next", "/")
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        target = "/"
    response = redirect(target)
    response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


@bp.app_template_global()
def stage_label(value: str) -> str:
    return Stage(value).label(locale())
