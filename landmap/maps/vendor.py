"""Every JS/CSS file a map page uses comes from static/vendor/ (scripts/fetch_vendor.py puts
it there); nothing is loaded from a CDN. ``localize`` rewrites folium's asset lists and refuses
any asset it does not know, so a new plugin cannot slip a CDN link into a page."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from branca.element import Element

# folium asset name -> file under static/
ASSETS: dict[str, str] = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "landmap_js": "js/landmap.js",
    "landmap_print_js": "js/print.js",
    "landmap_supply_js": "js/supply.js",
    "landmap_compensation_js": "js/compensation.js",
    "landmap_print_css": "css/print.css",
    "leaflet_draw_js": "vendor/leaflet-draw/leaflet.draw.js",
    "leaflet_draw_css": "vendor/leaflet-draw/leaflet.draw.css",
    "Leaflet.Sync": "vendor/leaflet.sync/L.Map.Sync.js",
    "leaflet_vectorgrid": "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
    "proj4": "vendor/proj4/proj4.js",
}
# folium's defaults that landmap's maps do not use
UNUSED = {
    "jquery",
    "bootstrap",
    "bootstrap_css",
    "awesome_markers",
    "awesome_markers_css",
    "awesome_markers_font_css",
    "awesome_rotate_css",
    "glyphicons_css",
}


class UnknownAsset(RuntimeError):
    """A map element wants a JS/CSS file that is not in static/vendor."""


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in element._children.values():
        yield from _walk(child)


def _local(pairs: list[tuple[str, str]], static_url: Callable[[str], str]) -> list:
    out = []
    for name, url in pairs:
        if name in UNUSED:
            continue
        if name not in ASSETS:
            raise UnknownAsset(f"{name} ({url}) is not vendored: add it to scripts/fetch_vendor.py")
        out.append((name, static_url(ASSETS[name])))
    return out


def localize(root: Element, static_url: Callable[[str], str]) -> None:
    """Point every element's default_js/default_css at the app's own static files."""
    for element in _walk(root):
        if hasattr(element, "default_js"):
            element.default_js = _local(list(element.default_js), static_url)
        if hasattr(element, "default_css"):
            element.default_css = _local(list(element.default_css), static_url)
