"""Zone drafts in headless Chromium: the editor saves a draft, the compare page shows it."""

import json
import re

import pytest

pytestmark = pytest.mark.browser


def test_edit_a_copy_of_the_boundary_save_it_and_compare(page):
    p = page.page
    p.goto(page.base + "/zones/B/drafts")
    p.wait_for_function("() => window.LandMap && LandMap.editor && "
                        "LandMap.editor.group.getLayers().length > 0")  # fmt: skip
    # move the boundary's first vertex 0.002 degrees east, as dragging it would
    p.evaluate("""() => {
        const layer = LandMap.editor.group.getLayers()[0];
        const ring = layer.getLatLngs()[0];
        ring[1] = L.latLng(ring[1].lat, ring[1].lng + 0.002);
        layer.setLatLngs([ring]);
    }""")
    p.fill(".lm-draft-panel textarea", "东侧边界外扩试算")
    p.click(".lm-draft-panel button")
    p.wait_for_url("**/zones/B/drafts/*")
    assert p.locator("#figures").count() == 1
    added = float(p.locator("#added").inner_text())
    assert added > 0
    p.wait_for_function(
        "() => document.querySelectorAll('.folium-map').length === 2 && "
        "LandMap.current.parcels.landmap.loaded > 100 && "
        "document.querySelectorAll('path.leaflet-interactive').length > 2"
    )
    assert page.errors == [] and page.foreign_requests() == []


def open_editor(page, code):
    p = page.page
    p.goto(page.base + f"/zones/{code}/drafts")
    p.wait_for_function("() => window.LandMap && LandMap.editor && "
                        "LandMap.editor.group.getLayers().length > 0")  # fmt: skip
    return p


# drafts saved here are committed: they go to zone B, which the other suites leave alone


def test_saving_the_boundary_unchanged_changes_nothing(page):
    p = open_editor(page, "B")
    p.fill(".lm-draft-panel textarea", "原样保存")
    p.click(".lm-draft-panel button")
    p.wait_for_url("**/zones/B/drafts/*")
    assert p.locator("#added").inner_text() == "0.00"
    assert p.locator("#removed").inner_text() == "0.00"
    assert p.locator("#problems").count() == 0
    assert page.errors == []


def test_a_polygon_drawn_over_the_edge_is_added(page):
    p = open_editor(page, "B")
    p.locator(".lm-draft-op input[value='add']").check()
    # a polygon as Leaflet.draw makes it: from the middle of the zone to 300 m beyond its
    # north-east corner
    p.evaluate("""() => {
        const b = LandMap.editor.group.getBounds();
        const c = b.getCenter(), ne = b.getNorthEast();
        const layer = L.polygon([[c.lat, c.lng], [c.lat, ne.lng + 0.003],
                                 [ne.lat + 0.003, ne.lng + 0.003], [ne.lat + 0.003, c.lng]]);
        LandMap.editor.map.fire(L.Draw.Event.CREATED, {layer: layer, layerType: "polygon"});
    }""")
    p.fill(".lm-draft-panel textarea", "东北角扩区")
    p.click(".lm-draft-panel button")
    p.wait_for_url("**/zones/B/drafts/*")
    assert float(p.locator("#added").inner_text()) > 10
    assert p.locator("#removed").inner_text() == "0.00"
    assert page.errors == []


def test_the_editor_legend_has_mu_and_the_overlays_switch_on(page):
    p = open_editor(page, "C")
    total = p.locator(".lm-legend tr.lm-total td.lm-num").first.inner_text()
    assert float(total) > 100
    cleared = p.locator(".lm-legend tr[data-stage='cleared'] td.lm-num").first.inner_text()
    assert float(cleared) > 0

    def farmland_requests():
        return [u for u in page.requests if "/tiles/farmland/" in u]

    p.wait_for_timeout(300)
    assert farmland_requests() == []  # off until switched on
    overlays = p.locator(".leaflet-control-layers-overlays label")
    overlays.filter(has_text=re.compile("farmland|永久基本农田")).locator("input").check()
    p.wait_for_function("() => performance.getEntriesByType('resource')"
                        ".some(e => e.name.includes('/tiles/farmland/'))")  # fmt: skip
    assert farmland_requests()
    assert page.errors == [] and page.foreign_requests() == []


def test_upload_a_draft_then_the_approve_button_asks_first(page, tmp_path):
    """The page scripts live in static/js/drafts.js (no inline script of our own)."""
    p = open_editor(page, "B")
    zones = p.evaluate("() => fetch('/api/zones').then(r => r.json())")
    feature = next(f for f in zones["features"] if f["properties"]["code"] == "B")
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": feature["geometry"]}]}))  # fmt: skip
    p.set_input_files("#draft-file", str(path))
    p.click("#upload-form button[type=submit]")
    p.wait_for_url("**/zones/B/drafts/*")
    assert p.locator("#added").inner_text() == "0.00"
    p.click("#approve")  # the page's watcher dismisses the confirmation: nothing is approved
    p.wait_for_timeout(300)
    assert len(page.errors) == 1 and page.errors[0].startswith("dialog: ")
    assert p.locator("#approve").is_enabled()


def test_a_shapefile_without_prj_is_refused_in_chinese_and_loads_with_the_choice(page, tmp_path):
    """The form's refusal names the coordinate system to choose; "another EPSG code" opens
    the field for it, and with the code given the draft loads."""
    import io
    import zipfile

    import geopandas as gpd
    import shapely

    p = open_editor(page, "B")
    zones = p.evaluate("() => fetch('/api/zones').then(r => r.json())")
    feature = next(f for f in zones["features"] if f["properties"]["code"] == "B")
    shape = shapely.geometry.shape(feature["geometry"])
    gdf = gpd.GeoDataFrame(geometry=[shape], crs="EPSG:4326").to_crs(4546)
    gdf.to_file(tmp_path / "b.shp", engine="pyogrio")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for ext in (".shp", ".shx", ".dbf", ".cpg"):  # no .prj
            zf.write(tmp_path / f"b{ext}", f"b{ext}")
    (tmp_path / "b.zip").write_bytes(buf.getvalue())
    p.set_input_files("#draft-file", str(tmp_path / "b.zip"))
    p.click("#upload-form button[type=submit]")
    msg = p.locator("#upload-msg")
    msg.filter(has_text="请选择其坐标系").wait_for()
    assert "--srs" not in msg.inner_text() and "LANDMAP_" not in msg.inner_text()
    assert p.locator("#draft-srs-epsg").is_hidden()
    p.select_option("#draft-srs", "epsg")
    assert p.locator("#draft-srs-epsg").is_visible()
    p.fill("#draft-srs-epsg", "4546")
    p.click("#upload-form button[type=submit]")
    p.wait_for_url("**/zones/B/drafts/*")
    assert p.locator("#added").inner_text() == "0.00"
    assert [e for e in page.errors if "status of 400" not in e] == []  # the refused upload
    assert len(page.errors) == 1 and page.foreign_requests() == []
