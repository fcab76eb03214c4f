"""The zone-adjustment maps (规划调整/扩区): a draft beside the boundary it is checked against,
and the editor that draws a draft. Plain data (GeoJSON in EPSG:4326, URLs, texts) in; folium
maps out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import folium
from folium.plugins import DualMap

from landmap.maps.builder import MapSpec, build_map, parcel_layer_options
from landmap.maps.layers import DraftEditor, OverlayLayer, ParcelLayer, ScaleBar, TileOverlay
from landmap.maps.printing import PrintLayout, print_options
from landmap.maps.styles import BOUNDARY_STYLES, OP_COLORS, PARCEL_STYLES
from landmap.maps.tools import MapTools, tool_options
from landmap.maps.vendor import localize

EMPTY = {"type": "FeatureCollection", "features": []}


@dataclass
class CompareSpec:
    """A compare map's layers, each a GeoJSON FeatureCollection whose features' ``kind``
    picks their style in BOUNDARY_STYLES and their name in ``boundary_labels``."""

    left: list[dict[str, Any]]  # the boundary the draft is checked against (and the current)
    draft: dict[str, Any]  # the draft's geometry
    shapes: dict[str, Any]  # the check's shapes: added, removed, farmland, overlap
    cut: list[str]  # codes of the parcels the draft's line cuts: outlined on both sides
    boundary_labels: dict[str, str]  # by kind, and "cut" for the parcels outlined
    captions: tuple[str, str] = ("", "")  # what each map shows, named on a printed sheet


def _kinds(compare: CompareSpec) -> set[str]:
    """The kinds of boundary and shape the compare maps draw, "cut" if they outline parcels."""
    collections = [*compare.left, compare.shapes]
    found = {f["properties"].get("kind") for c in collections for f in c["features"]}
    return found | {"draft"} | ({"cut"} if compare.cut else set())


def compare_legend(compare: CompareSpec) -> list[dict[str, str]]:
    """The printed sheet's legend of a compare map: each kind of boundary or shape drawn that
    has a name (BOUNDARY_STYLES' order), then the parcels cut, by line and fill colour."""
    labels, drawn = compare.boundary_labels, _kinds(compare)
    looks = {**BOUNDARY_STYLES, "cut": PARCEL_STYLES["cut"]}
    return [
        {
            "kind": kind,
            "label": labels[kind],
            "line": look["color"],
            "fill": look.get("fillColor", ""),
        }
        for kind, look in looks.items()
        if kind in labels and kind in drawn
    ]


def compare_map(spec: MapSpec, compare: CompareSpec) -> DualMap:
    """The boundary the draft is checked against (left) and the draft with what it adds,
    removes and takes (right) side by side, synced, over the parcels; fitted to
    ``spec.bounds``. ``spec`` gives the parcel layer (nothing on it is editable)."""
    draft = {"type": "Feature", "geometry": compare.draft, "properties": {"kind": "draft"}}
    labels = spec.labels
    common = {"styles": BOUNDARY_STYLES, "labels": compare.boundary_labels, "mu": labels["mu"]}
    parcels = {**parcel_layer_options(spec, labels), "highlight": compare.cut}
    dm = DualMap(location=list(spec.center), tiles=None, zoom_start=13)
    right = [compare.shapes, {"type": "FeatureCollection", "features": [draft]}]
    tools = tool_options(spec.locale, spec.grid_srid)
    sheet = spec.print_spec and replace(spec.print_spec, legend=compare_legend(compare))
    for m, layers, caption in zip(
        (dm.m1, dm.m2), (compare.left, right), compare.captions, strict=True
    ):
        ScaleBar().add_to(m)
        MapTools(tools).add_to(m)
        ParcelLayer(labels["parcels"], parcels).add_to(m)
        for i, data in enumerate(layers):
            OverlayLayer(f"{labels['zones']} {i}", {**common, "data": data}).add_to(m)
        for overlay in spec.tile_overlays:  # land use (三调) and farmland, to switch on
            TileOverlay(overlay["name"], overlay).add_to(m)
        if sheet:  # one print button (the left map's) prints both
            PrintLayout(print_options(sheet, spec.locale, caption, m is dm.m1)).add_to(m)
        folium.LayerControl(collapsed=False).add_to(m)
    if spec.bounds:
        x0, y0, x1, y1 = spec.bounds
        dm.fit_bounds([[y0, x0], [y1, x1]])
    localize(dm.get_root(), spec.static_url)
    return dm


@dataclass
class EditorSpec:
    """What the draft editor starts from and where it saves."""

    current: dict[str, Any] | None  # the boundary in force (FeatureCollection), None if none
    base_id: int | None  # its version: the draft is saved as drawn on it
    save_url: str
    compare_url: str  # a draft's compare page, "__ID__" standing for the draft's id
    op_labels: dict[str, str]  # the ways to make a draft (DraftOp values), in order
    labels: dict[str, str]  # draft_title, draft_note, save_draft, nothing_drawn, op_hint


def draft_editor_map(spec: MapSpec, editor: EditorSpec) -> folium.Map:
    """The zone's map (``spec``) with the draft editor on it: edit a copy of the current
    boundary, draw a new one, or draw shapes to add to or subtract from it. Its script,
    LandMap.draftEditor, is static/js/drafts.js."""
    m = build_map(spec)
    DraftEditor(
        {
            "current": editor.current or EMPTY,
            "baseId": editor.base_id,
            "url": editor.save_url,
            "compareUrl": editor.compare_url,
            "edit": {"csrf": spec.csrf_token},
            "op": "replace",
            "ops": [
                {"value": k, "label": v, "color": OP_COLORS[k]} for k, v in editor.op_labels.items()
            ],
            "labels": editor.labels,
        }
    ).add_to(m)
    localize(m, spec.static_url)
    return m
