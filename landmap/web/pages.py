"""Map pages: the whole zone (/) and one zone with its summary tables (/zones/<code>)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf

from landmap.domain import ProjectKind, ProjectStage, Stage
from landmap.maps.builder import MapSpec, build_map, render_parts
from landmap.maps.styles import STAGE_COLORS
from landmap.maps.vendor import localize
from landmap.services import acquisition, parcels, projects, zones
from landmap.web.api import parse_as_of, parse_int
from landmap.web.auth import PUBLIC, can, requires
from landmap.web.db import get_session, settings
from landmap.web.i18n import SUPPORTED, locale, remember
from landmap.web.security import safe_next, with_nonce

bp = Blueprint("pages", __name__)
PAGE = 50
MAX_PAGE = 1_000_000  # of PAGE parcels each


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
        "dispute": _("Dispute"),
        "disputed": _("Disputed"),
        "dispute_legend": _("Disputed / holdout"),
        "dispute_resolved": _("Dispute resolved"),
        "dispute_reason": _("Reason for the dispute"),
        "dispute_flag": _("Flag a dispute"),
        "dispute_resolve": _("Resolve the dispute"),
        "as_of_note": _("Stages as they were on"),
        "history": _("History"),
        "no_history": _("No changes recorded"),
        "loading": _("Loading…"),
        "move": _("Move on"),
        "move_to": _("New stage"),
        "forward": _("Forward"),
        "correction_group": _("Back (a correction, needs a reason)"),
        "date": _("Date"),
        "note": _("Note"),
        "correction": _("Correction"),
        "reason": _("Reason"),
        "documents": _("Documents (PDF, JPEG, PNG)"),
        "save": _("Save"),
        "saved": _("Saved"),
        "state_land": _("State land already in hand: no acquisition needed"),
        "select_tool": _("Select parcels"),
        "draw_polygon": _("Draw a polygon"),
        "paste_codes": _("Or paste parcel codes"),
        "use_codes": _("Use these codes"),
        "selected": _("Selected"),
        "unknown_codes": _("Unknown parcel codes"),
        "nothing_selected": _("Select parcels first"),
        "quota_legend_title": _("Quota status (mu)"),
        "audit": _("Audit trail"),
    }


def _map_spec(
    bounds,
    params: dict,
    active_zone: str | None,
    mu_by_stage=None,
    as_of: dt.date | None = None,
    **extra,
) -> MapSpec:
    """What a map page draws. ``params`` filter its parcels (zone, project, batch); ``as_of``
    makes everything of that day: the parcels' stages, the zone boundaries in force, the
    legend. The legend's figures are parcels.stages_summary of the same filter and day, which
    the legend refreshes from after a stage move; ``mu_by_stage`` is not needed for them (it
    is accepted for callers that pass it, and must hold the same figures)."""
    s = settings()
    day = as_of.isoformat() if as_of else None
    spec = MapSpec(
        parcels_url=url_for("api.parcels_collection"),
        tiles_url=url_for("tiles.tile", layer="parcels", z=0, x=0, y=0).removesuffix("/0/0/0.pbf"),
        zones_url=url_for("api.zones_collection", as_of=day),
        search_url=url_for("api.search"),
        static_url=lambda path: url_for("static", filename=path),
        labels=map_labels(),
        locale=locale(),
        bounds=bounds,
        center=s.map_center,
        parcel_params=params,
        active_zone=active_zone,
        basemap_url=s.basemap_url,
        basemap_attribution=s.basemap_attribution,
        as_of=day,
        editable=can("acquisition"),
        can_audit=can("audit"),
        csrf_token=generate_csrf(),
        today=acquisition.today().isoformat(),
        urls={
            "manyUrl": url_for("acquisition.move_many"),
            "selectUrl": url_for("acquisition.select"),
            "documentsUrl": url_for("pages.index").rstrip("/") + "/documents",
            "auditUrl": url_for("audit.rows"),
            "summaryUrl": url_for("api.stages_summary"),
        },
        **extra,
    )
    if spec.style_by == "stage":
        legend = parcels.stages_summary(get_session(), parcels.ParcelFilter(
            zone=params.get("zone"), project_id=params.get("project"),
            batch_id=params.get("batch"), as_of=as_of))  # fmt: skip
        spec.mu_by_stage, spec.legend_total = legend["stages"], legend["total"]
    return spec


def _map(
    bounds,
    params: dict,
    active_zone: str | None,
    mu_by_stage=None,
    as_of: dt.date | None = None,
    **extra,
) -> dict[str, str]:
    parts = render_parts(build_map(_map_spec(bounds, params, active_zone, mu_by_stage, as_of,
                                             **extra)))  # fmt: skip
    parts["header"] = with_nonce(parts["header"])
    return parts


def as_of_arg() -> dt.date | None:
    """The day a map page shows (``?as_of=``), None for now; 400 for a bad or future day."""
    return parse_as_of(request.args.get("as_of"))


def quota_map(batch: dict) -> dict[str, str]:
    """The parcels of a batch coloured by where the batch stands in the quota ledger."""
    session = get_session()
    status = "consumed" if batch["consumed_mu"] > 0 else (
        "reserved" if batch["reserved_mu"] > 0 else "none")  # fmt: skip
    count = sum(parcels.count_by_stage(session, batch["project_id"], batch["id"], None).values())
    info = projects.get_project(session, batch["project_id"]) or {}
    area = next((b["area_mu"] for b in info.get("batches", []) if b["id"] == batch["id"]), 0)
    legend = [{"key": k, "label": label, "mu": area if k == status else 0,
               "parcels": count if k == status else 0}
              for k, label in (("none", _("No quota booked")), ("reserved", _("Quota reserved")),
                               ("consumed", _("Quota consumed (approved)")))]  # fmt: skip
    return _map(parcels.extent(session, batch["project_id"], batch["id"]),
                {"project": batch["project_id"], "batch": batch["id"]}, batch["zone"], None,
                style_by="quota", quota_legend=legend,
                legend_total={"mu": area, "parcels": count})  # fmt: skip


def project_map(project: dict, batch_id: int | None, as_of: dt.date | None) -> dict[str, str]:
    """The thematic map of a project or batch: its parcels coloured by stage."""
    params = {"project": project["id"]}
    if batch_id:
        params["batch"] = batch_id
    bounds = parcels.extent(get_session(), project["id"], batch_id)
    return _map(bounds, params, project["zone"], None, as_of)


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
@requires("view")
def index():
    session = get_session()
    as_of = as_of_arg()
    parts = _map(_all_bounds(session), {}, None, None, as_of)
    codes = zones.zone_codes(session)
    return render_template(
        "map.html", map=parts, zone_codes=codes, title=_("Zone map"), as_of=as_of
    )


@bp.get("/zones/<code>")
@requires("view")
def zone_page(code: str):
    """A zone's figures from zones.zone_summary (parcels count with their part inside the
    boundary in force, see landmap.services.zones), its projects and its parcels, paged."""
    session = get_session()
    zone = zones.get_zone(session, code.upper())
    if zone is None:
        abort(404, _("There is no zone %(code)s.", code=code))
    as_of = as_of_arg()
    figures = zones.zone_summary(session, zone["code"], as_of)
    by_stage = figures.as_dict()["mu_by_stage"]
    parts = _map(zone["bbox"], {"zone": zone["code"]}, zone["code"], by_stage, as_of)
    loc = locale()
    stage_rows = [
        {"label": s.label(loc), "color": STAGE_COLORS[s], **by_stage[s.value]} for s in Stage
    ]
    project_rows = [
        {
            **p,
            "kind_label": ProjectKind(p["kind"]).label(loc),
            "stage_label": ProjectStage(p["stage"]).label(loc),
        }
        for p in projects.list_projects(session, zone["code"])
    ]
    page = parse_int("page", 1, 1, MAX_PAGE)
    parcel_rows, total = parcels.table(session, zone["code"], (page - 1) * PAGE, PAGE)
    pages = max(1, -(-total // PAGE))
    return render_template(
        "zone.html",
        map=parts,
        zone=zone,
        figures=figures,
        as_of=as_of,
        zone_codes=zones.zone_codes(session),
        parcels=parcel_rows,
        page=page,
        pages=pages,
        page_links=page_links(page, pages),
        stages=stage_rows,
        projects=project_rows,
        title=zone["name"],
    )


PAGE_WINDOW = 2  # page links on each side of the current one


def page_links(page: int, pages: int) -> list[tuple[str, int | None]]:
    """The zone page's parcel-table links as (kind, page): first, previous, the pages around
    the current one (a "gap" where pages are left out), next, last. At most
    2 * PAGE_WINDOW + 7 links, whatever the number of pages."""
    window = range(max(1, min(page, pages) - PAGE_WINDOW), min(pages, page + PAGE_WINDOW) + 1)
    return [
        ("first", 1),
        ("previous", max(1, min(page, pages + 1) - 1)),
        *([("gap", None)] if window.start > 1 else []),
        *(("page", n) for n in window),
        *([("gap", None)] if window.stop <= pages else []),
        ("next", min(pages, page + 1)),
        ("last", pages),
    ]


@bp.get("/lang/<lang>")
@requires(PUBLIC)
def switch_language(lang: str):
    if lang not in SUPPORTED:
        abort(404)
    return remember(redirect(safe_next(request.args.get("next"))), lang)


@bp.app_template_global()
def stage_label(value: str) -> str:
    return Stage(value).label(locale())


BOUNDARY_STYLES = {
    "current": {"color": "#c62828", "weight": 3, "dashArray": "8 4", "fill": False},
    "base": {"color": "#616161", "weight": 2, "dashArray": "2 4", "fill": False},
    "draft": {"color": "#1565c0", "weight": 3, "fill": False},
    "added": {"color": "#2e7d32", "weight": 1, "fillColor": "#66bb6a", "fillOpacity": 0.5},
    "removed": {"color": "#ef6c00", "weight": 1, "fillColor": "#ffa726", "fillOpacity": 0.5},
    "farmland": {"color": "#b71c1c", "weight": 2, "fillColor": "#e53935", "fillOpacity": 0.6},
    "overlap": {"color": "#b71c1c", "weight": 2, "dashArray": "4 3", "fillColor": "#e53935",
                "fillOpacity": 0.3},
    "default": {"color": "#555", "weight": 1},
}  # fmt: skip
# the draft editor's drawn shapes, by operation (services.adjustment.DraftOp)
OP_COLORS = {"replace": "#1565c0", "add": "#2e7d32", "subtract": "#ef6c00"}


def _boundary_labels() -> dict[str, str]:
    return {"current": _("Current boundary"), "draft": _("Draft boundary"),
            "base": _("Boundary the draft was drawn on"),
            "added": _("Added"), "removed": _("Removed"),
            "farmland": _("Permanent basic farmland taken"),
            "overlap": _("Overlaps another zone")}  # fmt: skip


def _tiles_url(layer: str) -> str:
    return url_for("tiles.tile", layer=layer, z=0, x=0, y=0).removesuffix("/0/0/0.pbf")


def compare_map(zone: dict, draft_id: int, figures: dict) -> dict[str, str]:
    """The boundary the draft is checked against (left; a stale draft's also shows the current
    boundary) and the draft (right) side by side, synced; the draft side shows what is added
    and removed, the farmland and other zones it takes; cut parcels outlined."""
    from folium.plugins import DualMap

    from landmap.maps.builder import parcel_layer_options
    from landmap.maps.layers import OverlayLayer, ParcelLayer, ScaleBar
    from landmap.services import adjustment

    session = get_session()
    labels = map_labels()
    draft = adjustment.draft(session, zone["code"], draft_id)
    shapes = adjustment.check_geojson(session, draft_id, figures["compared_with"])
    left = [adjustment.boundary_geojson(session, figures["compared_with"],
                                        "base" if figures["stale"] else "current")]  # fmt: skip
    if figures["stale"] and figures["current_id"]:
        left.append(adjustment.boundary_geojson(session, figures["current_id"], "current"))
    draft_fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": draft["geometry"], "properties": {"kind": "draft"}}
        ],
    }
    cut = [p["code"] for p in figures["parcels_cut"]]
    dm = DualMap(location=list(settings().map_center), tiles=None, zoom_start=13)
    common = {"styles": BOUNDARY_STYLES, "labels": _boundary_labels(), "mu": _("mu")}
    spec = _map_spec(None, {}, None, {})
    spec.editable = False
    for m, parts in ((dm.m1, left), (dm.m2, [shapes, draft_fc])):
        ScaleBar().add_to(m)
        opts = parcel_layer_options(spec, labels)
        ParcelLayer(labels["parcels"], {**opts, "highlight": cut}).add_to(m)
        for i, data in enumerate(parts):
            OverlayLayer(f"{labels['zones']} {i}", {**common, "data": data}).add_to(m)
    if zone["bbox"]:
        x0, y0, x1, y1 = zone["bbox"]
        dm.fit_bounds([[y0, x0], [y1, x1]])
    localize(dm.get_root(), lambda path: url_for("static", filename=path))
    parts = render_parts(dm)
    parts["header"] = with_nonce(parts["header"])
    return parts


def draft_editor_map(zone: dict) -> dict[str, str]:
    """A map to edit a copy of the zone's current boundary, draw a new one, or draw a shape
    to add to or subtract from it, and save that as a draft on this boundary version. Its
    legend has the zone's mu by stage (from _map_spec, as on the zone's map; it once got an
    empty dict and read 0 everywhere); the farmland and land-use layers can be switched on
    while drawing. The editor's script is static/js/drafts.js."""
    from landmap.maps.builder import farmland_overlay, landuse_overlay
    from landmap.maps.layers import DraftEditor
    from landmap.services import adjustment
    from landmap.web.adjustment import op_labels

    session = get_session()
    spec = _map_spec(zone["bbox"], {"zone": zone["code"]}, zone["code"])  # legend: the zone's
    spec.editable = False
    spec.tile_overlays = [
        farmland_overlay(_("Permanent basic farmland"), _tiles_url("farmland")),
        landuse_overlay(_("Land use (third national land survey)"), _tiles_url("landuse")),
    ]
    m = build_map(spec)
    base_id = adjustment.current_boundary_id(session, zone["code"])
    compare = url_for("adjustment.compare_page", code=zone["code"], draft_id=0)
    DraftEditor({
        "current": (adjustment.boundary_geojson(session, base_id, "current") if base_id
                    else {"type": "FeatureCollection", "features": []}),
        "baseId": base_id,
        "url": url_for("adjustment.create", code=zone["code"]),
        "compareUrl": compare.removesuffix("/0") + "/__ID__",
        "edit": {"csrf": generate_csrf()},
        "op": "replace",
        "ops": [{"value": k, "label": v, "color": OP_COLORS[k]} for k, v in op_labels().items()],
        "labels": {"draft_title": _("New draft boundary"),
                   "draft_note": _("What this draft changes and why"),
                   "save_draft": _("Save as a draft"), "nothing_drawn": _("Draw a boundary first"),
                   "op_hint": _("Add and subtract use only the shapes you draw, against the "
                                "current boundary.")},
    }).add_to(m)  # fmt: skip
    localize(m, lambda path: url_for("static", filename=path))
    parts = render_parts(m)
    parts["header"] = with_nonce(parts["header"])
    return parts
