"""Thematic GeoJSON overlays of the maps (idle land ...): in the layer control, off until
switched on, then fetched from the API and filled by each feature's class with the colours of
landmap.maps.styles; a legend shows while the overlay is on. Their behaviour is
LandMap.themeOverlay in static/js/landmap.js."""

from __future__ import annotations

from typing import Any

from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from landmap.maps.styles import COMPENSATION_OUTLINE, IDLE_STYLES


class ThemeOverlay(JSCSSMixin, Layer):
    """A GeoJSON overlay fetched when switched on, styled by the property ``styleBy``."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = LandMap.themeOverlay({{ this.options|tojson }});
        {% endmacro %}
    """)
    default_js = [("landmap_js", "js/landmap.js")]

    def __init__(self, name: str, options: dict[str, Any], show: bool = False) -> None:
        super().__init__(name=name, overlay=True, show=show)
        self._name = "ThemeOverlay"
        self.options = options


def idle_overlay(
    name: str,
    url: str,
    params: dict[str, Any],
    legend: dict[str, Any],
    labels: dict[str, str],
) -> dict[str, Any]:
    """The idle-land theme (闲置土地): ``url`` answers the GeoJSON of the idle parcels and those
    to watch (services.idle.feature_collection) for ``params`` (as_of, zone); each feature's
    ``theme`` (recoverable, idle, watch) picks its style. ``legend``: a title and the rows'
    labels by theme class, in the user's language; ``labels``: the popup's texts."""
    rows = [
        {"key": key, "label": legend["rows"][key], "color": IDLE_STYLES[key]["fillColor"]}
        for key in ("recoverable", "idle", "watch")
    ]
    return {
        "name": name,
        "layer": "idle",
        "url": url,
        "params": {k: v for k, v in params.items() if v},
        "styleBy": "theme",
        "styles": IDLE_STYLES,
        "labels": labels,
        "legend": {"title": legend["title"], "rows": rows, "keys": False},
    }


def compensation_overlay(
    name: str,
    url: str,
    params: dict[str, Any],
    legend: dict[str, Any],
    labels: dict[str, Any],
) -> dict[str, Any]:
    """The 补偿 theme: ``url`` answers the GeoJSON of the parcels with households
    (services.compensation_theme) for ``params`` (zone); each feature's ``status`` (the least
    advanced of its households) picks its fill. ``legend``: a title and its rows (``key``, the
    status; ``label``; ``color``, HouseholdStatus.colour), in the user's language, least
    advanced first; ``labels``: the popup's texts."""
    styles = {
        row["key"]: {**COMPENSATION_OUTLINE, "fillColor": row["color"]} for row in legend["rows"]
    }
    return {
        "name": name,
        "layer": "compensation",
        "url": url,
        "params": {k: v for k, v in params.items() if v},
        "styleBy": "status",
        "styles": {**styles, "default": COMPENSATION_OUTLINE},
        "labels": labels,
        "legend": {"title": legend["title"], "rows": legend["rows"], "keys": False},
    }
