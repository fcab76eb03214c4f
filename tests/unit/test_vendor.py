import folium
import pytest

from landmap.maps.vendor import UnknownAsset, localize


def test_localize_points_folium_at_static_files():
    m = folium.Map(tiles=None)
    localize(m, lambda p: f"/static/{p}")
    html = m.get_root().render()
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert "cdn" not in html and "https://" not in html.replace("https://leafletjs.com", "")


def test_an_element_with_an_unvendored_asset_is_refused():
    from folium.plugins import MeasureControl

    m = folium.Map(tiles=None)
    MeasureControl().add_to(m)
    with pytest.raises(UnknownAsset, match="not vendored"):
        localize(m, lambda p: p)


def test_the_committed_vendor_files_match_the_manifest_and_the_pins():
    import importlib.util
    import json

    from landmap.config import PROJECT_ROOT

    path = PROJECT_ROOT / "scripts" / "fetch_vendor.py"
    spec = importlib.util.spec_from_file_location("fetch_vendor", path)
    fetch_vendor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetch_vendor)
    manifest = json.loads((fetch_vendor.VENDOR / "MANIFEST.json").read_text())
    assert fetch_vendor.check(manifest) == []
    # proj4js for the coordinate readout and the measuring tool: pinned with its integrity
    package, version, files = fetch_vendor.PACKAGES["proj4"]
    assert (package, version) == ("proj4", manifest["proj4"]["version"])
    assert manifest["proj4"]["integrity"].startswith("sha512-")
    assert set(files.values()) == {"proj4.js", "LICENSE.md"}
    # and a changed byte is found
    changed = {**manifest, "proj4": {**manifest["proj4"], "files": {"proj4.js": "0" * 64}}}
    assert "proj4/proj4.js missing or changed" in fetch_vendor.check(changed)


def test_proj4_is_a_known_asset():
    from landmap.maps.tools import MapTools
    from landmap.maps.vendor import ASSETS

    m = folium.Map(tiles=None)
    MapTools({}).add_to(m)
    localize(m, lambda p: f"/static/{p}")
    html = m.get_root().render()
    assert ASSETS["proj4"] == "vendor/proj4/proj4.js"
    assert "/static/vendor/proj4/proj4.js" in html and "/static/vendor/leaflet-draw/" in html
