"""What a GIS needs to add the vector tile layers without typing: a TileJSON 3.0.0 document per
layer (URL template, zoom range, extent, layers and their fields) and a MapLibre/Mapbox GL
style (version 8) drawn with landmap's own colours (landmap.maps.styles), which QGIS and
MapLibre both read.

Extents are in WGS84 lon/lat (EPSG:4326), computed in PostGIS from the storage SRID.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.maps.styles import (
    FARMLAND_STYLE,
    LANDUSE_CLASS_COLORS,
    LANDUSE_STYLE,
    PARCEL_STYLES,
    STAGE_COLORS,
    UNKNOWN_FILL,
    ZONE_STYLE,
)
from landmap.messages import Term, msg, shown, term
from landmap.services.parcels import filter_sql
from landmap.services.tiles import MAX_ZOOM, TileFilter, boundary_in_force_sql, check_layer

MIN_ZOOM = 0  # check_address: every zoom from 0 to MAX_ZOOM is served
WORLD_BOUNDS = [-180.0, -85.0511, 180.0, 85.0511]  # TileJSON's default: all of Web Mercator


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # as tippecanoe writes it: String, Number, Boolean
    label: Term


# The attributes each layer's tiles carry (services.tiles: _parcels_sql, _zones_sql, ...); the
# parcels' "quota" comes only with ?style=quota, which the TileJSON does not ask for.
FIELDS: dict[str, tuple[Field, ...]] = {
    "parcels": (
        Field("code", "String", term("parcel code")),
        Field("stage", "String", term("Acquisition stage")),
        Field("dispute", "Boolean", term("Disputed")),
        Field("commercial", "Boolean", term("Commercial plot")),
    ),
    "zones": (Field("code", "String", term("Code")), Field("name", "String", term("Name"))),
    "landuse": (
        Field("code", "String", term("Code")),
        Field("land_use_code", "String", term("land-use code")),
    ),
    "farmland": (Field("code", "String", term("Code")),),
}
TITLES: dict[str, Term] = {
    "parcels": term("Parcels"),
    "zones": term("Zone boundaries"),
    "landuse": term("Land use (third national land survey)"),
    "farmland": term("Permanent basic farmland"),
}
TABLES = {"landuse": "landuse_patch", "farmland": "farmland"}
# the attribute a layer's label shows, and from which zoom on
LABELS: dict[str, tuple[str, int]] = {"parcels": ("code", 16), "zones": ("name", 10)}
LABEL_FONT = ["Noto Sans CJK SC Regular"]  # QGIS finds it among the system's fonts
LABEL_SIZE = 12


def query_string(selection: TileFilter) -> str:
    """The filters as a query string ("" or "?zone=C&..."), in the tiles' own parameters."""
    pairs = {
        "zone": selection.zone,
        "stage": selection.stage,
        "project": selection.project_id,
        "batch": selection.batch_id,
        "as_of": selection.as_of.isoformat() if selection.as_of else None,
    }
    kept = {k: v for k, v in pairs.items() if v is not None}
    return "?" + urlencode(kept) if kept else ""


_WGS84_EXTENT = """
    SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
        SELECT ST_Extent(ST_Transform(ST_Segmentize(
            ST_SetSRID(CAST(box AS geometry), lm_storage_srid()), 100), 4326)) AS e
        FROM ({inner}) q(box)
    ) r"""


def _extent(session: Session, inner: str, params: dict[str, Any]) -> list[float] | None:
    row = session.execute(text(_WGS84_EXTENT.format(inner=inner)), params).one()
    if row[0] is None:
        return None
    return [round(float(v), 7) for v in row]


def _zones_extent(session: Session, selection: TileFilter, zone: str | None):
    inner = (
        "SELECT ST_Extent(b.geom) FROM zone_boundary b JOIN zone z ON z.id = b.zone_id "
        f"WHERE {boundary_in_force_sql(bool(selection.as_of))}"
        + (" AND z.code = :zone" if zone else "")
    )
    return _extent(session, inner, {"as_of": selection.as_of, "zone": zone})


def bounds(session: Session, layer: str, selection: TileFilter) -> list[float]:
    """The layer's data extent [west, south, east, north] in lon/lat; when it holds nothing, the
    zone's (every zone's without one), and the whole world when there are no zones either."""
    found = None
    if layer == "parcels":
        where, params = filter_sql(selection, "t")
        inner = f"SELECT ST_Extent(t.geom) FROM parcel t WHERE {' AND '.join(where)}"
        found = _extent(session, inner, params)
    elif layer == "zones":
        found = _zones_extent(session, selection, selection.zone)
    else:
        found = _extent(session, f"SELECT ST_Extent(t.geom) FROM {TABLES[layer]} t", {})
    if found is None and selection.zone:
        found = _zones_extent(session, selection, selection.zone)
    return found or _zones_extent(session, selection, None) or list(WORLD_BOUNDS)


def center(box: list[float]) -> list[float]:
    """[lon, lat, zoom]: the middle of ``box`` at the zoom that shows about all of it."""
    west, south, east, north = box
    span = max(east - west, (north - south) * 1.3, 1e-6)
    zoom = min(max(math.floor(math.log2(360 / span)), MIN_ZOOM), MAX_ZOOM)
    return [round((west + east) / 2, 7), round((south + north) / 2, 7), zoom]


def tilejson(
    session: Session, layer: str, selection: TileFilter, base: str, locale: str, maker: str
) -> dict[str, Any]:
    """TileJSON 3.0.0 for ``layer``; ``base`` is the server's absolute URL (no trailing /)."""
    check_layer(layer)
    box = bounds(session, layer, selection)
    title = shown(TITLES[layer], locale)
    return {
        "tilejson": "3.0.0",
        "name": title,
        "description": msg(
            "tilejson_description",
            "%(layer)s: vector tiles of the land acquisition register",
            layer=TITLES[layer],
        ).render(locale),
        "attribution": msg(
            "tilejson_attribution", "© %(maker)s, land acquisition register", maker=maker
        ).render(locale),
        "scheme": "xyz",
        "tiles": [f"{base}/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf{query_string(selection)}"],
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "bounds": box,
        "center": center(box),
        "vector_layers": [
            {
                "id": layer,
                "description": title,
                "minzoom": MIN_ZOOM,
                "maxzoom": MAX_ZOOM,
                "fields": {f.name: _field_text(f, locale) for f in FIELDS[layer]},
            }
        ],
    }


def _field_text(f: Field, locale: str) -> str:
    return msg("tilejson_field", "%(label)s, type %(type)s", label=f.label, type=f.type).render(
        locale
    )


# --- the style ---------------------------------------------------------------------------


def _dashes(look: dict[str, Any]) -> list[float] | None:
    """Leaflet's dashArray ("6 3", pixels) as GL's line-dasharray (in line widths)."""
    if not look.get("dashArray"):
        return None
    return [float(part) / look["weight"] for part in look["dashArray"].split()]


def _line(layer: str, suffix: str, look: dict[str, Any], where: list | None = None) -> dict:
    paint: dict[str, Any] = {"line-color": look["color"], "line-width": look["weight"]}
    dashes = _dashes(look)
    if dashes:
        paint["line-dasharray"] = dashes
    drawn = {"id": f"{layer}-{suffix}", "type": "line", "source": layer, "source-layer": layer}
    return {**drawn, **({"filter": where} if where else {}), "paint": paint}


def _fill(layer: str, color: Any, opacity: float) -> dict:
    return {
        "id": f"{layer}-fill",
        "type": "fill",
        "source": layer,
        "source-layer": layer,
        "paint": {"fill-color": color, "fill-opacity": opacity},
    }


def _match(attribute: str, colors: list[tuple[Any, str]], default: str) -> Any:
    """A data-driven colour: ``colors`` (value or list of values, colour) by ``attribute``."""
    if not colors:
        return default
    return ["match", ["get", attribute], *[x for pair in colors for x in pair], default]


def _label(layer: str) -> dict:
    attribute, minzoom = LABELS[layer]
    return {
        "id": f"{layer}-label",
        "type": "symbol",
        "source": layer,
        "source-layer": layer,
        "minzoom": minzoom,
        "layout": {
            "text-field": ["get", attribute],
            "text-font": LABEL_FONT,
            "text-size": LABEL_SIZE,
        },
        "paint": {
            "text-color": PARCEL_STYLES["plain"]["color"],
            "text-halo-color": "#ffffff",
            "text-halo-width": 1,
        },
    }


def _parcel_layers() -> list[dict]:
    stages = [(stage.value, color) for stage, color in STAGE_COLORS.items()]
    dispute, commercial = ["==", ["get", "dispute"], True], ["==", ["get", "commercial"], True]
    looks = PARCEL_STYLES
    return [
        _fill("parcels", _match("stage", stages, UNKNOWN_FILL), looks["plain"]["fillOpacity"]),
        _line("parcels", "line", looks["plain"], ["!", ["any", dispute, commercial]]),
        _line("parcels", "commercial", looks["commercial"], ["all", commercial, ["!", dispute]]),
        _line("parcels", "dispute", looks["dispute"], dispute),
    ]


def _landuse_layers(codes: list[str]) -> list[dict]:
    by_class: dict[str, list[str]] = {}
    for code in codes:
        if code[:2] in LANDUSE_CLASS_COLORS:
            by_class.setdefault(code[:2], []).append(code)
    colors = [(found, LANDUSE_CLASS_COLORS[cls]) for cls, found in sorted(by_class.items())]
    fill = _match("land_use_code", colors, LANDUSE_STYLE["fillColor"])
    return [
        _fill("landuse", fill, LANDUSE_STYLE["fillOpacity"]),
        _line("landuse", "line", LANDUSE_STYLE),
    ]


def _layers(session: Session, layer: str) -> list[dict]:
    if layer == "parcels":
        return _parcel_layers()
    if layer == "zones":
        return [_line("zones", "line", ZONE_STYLE)]
    if layer == "landuse":
        return _landuse_layers(land_use_codes(session))
    return [
        _fill("farmland", FARMLAND_STYLE["fillColor"], FARMLAND_STYLE["fillOpacity"]),
        _line("farmland", "line", FARMLAND_STYLE),
    ]


MAX_CODES = 1000


def land_use_codes(session: Session) -> list[str]:
    """The land-use codes the patches carry (GB/T 21010, e.g. 0101), each matched whole in the
    style: a GIS need not slice strings in its expressions (QGIS 3.22 cannot)."""
    found = session.execute(
        text(
            "SELECT DISTINCT land_use_code FROM landuse_patch WHERE land_use_code <> '' "
            f"ORDER BY 1 LIMIT {MAX_CODES}"
        )
    )
    return list(found.scalars())


def style(
    session: Session,
    layer: str,
    selection: TileFilter,
    base: str,
    locale: str,
    labels: bool = False,
) -> dict[str, Any]:
    """A MapLibre/Mapbox GL style (version 8) for ``layer``, its source the layer's TileJSON.

    Labels (a symbol layer: the parcel code, the zone name) only when asked for: MapLibre
    draws text only with a ``glyphs`` server, which landmap has not (and must not point at
    the internet for); QGIS draws them with its own fonts.
    """
    check_layer(layer)
    drawn = _layers(session, layer)
    if labels and layer in LABELS:
        drawn.append(_label(layer))
    return {
        "version": 8,
        "name": shown(TITLES[layer], locale),
        "sources": {
            layer: {
                "type": "vector",
                "url": f"{base}/tiles/{layer}.json{query_string(selection)}",
            }
        },
        "layers": drawn,
    }
