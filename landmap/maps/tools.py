"""The tools every map has: a measuring tool (distance, area in m² and mu), the mouse's
coordinates in CGCS2000 (degrees and the storage SRID's Gauss-Krüger metres), Leaflet.draw's
texts in the user's language, and the land-use overlay's legend.

Every word is a catalogue term rendered here in the map's locale; the browser is told the
texts, the Gauss-Krüger definition (a proj4 string made by pyproj) and the mu, never
hard-codes them. The measuring tool computes in the storage SRID's plane, as ST_Area does in
the database, so a measured parcel shows the same mu as its popup.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

from folium.elements import JSCSSMixin
from folium.template import Template
from pyproj import CRS

from landmap.geo.units import M2_PER_MU
from landmap.maps.styles import LANDUSE_CLASS_COLORS, MEASURE_STYLE
from landmap.messages import Term, gettext, term

# L.drawLocal of Leaflet.draw 1.0.4, every string a catalogue term
DRAW_LOCAL: dict[str, Any] = {
    "draw": {
        "toolbar": {
            "actions": {"title": term("Cancel drawing"), "text": term("Cancel")},
            "finish": {"title": term("Finish drawing"), "text": term("Finish")},
            "undo": {
                "title": term("Delete the last point drawn"),
                "text": term("Delete the last point"),
            },
            "buttons": {
                "polyline": term("Draw a line"),
                "polygon": term("Draw a polygon"),
                "rectangle": term("Draw a rectangle"),
                "circle": term("Draw a circle"),
                "marker": term("Place a marker"),
                "circlemarker": term("Place a circle marker"),
            },
        },
        "handlers": {
            "circle": {
                "tooltip": {"start": term("Click and drag to draw a circle.")},
                "radius": term("Radius"),
            },
            "circlemarker": {"tooltip": {"start": term("Click the map to place a circle marker.")}},
            "marker": {"tooltip": {"start": term("Click the map to place a marker.")}},
            "polygon": {
                "tooltip": {
                    "start": term("Click to start drawing the shape."),
                    "cont": term("Click to continue drawing the shape."),
                    "end": term("Click the first point to close the shape."),
                }
            },
            "polyline": {
                "error": term("Error: the shape's edges cannot cross!"),
                "tooltip": {
                    "start": term("Click to start drawing the line."),
                    "cont": term("Click to continue drawing the line."),
                    "end": term("Click the last point to finish the line."),
                },
            },
            "rectangle": {"tooltip": {"start": term("Click and drag to draw a rectangle.")}},
            "simpleshape": {"tooltip": {"end": term("Release the mouse to finish drawing.")}},
        },
    },
    "edit": {
        "toolbar": {
            "actions": {
                "save": {"title": term("Save the changes"), "text": term("Save")},
                "cancel": {
                    "title": term("Cancel editing and discard the changes"),
                    "text": term("Cancel"),
                },
                "clearAll": {"title": term("Clear all layers"), "text": term("Clear all")},
            },
            "buttons": {
                "edit": term("Edit layers"),
                "editDisabled": term("No layers to edit"),
                "remove": term("Delete layers"),
                "removeDisabled": term("No layers to delete"),
            },
        },
        "handlers": {
            "edit": {
                "tooltip": {
                    "text": term("Drag the handles or markers to edit the shapes."),
                    "subtext": term("Click Cancel to undo the changes."),
                }
            },
            "remove": {"tooltip": {"text": term("Click a shape to remove it.")}},
        },
    },
}

TOOL_TEXTS: dict[str, Term] = {
    "measure": term("Measure"),
    "measure_distance": term("Measure a distance"),
    "measure_area": term("Measure an area"),
    "clear": term("Clear the measurement"),
    "distance": term("Distance"),
    "area": term("Area"),
    "m": term("m"),
    "km": term("km"),
    "m2": term("m²"),
    "mu": term("mu"),
    "longitude": term("Longitude"),
    "latitude": term("Latitude"),
    "northing": term("Northing X"),
    "easting": term("Easting Y"),
    "coordinates": term("Mouse position"),
}

# the first-level GB/T 21010 classes (their Chinese names are landmap.landuse.CLASSES')
LANDUSE_CLASS_NAMES: dict[str, Term] = {
    "01": term("Cultivated land"),
    "02": term("Garden land"),
    "03": term("Forest land"),
    "04": term("Grassland"),
    "05": term("Commercial and service land"),
    "06": term("Industrial, mining and storage land"),
    "07": term("Residential land"),
    "08": term("Public administration and public service land"),
    "09": term("Special-purpose land"),
    "10": term("Transport land"),
    "11": term("Water and water facilities land"),
    "12": term("Other land"),
}
LANDUSE_LEGEND_TITLE = term("Land-use class (GB/T 21010)")


def rendered(value: Any, locale: str) -> Any:
    """``value`` with every term translated into ``locale`` (nested dicts kept)."""
    if isinstance(value, Term):
        return gettext(value.text, locale)
    if isinstance(value, dict):
        return {k: rendered(v, locale) for k, v in value.items()}
    return value


@lru_cache(maxsize=8)
def grid_crs(srid: int) -> dict[str, Any]:
    """The projected CRS the measuring tool and the readout work in (the storage SRID, by
    default EPSG:4546, CGCS2000 3-degree Gauss-Krüger CM 111E, no zone prefix): its name and
    its proj4 definition for proj4js. Dropping the CRS's metadata is what PROJ strings do;
    the projection itself (tmerc, GRS80, false easting) survives intact."""
    crs = CRS.from_epsg(srid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "you will likely lose information"
        definition = crs.to_proj4()
    return {"code": f"EPSG:{srid}", "name": crs.name, "proj4": definition}


def tool_options(locale: str, srid: int) -> dict[str, Any]:
    """What LandMap.tools needs: Leaflet.draw's texts, the tools' texts, the grid, the mu."""
    return {
        "drawLocal": rendered(DRAW_LOCAL, locale),
        "labels": rendered(TOOL_TEXTS, locale),
        "grid": grid_crs(srid),
        "m2PerMu": M2_PER_MU,
        "style": MEASURE_STYLE,
    }


def landuse_legend(locale: str) -> dict[str, Any]:
    """The land-use overlay's legend: each first-level class's colour and name."""
    return {
        "title": rendered(LANDUSE_LEGEND_TITLE, locale),
        "rows": [
            {"key": code, "label": rendered(name, locale), "color": LANDUSE_CLASS_COLORS[code]}
            for code, name in LANDUSE_CLASS_NAMES.items()
        ],
    }


class MapTools(JSCSSMixin):
    """The measuring tool and the coordinate readout on a map, and Leaflet.draw's texts set
    before any drawing tool is made (so add it before the selection tool or the editor)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        LandMap.tools({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = [
        ("landmap_js", "js/landmap.js"),
        ("leaflet_draw_js", "vendor/leaflet-draw/leaflet.draw.js"),
        ("proj4", "vendor/proj4/proj4.js"),
    ]
    default_css = [("leaflet_draw_css", "vendor/leaflet-draw/leaflet.draw.css")]

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__()
        self._name = "MapTools"
        self.options = options
