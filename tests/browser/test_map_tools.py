"""The map tools people expect, in headless Chromium: measuring (distance, area in m² and mu),
the mouse's coordinates in CGCS2000 degrees and Gauss-Krüger metres, Leaflet.draw in
Chinese, the land-use and farmland layers with the zone boundaries in every map's layer
control, and the popup's link to the parcel's project."""

import re

import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import text
from test_map import click_parcel, open_map

from landmap.geo.units import M2_PER_MU

pytestmark = pytest.mark.browser

TO_GK = Transformer.from_crs(4490, 4546, always_xy=True)  # CGCS2000 -> GK CM 111E, no prefix
LAT_LNG = (
    "([x, y]) => { const ll = LandMap.current.map.containerPointToLatLng([x, y]);"
    " return [ll.lat, ll.lng]; }"
)
LOADED = "(part) => performance.getEntriesByType('resource').some(e => e.name.includes(part))"
# the vertices the measuring tool measured
MEASURED = "() => LandMap.current.map.landmapTools.measure.measured.map(ll => [ll.lat, ll.lng])"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def page_point(p, x, y):
    """The page coordinates of the map's container point (x, y), which must be clear of the
    map's controls (a click there would go to the control, not the map)."""
    box = p.evaluate("() => LandMap.current.map.getContainer().getBoundingClientRect().toJSON()")
    px, py = box["x"] + x, box["y"] + y
    hit = p.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).closest('.leaflet-control') === null", [px, py]
    )
    assert hit, f"({x}, {y}) is under a map control"
    return px, py


def numbers(s: str) -> list[float]:
    return [float(n) for n in NUMBER.findall(s)]


def test_the_readout_shows_cgcs2000_degrees_and_gauss_kruger_metres(page):
    p = open_map(page, "/zones/C")
    readout = p.locator(".lm-coords")
    assert readout.is_visible()
    assert "EPSG:4546" in readout.inner_text() and "经度" in readout.inner_text()
    p.mouse.move(*page_point(p, 400, 300))
    p.mouse.move(*page_point(p, 401, 301))
    lat, lng = p.evaluate(LAT_LNG, [401, 301])
    p.wait_for_function("() => document.querySelector('.lm-coord-x').textContent !== '–'")
    cells = {k: p.locator(f".lm-coord-{k}").inner_text() for k in ("lng", "lat", "x", "y")}
    shown = {k: numbers(v)[0] for k, v in cells.items()}
    # the degrees of where the mouse is (within a few pixels), to 7 decimals
    assert shown["lng"] == pytest.approx(lng, abs=2e-4) and cells["lng"].endswith("°")
    assert shown["lat"] == pytest.approx(lat, abs=2e-4) and cells["lat"].endswith("°")
    assert all(len(cells[k].split(".")[1].rstrip("°")) == 7 for k in ("lng", "lat"))
    easting, northing = TO_GK.transform(shown["lng"], shown["lat"])
    # X is the northing, Y the easting (as Chinese surveys write them), no zone prefix
    assert shown["x"] == pytest.approx(northing, abs=0.02) and 3_000_000 < shown["x"] < 3_500_000
    assert shown["y"] == pytest.approx(easting, abs=0.02) and 300_000 < shown["y"] < 700_000
    assert "米" in p.locator(".lm-coord-x").inner_text()
    assert page.errors == []


def test_measuring_an_area_in_mu_and_m2_with_leaflet_draw_in_chinese(page):
    p = open_map(page, "/zones/C")
    tool = p.locator(".lm-measure")
    assert tool.is_visible() and "量算" in tool.inner_text()
    tool.locator(".lm-measure-area").click()
    corners = [(260, 230), (440, 235), (430, 400), (265, 395)]  # clear of the controls
    p.mouse.move(*page_point(p, *corners[0]))
    tooltip = p.locator(".leaflet-draw-tooltip")
    assert "单击开始绘制图形" in tooltip.inner_text()
    for x, y in corners:
        p.mouse.click(*page_point(p, x, y))
        p.wait_for_timeout(100)
    p.mouse.move(*page_point(p, 300, 300))  # the tooltip follows the mouse
    assert "单击起点闭合图形" in tooltip.inner_text()
    assert "亩" in tooltip.inner_text()  # measured while drawing
    p.mouse.click(*page_point(p, *corners[0]))  # close the shape on its first point
    result = p.locator(".lm-measure-result")
    result.wait_for()
    p.wait_for_function("() => document.querySelector('.lm-measure-result').textContent !== ''")
    shown = result.inner_text()
    assert "面积" in shown and "平方米" in shown and "亩" in shown
    m2, mu = numbers(shown)[:2]
    clicked = [p.evaluate(LAT_LNG, c) for c in corners]
    measured = p.evaluate(MEASURED)
    assert measured == [pytest.approx(c, abs=1e-4) for c in clicked]  # where it was clicked
    gk = [TO_GK.transform(lng, lat) for lat, lng in measured]
    expected = shapely.Polygon(gk).area  # planar on EPSG:4546, as ST_Area in the database
    assert m2 == pytest.approx(expected, abs=0.01)
    assert mu == pytest.approx(expected / M2_PER_MU, abs=0.006)
    assert mu == pytest.approx(m2 / 666.6667, abs=0.006)
    assert page.errors == []


def test_measuring_a_distance(page):
    p = open_map(page, "/zones/C")
    p.locator(".lm-measure-line").click()
    ends = [(260, 300), (440, 330)]  # left of the legend, below the search
    p.mouse.move(*page_point(p, *ends[0]))
    assert "单击开始绘制线" in p.locator(".leaflet-draw-tooltip").inner_text()
    for x, y in ends:
        p.mouse.click(*page_point(p, x, y))
        p.wait_for_timeout(100)
    p.mouse.click(*page_point(p, *ends[1]))  # the last point again ends the line
    p.wait_for_function("() => document.querySelector('.lm-measure-result').textContent !== ''")
    shown = p.locator(".lm-measure-result").inner_text()
    assert "距离" in shown
    measured = p.evaluate(MEASURED)
    assert measured == [pytest.approx(p.evaluate(LAT_LNG, e), abs=1e-4) for e in ends]
    metres = shapely.LineString([TO_GK.transform(lng, lat) for lat, lng in measured]).length
    value = numbers(shown)[0]
    unit = 1000 if "千米" in shown else 1  # km to 3 decimals, m to 2
    assert value * unit == pytest.approx(metres, abs=0.6 if unit > 1 else 0.006)
    # a measurement is not a selection: nothing was selected or sent to the server
    assert not [u for u in page.requests if "/api/parcels/select" in u]
    assert page.errors == []


def test_leaflet_draw_in_english_on_request(page):
    p = open_map(page, "/zones/C?lang=en")
    p.locator(".lm-measure-area").click()
    p.mouse.move(*page_point(p, 300, 300))
    assert "Click to start drawing the shape." in p.locator(".leaflet-draw-tooltip").inner_text()
    assert "Land use" in p.locator(".leaflet-control-layers-overlays").inner_text()


@pytest.fixture
def map_pages(live_engine) -> list[str]:
    with live_engine.connect() as conn:
        project, batch = conn.execute(
            text("""
            SELECT project_id, id FROM acquisition_batch ORDER BY id LIMIT 1""")
        ).one()
    return ["/", "/zones/C", f"/projects/{project}", f"/quota?batch={batch}", "/zones/C/drafts"]


def test_every_map_offers_land_use_farmland_and_the_zone_boundaries(page, map_pages):
    for path in map_pages:
        page.page.goto(page.base + path)
        overlays = page.page.locator(".leaflet-control-layers-overlays")
        overlays.wait_for()
        names = overlays.inner_text()
        for name in ("土地利用现状", "永久基本农田", "区块边界"):
            assert name in names, f"{path}: no {name} in the layer control ({names!r})"
        assert page.page.locator(".lm-measure").count() == 1, path
        assert page.page.locator(".lm-coords").count() == 1, path
    assert page.errors == [] and page.foreign_requests() == []


def test_the_land_use_layer_is_drawn_by_class_with_its_legend(page):
    p = open_map(page, "/zones/C")
    assert p.locator(".lm-legend-landuse").count() == 0  # off, and its legend with it
    label = p.locator(".leaflet-control-layers-overlays label", has_text="土地利用现状")
    label.locator("input").check()
    legend = p.locator(".lm-legend-landuse")
    legend.wait_for()
    rows = legend.locator("tr")
    assert rows.count() == 12
    assert "耕地" in rows.nth(0).inner_text() and "其他土地" in rows.nth(11).inner_text()
    assert "GB/T 21010" in legend.inner_text()
    p.wait_for_function(LOADED, arg="/tiles/landuse/")
    label.locator("input").uncheck()
    p.wait_for_function("() => !document.querySelector('.lm-legend-landuse')")
    assert page.errors == []


@pytest.fixture
def parcel_with_project(live_engine):
    with live_engine.connect() as conn:
        return conn.execute(
            text("""
            SELECT p.code, pr.id, pr.name FROM parcel p JOIN project pr ON pr.id = p.project_id
            JOIN zone z ON z.id = p.zone_id WHERE z.code = 'C'
            ORDER BY p.code LIMIT 1""")
        ).one()


def test_the_popup_links_to_the_parcels_project(page, parcel_with_project):
    code, project_id, name = parcel_with_project
    p = open_map(page, "/zones/C")
    popup = click_parcel(p, code)
    link = popup.locator("a.lm-project-link")
    assert link.inner_text() == name
    assert link.get_attribute("href") == f"/projects/{project_id}"
    link.click()
    p.wait_for_url(f"{page.base}/projects/{project_id}")
    assert name in p.locator("h1, h2").first.inner_text()
    assert page.errors == []


def test_the_draft_editors_drawing_toolbar_is_chinese(page):
    page.page.goto(page.base + "/zones/C/drafts")
    button = page.page.locator(".leaflet-draw-draw-polygon")
    button.wait_for()
    assert button.get_attribute("title") == "绘制多边形"
    button.click()
    actions = page.page.locator(".leaflet-draw-actions:visible")
    assert "取消" in actions.inner_text() and "删除最后一点" in actions.inner_text()
    assert page.errors == []
