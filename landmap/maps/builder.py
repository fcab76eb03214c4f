"""The zone map: zone boundaries, parcels by acquisition stage, legend, search, layer control,
scale bar and an optional basemap. Plain data and URLs in; a folium Map out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import folium

from landmap.domain import Stage, TransferStatus
from landmap.maps.layers import (
    Legend,
    ParcelLayer,
    ScaleBar,
    Search,
    SelectionTool,
    TileOverlay,
    ZoneLayer,
)
from landmap.maps.printing import PrintLayout, PrintSpec, print_options
from landmap.maps.styles import (
    COMMERCIAL_COLOR,
    DISPUTE_COLOR,
    EFFICIENCY_STYLES,
    FARMLAND_STYLE,
    LANDUSE_CLASS_COLORS,
    LANDUSE_STYLE,
    PARCEL_STYLES,
    QUOTA_COLORS,
    STAGE_COLORS,
    UNKNOWN_FILL,
    ZONE_ACTIVE_STYLE,
    ZONE_STYLE,
)
from landmap.maps.themes import ThemeOverlay
from landmap.maps.tools import MapTools, landuse_legend, tool_options
from landmap.maps.vendor import localize


@dataclass
class MapSpec:
    """What the page wants drawn; every text is already in the user's language."""

    parcels_url: str
    tiles_url: str  # parcels' vector tiles: {tiles_url}/{z}/{x}/{y}.pbf
    zones_url: str
    search_url: str
    static_url: Callable[[str], str]
    labels: dict[str, str]
    locale: str
    bounds: list[float] | None = None  # lon/lat box to fit
    center: tuple[float, float] = (29.09, 110.53)
    parcel_params: dict[str, Any] = field(default_factory=dict)
    active_zone: str | None = None
    # the legend's figures: stage -> {mu, parcels}, and their total (the rounded exact sum,
    # never a sum of the rounded parts); the server computes both
    mu_by_stage: dict[str, dict[str, float]] = field(default_factory=dict)
    legend_total: dict[str, float] = field(default_factory=lambda: {"mu": 0.0, "parcels": 0})
    basemap_url: str = ""
    basemap_attribution: str = ""
    min_zoom_parcels: int = 12
    limit: int = 5000
    as_of: str | None = None  # a past day: stages as they were, nothing editable
    editable: bool = False  # acquisition forms in popups, and the selection tool
    today: str = ""
    csrf_token: str = ""
    can_audit: bool = False  # show the parcel's audit trail in its popup
    # correct a parcel's attributes and assign it to a project or batch in its popup
    can_edit_parcels: bool = False
    # where a parcel at each stage may be moved: stage -> {"forward": [...], "correction":
    # [...]}, the workflow's rule (services.acquisition.allowed_moves); a stage with neither
    # is outside the workflow (state land in hand)
    moves: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # endpoints of the acquisition forms (manyUrl, selectUrl, documentsUrl) and of the
    # legend's figures (summaryUrl)
    urls: dict[str, str] = field(default_factory=dict)
    # "stage" (acquisition) or "quota" (where the land stands in the quota ledger)
    style_by: str = "stage"
    quota_legend: list[dict] = field(default_factory=list)  # key, label, mu, parcels
    # vector-tile layers in the layer control, off until switched on (farmland_overlay ...)
    tile_overlays: list[dict[str, Any]] = field(default_factory=list)
    # thematic GeoJSON layers in the layer control, off until switched on (maps.themes)
    theme_overlays: list[dict[str, Any]] = field(default_factory=list)
    # the projected CRS (the storage SRID) the measuring tool and the coordinate readout use
    grid_srid: int = 4546
    # the print button and layout (landmap.maps.printing); None: the map has none
    print_spec: PrintSpec | None = None
    # the popup's 供地/建设 section: texts, choices, whether the user may record
    # (landmap.web.supply.popup_options; its script is static/js/supply.js)
    supply: dict[str, Any] = field(default_factory=dict)
    # the popup's 补偿安置 section: its texts and the URL of a parcel's households
    # (landmap.web.compensation_pages.popup_options; its script is static/js/compensation.js)
    compensation: dict[str, Any] = field(default_factory=dict)


def farmland_overlay(name: str, tiles_url: str) -> dict[str, Any]:
    """Permanent basic farmland (永久基本农田) tiles: {tiles_url}/{z}/{x}/{y}.pbf."""
    return {"name": name, "url": tiles_url, "layer": "farmland", "style": FARMLAND_STYLE}


def landuse_overlay(name: str, tiles_url: str, locale: str = "zh_CN") -> dict[str, Any]:
    """三调 land-use patches, filled by first-level GB/T 21010 class, with their legend."""
    return {
        "name": name,
        "url": tiles_url,
        "layer": "landuse",
        "style": LANDUSE_STYLE,
        "fillBy": "land_use_code",
        "colors": LANDUSE_CLASS_COLORS,
        "legend": landuse_legend(locale),
    }


def efficiency_overlay(
    name: str, url: str, params: dict[str, Any], legend: dict[str, Any], labels: dict[str, str]
) -> dict[str, Any]:
    """The 亩均效益 theme (a maps.themes.ThemeOverlay): ``url`` answers the GeoJSON of the
    enterprises' parcels (services.statistics.features) for ``params`` (year); each feature's
    ``class`` (A-D, none) picks its style. ``legend``: a title and the rows' labels by class;
    ``labels``: the popup's texts; all in the user's language."""
    return {
        "name": name,
        "layer": "efficiency",
        "url": url,
        "params": {k: v for k, v in params.items() if v},
        "styleBy": "class",
        "styles": EFFICIENCY_STYLES,
        "labels": labels,
        "legend": {
            "title": legend["title"],
            "rows": [
                {"key": key, "label": legend["rows"][key], "color": style["fillColor"]}
                for key, style in EFFICIENCY_STYLES.items()
                if key != "default"
            ],
            "keys": False,
        },
    }


def quota_legend(status: str, labels: dict[str, str], mu: float, parcels: int) -> list[dict]:
    """The quota map's legend rows (key, label, mu, parcels): every quota status, in
    QUOTA_COLORS' order, with the batch's mu and parcels at the one it stands at."""
    return [
        {
            "key": key,
            "label": labels[key],
            "mu": mu if key == status else 0,
            "parcels": parcels if key == status else 0,
        }
        for key in QUOTA_COLORS
    ]


def parcel_layer_options(spec: MapSpec, labels: dict[str, str]) -> dict[str, Any]:
    """What the parcel layer's script needs: where to fetch, how to colour, what to say."""
    stage_labels = {s.value: s.label(spec.locale) for s in Stage}
    return {
        "url": spec.parcels_url,
        "tileUrl": spec.tiles_url,
        "params": spec.parcel_params,
        "colors": {s.value: c for s, c in STAGE_COLORS.items()},
        "styles": PARCEL_STYLES,
        "unknownFill": UNKNOWN_FILL,
        "styleBy": spec.style_by,
        "quotaColors": QUOTA_COLORS,
        "stageLabels": stage_labels,
        "transferLabels": {t.value: t.label(spec.locale) for t in TransferStatus},
        "labels": labels,
        "minZoom": spec.min_zoom_parcels,
        "limit": spec.limit,
        "hint": "lm-hint",
        "asOf": spec.as_of,
        "supply": spec.supply,
        "compensation": spec.compensation,
        **spec.urls,
        "edit": {
            "enabled": spec.editable and not spec.as_of,
            "workflow": [s.value for s in Stage.workflow()],
            "moves": spec.moves,
            "today": spec.today,
            "csrf": spec.csrf_token,
            "canAudit": spec.can_audit,
            "canParcels": spec.can_edit_parcels and not spec.as_of,
        },
    }


def _legend_rows(spec: MapSpec) -> list[dict[str, Any]]:
    """Colour, label, mu and parcels of each quota status (a quota map) or each stage."""
    if spec.style_by == "quota":
        return [
            {
                "stage": r["key"],
                "label": r["label"],
                "color": QUOTA_COLORS[r["key"]],
                "mu": r["mu"],
                "parcels": r["parcels"],
            }
            for r in spec.quota_legend
        ]
    return [
        {
            "stage": s.value,
            "label": s.label(spec.locale),
            "color": STAGE_COLORS[s],
            "mu": spec.mu_by_stage.get(s.value, {}).get("mu", 0),
            "parcels": spec.mu_by_stage.get(s.value, {}).get("parcels", 0),
        }
        for s in Stage
    ]


def _legend_options(spec: MapSpec) -> dict[str, Any]:
    labels = spec.labels
    return {
        "title": labels["quota_legend_title" if spec.style_by == "quota" else "legend_title"],
        "rows": _legend_rows(spec),
        "totalLabel": labels["total"],
        "totalMu": spec.legend_total["mu"],
        "totalParcels": spec.legend_total["parcels"],
        "commercialLabel": labels["commercial_plot"],
        "commercialColor": COMMERCIAL_COLOR,
        "disputeLabel": labels["dispute_legend"],
        "disputeColor": DISPUTE_COLOR,
        "hintId": "lm-hint",
        # after a stage move the stage legend fetches its figures again from here
        "summaryUrl": spec.urls.get("summaryUrl") if spec.style_by == "stage" else None,
        "params": {**spec.parcel_params, "as_of": spec.as_of},
    }


def build_map(spec: MapSpec) -> folium.Map:
    m = folium.Map(location=list(spec.center), zoom_start=13, tiles=None, control_scale=False)
    ScaleBar().add_to(m)
    # before the selection tool and the draft editor: Leaflet.draw's texts are set first
    MapTools(tool_options(spec.locale, spec.grid_srid)).add_to(m)
    if spec.basemap_url:
        folium.TileLayer(
            spec.basemap_url,
            attr=spec.basemap_attribution or " ",
            name=spec.labels["basemap"],
            max_zoom=19,
        ).add_to(m)
    labels = spec.labels
    zones = {
        "url": spec.zones_url,
        "active": spec.active_zone,
        "style": ZONE_STYLE,
        "activeStyle": ZONE_ACTIVE_STYLE,
    }
    ZoneLayer(labels["zones"], zones).add_to(m)
    parcels = ParcelLayer(labels["parcels"], parcel_layer_options(spec, labels))
    parcels.add_to(m)
    if spec.editable and not spec.as_of:
        SelectionTool(parcels, {"labels": labels}).add_to(m)
    Legend(_legend_options(spec)).add_to(m)
    Search(
        parcels,
        {
            "url": spec.search_url,
            "placeholder": labels["search_placeholder"],
            "noHits": labels["no_hits"],
        },
    ).add_to(m)
    for overlay in spec.tile_overlays:
        TileOverlay(overlay["name"], overlay).add_to(m)
    for overlay in spec.theme_overlays:
        ThemeOverlay(overlay["name"], overlay).add_to(m)
    if spec.print_spec:  # above the layer control
        PrintLayout(print_options(spec.print_spec, spec.locale)).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    if spec.bounds:
        x0, y0, x1, y1 = spec.bounds
        m.fit_bounds([[y0, x0], [y1, x1]])
    localize(m, spec.static_url)
    return m


def render_parts(m: folium.Map) -> dict[str, str]:
    """The map's header (links, styles), body and script, to place in a page template."""
    root = m.get_root()
    root.render()
    return {
        "header": root.header.render(),
        "html": root.html.render(),
        "script": root.script.render(),
    }
