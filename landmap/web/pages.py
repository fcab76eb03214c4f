"""Map pages: the whole zone (/) and one zone with its summary tables (/zones/<code>); and
what every map of the app is drawn from, gathered here for landmap.maps: its texts (through
the catalogue), URLs, the user's rights, the workflow's moves and the figures (through the
services). The other blueprints' pages get their maps from here."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf

from landmap.domain import ProjectKind, ProjectStage, Stage, today
from landmap.maps import drafts as drafts_maps
from landmap.maps.builder import (
    MapSpec,
    build_map,
    farmland_overlay,
    landuse_overlay,
    quota_legend,
    render_parts,
)
from landmap.maps.drafts import CompareSpec, EditorSpec
from landmap.maps.printing import PrintSpec
from landmap.maps.styles import STAGE_COLORS
from landmap.services import adjustment, parcels, projects, zones
from landmap.services.acquisition import allowed_moves
from landmap.web.api import parse_as_of, parse_int
from landmap.web.auth import PUBLIC, can, requires
from landmap.web.compensation_pages import compensation_theme_overlay
from landmap.web.compensation_pages import popup_options as compensation_popup
from landmap.web.db import get_session, settings
from landmap.web.i18n import SUPPORTED, locale, remember
from landmap.web.idle import idle_theme
from landmap.web.security import safe_next, with_nonce
from landmap.web.statistics import efficiency_theme
from landmap.web.supply import popup_options

bp = Blueprint("pages", __name__)
PAGE = 50
MAX_PAGE = 1_000_000  # of PAGE parcels each


def map_labels() -> dict[str, str]:
    """Every text the map's script shows, in the user's language."""
    return {**_layer_labels(), **_popup_labels(), **_edit_labels(), **_parcel_edit_labels()}


def _layer_labels() -> dict[str, str]:
    """The layers, the legend and the search box."""
    return {
        "zones": _("Zone boundaries"),
        "parcels": _("Parcels"),
        "basemap": _("Basemap"),
        "legend_title": _("Acquisition stage (mu)"),
        "quota_legend_title": _("Quota status (mu)"),
        "total": _("Total"),
        "commercial_plot": _("Commercial plot"),
        "dispute_legend": _("Disputed / holdout"),
        "search_placeholder": _("Parcel code or project"),
        "no_hits": _("Nothing found"),
        "zoom_in": _("Zoom in to see parcels"),
        "truncated": _("Too many parcels here: zoom in to see them all"),
        "load_failed": _("Parcels could not be loaded"),
    }


def _popup_labels() -> dict[str, str]:
    """A parcel's facts and its history."""
    return {
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
        "as_of_note": _("Stages as they were on"),
        "history": _("History"),
        "no_history": _("No changes recorded"),
        "loading": _("Loading…"),
        "audit": _("Audit trail"),
    }


def _edit_labels() -> dict[str, str]:
    """The forms that move parcels on, flag disputes and select parcels."""
    return {
        "dispute": _("Dispute"),
        "disputed": _("Disputed"),
        "dispute_resolved": _("Dispute resolved"),
        "dispute_reason": _("Reason for the dispute"),
        "dispute_flag": _("Flag a dispute"),
        "dispute_resolve": _("Resolve the dispute"),
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
    }


def _parcel_edit_labels() -> dict[str, str]:
    """The popup's forms that assign a parcel and correct its attributes."""
    return {
        "assignment": _("Project and batch"),
        "no_project": _("No project"),
        "no_batch": _("No batch"),
        "assign": _("Assign"),
        "unassign": _("Take out of the project"),
        "correct": _("Correct attributes"),
        "name": _("Name"),
        "land_use_code": _("Land-use code"),
        "land_use_name": _("Land-use class"),
        "official_area_m2": _("Certificate area (m²)"),
        "rights_type": _("Rights type"),
        "rights_nature": _("Rights nature"),
        "reason_required": _("Reason (required)"),
    }


def workflow_moves() -> dict[str, dict[str, list[str]]]:
    """Where a parcel at each stage may be moved (the workflow's rule), for the map's forms."""
    return {
        stage.value: {way: [s.value for s in to] for way, to in allowed_moves(stage).items()}
        for stage in Stage
    }


def map_spec(
    bounds: list[float] | None,
    params: dict,
    active_zone: str | None,
    as_of: dt.date | None = None,
    subject: str | None = None,
    theme: str | None = None,
    **extra,
) -> MapSpec:
    """What a map page draws, gathered for the maps builder: its URLs, texts, the user's
    rights and the workflow's moves; ``extra`` sets any other MapSpec field. ``params``
    filter its parcels (zone, project, batch); ``as_of`` makes everything of that day: the
    parcels' stages, the zone boundaries in force, the legend (see stage_legend). Its
    printed title names ``subject`` (else the active zone), ``theme`` and the day."""
    s = settings()
    day = as_of.isoformat() if as_of else None
    project_url = url_for("acquisition.project_page", project_id=0)
    fields = dict(
        parcels_url=url_for("api.parcels_collection"),
        tiles_url=_tiles_url("parcels"),
        zones_url=url_for("api.zones_collection", as_of=day),
        search_url=url_for("api.search"),
        static_url=_static_url,
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
        can_edit_parcels=can("parcels"),
        csrf_token=generate_csrf(),
        today=today().isoformat(),
        moves=workflow_moves(),
        tile_overlays=land_overlays(),
        grid_srid=s.storage_srid,
        print_spec=print_spec(subject, active_zone, theme or _theme(extra), as_of),
        supply=popup_options(day),
        compensation=compensation_popup(),
        urls={
            "projectUrl": project_url.removesuffix("/0") + "/__ID__",
            "manyUrl": url_for("acquisition.move_many"),
            "selectUrl": url_for("acquisition.select"),
            "documentsUrl": url_for("pages.index").rstrip("/") + "/documents",
            "auditUrl": url_for("audit.rows"),
            "summaryUrl": url_for("api.stages_summary"),
            "projectsUrl": url_for("api.project_list"),
        },
    )
    return MapSpec(**{**fields, **extra})


def _theme(extra: dict) -> str:
    return _("Quota status") if extra.get("style_by") == "quota" else _("Acquisition progress")


def print_spec(
    subject: str | None, zone_code: str | None, theme: str, as_of: dt.date | None
) -> PrintSpec:
    """A map's print layout: its title (what it shows: ``subject``, else the zone, else all
    zones; the theme; the day), the maker (settings.maker) and the storage CRS."""
    if subject is None:
        zone = zones.get_zone(get_session(), zone_code) if zone_code else None
        subject = zone["name"] if zone else _("All zones")
    day = (as_of or today()).isoformat()
    title = _("%(subject)s: %(theme)s, as of %(date)s", subject=subject, theme=theme, date=day)
    return PrintSpec(title=title, maker=settings().maker, srid=settings().storage_srid)


def land_overlays() -> list[dict]:
    """The farmland and land-use layers every map offers in its layer control."""
    return [
        landuse_overlay(
            _("Land use (third national land survey)"),
            _tiles_url("landuse"),
            locale(),
        ),
        farmland_overlay(_("Permanent basic farmland"), _tiles_url("farmland")),
    ]


def stage_legend(spec: MapSpec, as_of: dt.date | None) -> MapSpec:
    """``spec`` with its stage legend's figures: parcels.stages_summary of the map's parcels
    on its day, which the legend refreshes from after a stage move."""
    if spec.style_by == "stage":
        params = spec.parcel_params
        shown = parcels.ParcelFilter(
            zone=params.get("zone"),
            project_id=params.get("project"),
            batch_id=params.get("batch"),
            as_of=as_of,
        )
        legend = parcels.stages_summary(get_session(), shown)
        spec.mu_by_stage, spec.legend_total = legend["stages"], legend["total"]
    return spec


def _static_url(path: str) -> str:
    return url_for("static", filename=path)


def _tiles_url(layer: str) -> str:
    return url_for("tiles.tile", layer=layer, z=0, x=0, y=0).removesuffix("/0/0/0.pbf")


def _for_page(parts: dict[str, str]) -> dict[str, str]:
    """A map's parts (maps.builder.render_parts) with the page's nonce on its inline parts."""
    return {**parts, "header": with_nonce(parts["header"])}


def page_map(
    bounds: list[float] | None,
    params: dict,
    active_zone: str | None,
    as_of: dt.date | None = None,
    **extra,
) -> dict[str, str]:
    """The map of a page (see map_spec), with its legend, ready to place in its template."""
    spec = stage_legend(map_spec(bounds, params, active_zone, as_of, **extra), as_of)
    return _for_page(render_parts(build_map(spec)))


def as_of_arg() -> dt.date | None:
    """The day a map page shows (``?as_of=``), None for now; 400 for a bad or future day."""
    return parse_as_of(request.args.get("as_of"))


def quota_map(batch: dict) -> dict[str, str]:
    """The parcels of a batch (services.quota.BatchQuota) coloured by where the batch stands
    in the quota ledger; the legend has its parcels and mu at its status."""
    labels = {
        "none": _("No quota booked"),
        "reserved": _("Quota reserved"),
        "consumed": _("Quota consumed (approved)"),
    }
    area, count = batch["area_mu"], batch["parcels"]
    return page_map(
        parcels.extent(get_session(), batch["project_id"], batch["id"]),
        {"project": batch["project_id"], "batch": batch["id"], "year": batch["year"]},
        batch["zone"],
        subject=f"{batch['project']} {batch['name']}",
        style_by="quota",
        quota_legend=quota_legend(batch["status"], labels, area, count),
        legend_total={"mu": area, "parcels": count},
    )


def project_map(project: dict, batch_id: int | None, as_of: dt.date | None) -> dict[str, str]:
    """The thematic map of a project or batch: its parcels coloured by stage."""
    params = {"project": project["id"]}
    if batch_id:
        params["batch"] = batch_id
    bounds = parcels.extent(get_session(), project["id"], batch_id)
    return page_map(bounds, params, project["zone"], as_of, subject=project["name"])


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


def _money(as_of: dt.date | None, zone: str | None) -> list[dict]:
    """The 补偿 theme, on maps of now (the payment statuses are those of today)."""
    return [] if as_of else [compensation_theme_overlay(zone)]


@bp.get("/")
@requires("view")
def index():
    session = get_session()
    as_of = as_of_arg()
    parts = page_map(
        _all_bounds(session),
        {},
        None,
        as_of,
        theme_overlays=[idle_theme(as_of, None), efficiency_theme(as_of), *_money(as_of, None)],
    )
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
    themes = [idle_theme(as_of, zone["code"]), *_money(as_of, zone["code"])]
    parts = page_map(
        zone["bbox"], {"zone": zone["code"]}, zone["code"], as_of, theme_overlays=themes
    )
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


def _boundary_labels() -> dict[str, str]:
    return {
        "current": _("Current boundary"),
        "draft": _("Draft boundary"),
        "base": _("Boundary the draft was drawn on"),
        "added": _("Added"),
        "removed": _("Removed"),
        "farmland": _("Permanent basic farmland taken"),
        "overlap": _("Overlaps another zone"),
        "cut": _("Parcels cut by the new line"),
    }


def compare_map(
    zone: dict, draft_id: int, figures: dict, printable: bool = False
) -> dict[str, str]:
    """A draft beside the boundary it is checked against (a stale draft's also shows the
    current boundary): what it adds and removes, the farmland and other zones it takes, the
    parcels it cuts (figures is the draft's check, services.adjustment.check). ``printable``:
    laid out on paper as the page opens, the check's tables after the maps."""
    session = get_session()
    checked = figures["compared_with"]
    left = [
        adjustment.boundary_geojson(session, checked, "base" if figures["stale"] else "current")
    ]
    if figures["stale"] and figures["current_id"]:
        left.append(adjustment.boundary_geojson(session, figures["current_id"], "current"))
    subject = _("Draft %(id)s of %(zone)s", id=draft_id, zone=zone["name"])
    spec = map_spec(  # no legend
        zone["bbox"], {}, None, subject=subject, theme=_("Boundary check"), editable=False
    )
    spec.print_spec = replace(spec.print_spec, keep_page=True, auto=printable)
    labels = _boundary_labels()
    compare = CompareSpec(
        left=left,
        draft=adjustment.draft(session, zone["code"], draft_id)["geometry"],
        shapes=adjustment.check_geojson(session, draft_id, checked),
        cut=[p["code"] for p in figures["parcels_cut"]],
        boundary_labels=labels,
        captions=(labels["base" if figures["stale"] else "current"], labels["draft"]),
    )
    return _for_page(render_parts(drafts_maps.compare_map(spec, compare)))


def draft_editor_map(zone: dict, op_labels: dict[str, str]) -> dict[str, str]:
    """The zone's map (its legend has the zone's mu by stage, as on the zone page) with the
    draft editor on it, the farmland and land-use layers to switch on while drawing; a draft
    is saved on the boundary version in force now. ``op_labels``: the ways to make a draft."""
    session = get_session()
    spec = map_spec(zone["bbox"], {"zone": zone["code"]}, zone["code"], editable=False)
    stage_legend(spec, None)  # the zone's mu by stage, as on the zone's map
    base_id = adjustment.current_boundary_id(session, zone["code"])
    compare = url_for("adjustment.compare_page", code=zone["code"], draft_id=0)
    editor = EditorSpec(
        current=adjustment.boundary_geojson(session, base_id, "current") if base_id else None,
        base_id=base_id,
        save_url=url_for("adjustment.create", code=zone["code"]),
        compare_url=compare.removesuffix("/0") + "/__ID__",
        op_labels=op_labels,
        labels={
            "draft_title": _("New draft boundary"),
            "draft_note": _("What this draft changes and why"),
            "save_draft": _("Save as a draft"),
            "nothing_drawn": _("Draw a boundary first"),
            "op_hint": _(
                "Add and subtract use only the shapes you draw, against the current boundary."
            ),
        },
    )
    return _for_page(render_parts(drafts_maps.draft_editor_map(spec, editor)))
