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
        "nothing_selected": _("Select parcels first"),
        "quota_legend_title": _("Quota status (mu)"),
        "audit": _("Audit trail"),
    }


def _map_spec(
    bounds,
    params: dict,
    active_zone: str | None,
    mu_by_stage,
    as_of: dt.date | None = None,
    **extra,
) -> MapSpec:
    s = settings()
    return MapSpec(
        parcels_url=url_for("api.parcels_collection"),
        tiles_url=url_for("tiles.tile", layer="parcels", z=0, x=0, y=0).removesuffix("/0/0/0.pbf"),
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
        as_of=as_of.isoformat() if as_of else None,
        editable=can("acquisition"),
        can_audit=can("audit"),
        csrf_token=generate_csrf(),
        today=acquisition.today().isoformat(),
        urls={
            "manyUrl": url_for("acquisition.move_many"),
            "selectUrl": url_for("acquisition.select"),
            "documentsUrl": url_for("pages.index").rstrip("/") + "/documents",
            "auditUrl": url_for("audit.rows"),
        },
        **extra,
    )


def _map(
    bounds,
    params: dict,
    active_zone: str | None,
    mu_by_stage,
    as_of: dt.date | None = None,
    **extra,
) -> dict[str, str]:
    parts = render_parts(build_map(_map_spec(bounds, params, active_zone, mu_by_stage, as_of,
                                             **extra)))  # fmt: skip
    parts["header"] = with_nonce(parts["header"])
    return parts


def as_of_arg() -> dt.date | None:
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
                {"project": batch["project_id"], "batch": batch["id"]}, batch["zone"], {},
                style_by="quota", quota_legend=legend)  # fmt: skip


def project_map(project: dict, batch_id: int | None, as_of, progress: dict) -> dict[str, str]:
    """The thematic map of a project or batch: its parcels coloured by stage."""
    session = get_session()
    params = {"project": project["id"]}
    if batch_id:
        params["batch"] = batch_id
    bounds = parcels.extent(session, project["id"], batch_id)
    counts = parcels.count_by_stage(session, project["id"], batch_id, as_of)
    mu = {s: {"mu": v, "parcels": counts.get(s, 0)} for s, v in progress["mu_by_stage"].items()}
    return _map(bounds, params, project["zone"], mu, as_of)


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
    by_stage = zones.mu_by_stage(session, None, as_of)
    parts = _map(_all_bounds(session), {}, None, by_stage, as_of)
    codes = zones.zone_codes(session)
    return render_template(
        "map.html", map=parts, zone_codes=codes, title=_("Zone map"), as_of=as_of
    )


@bp.get("/zones/<code>")
@requires("view")
def zone_page(code: str):
    session = get_session()
    zone = zones.get_zone(session, code.upper())
    if zone is None:
        abort(404, _("There is no zone %(code)s.", code=code))
    as_of = as_of_arg()
    by_stage = zones.mu_by_stage(session, zone["code"], as_of)
    parts = _map(zone["bbox"], {"zone": zone["code"]}, zone["code"], by_stage, as_of)
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
    page = parse_int("page", 1, 1, MAX_PAGE)
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
@requires(PUBLIC)
def switch_language(lang: str):
    if lang not in SUPPORTED:
        abort(404)
    return remember(redirect(safe_next(request.args.get("next"))), lang)


@bp.app_template_global()
def stage_label(value: str) -> str:
    return Stage(value).label(locale())


def _zone_geojson(code: str) -> dict:
    import json

    fc = json.loads(zones.feature_collection(get_session()))
    return {"type": "FeatureCollection",
            "features": [f for f in fc["features"] if f["properties"]["code"] == code]}  # fmt: skip


BOUNDARY_STYLES = {
    "current": {"color": "#c62828", "weight": 3, "dashArray": "8 4", "fill": False},
    "draft": {"color": "#1565c0", "weight": 3, "fill": False},
    "added": {"color": "#2e7d32", "weight": 1, "fillColor": "#66bb6a", "fillOpacity": 0.5},
    "removed": {"color": "#ef6c00", "weight": 1, "fillColor": "#ffa726", "fillOpacity": 0.5},
    "farmland": {"color": "#b71c1c", "weight": 2, "fillColor": "#e53935", "fillOpacity": 0.6},
    "overlap": {"color": "#b71c1c", "weight": 2, "dashArray": "4 3", "fillColor": "#e53935",
                "fillOpacity": 0.3},
    "default": {"color": "#555", "weight": 1},
}  # fmt: skip


def _boundary_labels() -> dict[str, str]:
    return {"current": _("Current boundary"), "draft": _("Draft boundary"),
            "added": _("Added"), "removed": _("Removed"),
            "farmland": _("Permanent basic farmland taken"),
            "overlap": _("Overlaps another zone")}  # fmt: skip


def compare_map(zone: dict, draft_id: int, figures: dict) -> dict[str, str]:
    """Current (left) and draft (right) side by side, synced; the draft side shows what is
    added and removed, the farmland and other zones it takes; cut parcels outlined."""
    import json

    from folium.plugins import DualMap

    from landmap.maps.builder import parcel_layer_options
    from landmap.maps.layers import OverlayLayer, ParcelLayer, ScaleBar
    from landmap.services import adjustment

    labels = map_labels()
    draft = adjustment.draft(get_session(), zone["code"], draft_id)
    shapes = json.loads(adjustment.check_geojson(get_session(), draft_id))
    current = _zone_geojson(zone["code"])
    for f in current["features"]:
        f["properties"]["kind"] = "current"
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
    for m, parts in ((dm.m1, [current]), (dm.m2, [shapes, draft_fc])):
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
    """A map to edit a copy of the zone's boundary (or draw one) and save it as a draft."""
    from landmap.maps.layers import DraftEditor

    spec = _map_spec(zone["bbox"], {"zone": zone["code"]}, zone["code"], {})
    spec.editable = False
    m = build_map(spec)
    DraftEditor({
        "current": _zone_geojson(zone["code"]),
        "url": url_for("adjustment.create", code=zone["code"]),
        "compareUrl": url_for("adjustment.compare_page", code=zone["code"], draft_id=0)
        .replace("/0", "/__ID__"),
        "edit": {"csrf": generate_csrf()},
        "labels": {"draft_title": _("New draft boundary"),
                   "draft_note": _("What this draft changes and why"),
                   "save_draft": _("Save as a draft"), "nothing_drawn": _("Draw a boundary first")},
    }).add_to(m)  # fmt: skip
    localize(m, lambda path: url_for("static", filename=path))
    parts = render_parts(m)
    parts["header"] = with_nonce(parts["header"])
    return parts
