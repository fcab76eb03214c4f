"""landmap's own folium elements. Their behaviour lives in static/js/landmap.js; these only
pass it options (as JSON, which Jinja's tojson makes safe inside a <script>)."""

from __future__ import annotations

from typing import Any

from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

# landmap.css comes with the page template (templates/base.html)
_ASSETS_JS = [("landmap_js", "js/landmap.js")]


class ParcelLayer(JSCSSMixin, Layer):
    """Parcels as vector tiles, styled by acquisition stage (or quota status)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = LandMap.parcelLayer({{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = [
        ("leaflet_vectorgrid", "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"),
        *_ASSETS_JS,
        ("landmap_supply_js", "js/supply.js"),  # the popup's 供地/建设 section
        ("landmap_compensation_js", "js/compensation.js"),  # the popup's 补偿安置 section
    ]

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name=name, overlay=True)
        self._name = "ParcelLayer"
        self.options = options


class ZoneLayer(JSCSSMixin, Layer):
    """Current zone boundaries, fetched once from the API."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = LandMap.zoneLayer({{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = _ASSETS_JS

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name=name, overlay=True)
        self._name = "ZoneLayer"
        self.options = options


class Legend(JSCSSMixin):
    """Stage colours with the mu and parcel count of each stage."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        LandMap.legend({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = _ASSETS_JS

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__()
        self._name = "Legend"
        self.options = options


class Search(JSCSSMixin):
    """Search box: parcel code or project name, zooms to the hit."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        LandMap.search({{ this._parent.get_name() }}, {{ this.parcels.get_name() }},
                       {{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = _ASSETS_JS

    def __init__(self, parcels: ParcelLayer, options: dict[str, Any]) -> None:
        super().__init__()
        self._name = "Search"
        self.parcels = parcels
        self.options = options


class ScaleBar(JSCSSMixin):
    """A metric scale bar."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()
        self._name = "ScaleBar"


class SelectionTool(JSCSSMixin):
    """Select parcels by drawing a polygon or pasting codes, and move them together."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        LandMap.selection({{ this._parent.get_name() }}, {{ this.parcels.get_name() }},
                          {{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = [*_ASSETS_JS, ("leaflet_draw_js", "vendor/leaflet-draw/leaflet.draw.js")]
    default_css = [("leaflet_draw_css", "vendor/leaflet-draw/leaflet.draw.css")]

    def __init__(self, parcels: ParcelLayer, options: dict[str, Any]) -> None:
        super().__init__()
        self._name = "SelectionTool"
        self.parcels = parcels
        self.options = options


class OverlayLayer(JSCSSMixin, Layer):
    """A small GeoJSON layer embedded in the page (boundaries, the check's shapes), styled by
    each feature's ``kind``; labels are set as text, never as HTML."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = LandMap.overlay({{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = _ASSETS_JS

    def __init__(self, name: str, options: dict[str, Any], show: bool = True) -> None:
        super().__init__(name=name, overlay=True, show=show)
        self._name = "OverlayLayer"
        self.options = options


class DraftEditor(JSCSSMixin):
    """Edit a copy of the zone's boundary, draw a new one or a shape to add or subtract, and
    save it as a draft. Its script, LandMap.draftEditor, is static/js/drafts.js, which the
    drafts page loads before the map's script."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        LandMap.draftEditor({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = [*_ASSETS_JS, ("leaflet_draw_js", "vendor/leaflet-draw/leaflet.draw.js")]
    default_css = [("leaflet_draw_css", "vendor/leaflet-draw/leaflet.draw.css")]

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__()
        self._name = "DraftEditor"
        self.options = options


class TileOverlay(JSCSSMixin, Layer):
    """A vector-tile layer (farmland, land use) in the layer control, off until switched on;
    filled by ``style``, or by ``colors`` keyed by the first two characters of the property
    ``fillBy`` when given."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = LandMap.tileOverlay({{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = [
        ("leaflet_vectorgrid", "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"),
        *_ASSETS_JS,
    ]

    def __init__(self, name: str, options: dict[str, Any], show: bool = False) -> None:
        super().__init__(name=name, overlay=True, show=show)
        self._name = "TileOverlay"
        self.options = options
