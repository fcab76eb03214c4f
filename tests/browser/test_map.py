"""The map pages in headless Chromium (Debian's chromium, driven by Playwright)."""

import pytest
import shapely
from sqlalchemy import text

pytestmark = pytest.mark.browser

CLICK_POINT = """([lat, lng]) => {
    const map = window.LandMap.current.map;
    const p = map.latLngToContainerPoint([lat, lng]);
    const box = map.getContainer().getBoundingClientRect();
    return {x: box.left + p.x, y: box.top + p.y};
}"""


def open_map(watch, path="/", at_least=50):
    watch.page.goto(watch.base + path)
    watch.page.wait_for_function(
        "(n) => window.LandMap && LandMap.current && LandMap.current.parcels.landmap.loaded >= n",
        arg=at_least,
    )
    return watch.page


def click_parcel(page, code):
    """Click inside the parcel on the map, as a person would, and wait for its popup."""
    feature = page.evaluate(
        "(c) => fetch('/api/parcels/' + encodeURIComponent(c)).then(r => r.json())", code
    )
    inside = shapely.geometry.shape(feature["geometry"]).representative_point()
    page.evaluate("([lat, lng]) => LandMap.current.map.setView([lat, lng], 17, {animate: false})",
                  [inside.y, inside.x])  # fmt: skip
    page.wait_for_function("(c) => !!LandMap.current.parcels.landmap.seen[c]", arg=code)
    page.wait_for_timeout(200)  # the tile is drawn
    point = page.evaluate(CLICK_POINT, [inside.y, inside.x])
    page.mouse.click(point["x"], point["y"])
    popup = page.locator(".leaflet-popup-content", has_text=code)
    popup.wait_for()
    # a second click event (the parcel on two tiles) opens the popup again when its fetch
    # returns, closing what the test opened in the first: let the fetches settle
    page.wait_for_load_state("networkidle")
    return popup


def test_index_draws_parcels_and_a_click_opens_the_popup(page):
    p = open_map(page, at_least=301)  # waits (and fails on time-out) until the tiles are in
    assert p.locator("canvas.leaflet-tile").count() > 0  # drawn from vector tiles
    code = p.evaluate("() => Object.keys(LandMap.current.parcels.landmap.seen)"
                      ".find(c => c.startsWith('430802003031'))")  # fmt: skip
    popup = click_parcel(p, code)
    assert code in popup.inner_text()
    assert "亩" in popup.inner_text()
    assert page.errors == []
    assert page.foreign_requests() == []


def test_legend_shows_mu_per_stage(page):
    p = open_map(page)
    legend = p.locator(".lm-legend")
    assert "整理到位" in legend.inner_text()
    cleared = p.locator(".lm-legend tr[data-stage='cleared'] td.lm-num").first.inner_text()
    assert float(cleared) > 100


def test_search_by_plot_number_zooms_and_opens_its_popup(page):
    p = open_map(page, "/zones/C")
    p.fill(".lm-search input", "2011-2")
    p.locator(".lm-hit-parcel").first.click()
    popup = p.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "2011-2" in popup.inner_text()
    assert page.errors == []


def test_a_link_to_a_parcel_opens_its_popup(page):
    # the audit trail links parcels as /?parcel=<code>
    code = "430802003032JA00001"
    page.page.goto(page.base + "/?parcel=" + code)
    popup = page.page.locator(".leaflet-popup-content", has_text=code)
    popup.wait_for()
    assert "亩" in popup.inner_text()
    assert page.errors == []


def test_a_project_without_parcels_opens_its_page_from_the_search(page, live_engine):
    from sqlalchemy import text

    with live_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO project (name, kind, stage) VALUES "
                "('康师傅集团测试项目', 'industrial', 'pre_stage') ON CONFLICT DO NOTHING"
            )
        )
        project_id = conn.execute(
            text("SELECT id FROM project WHERE name = '康师傅集团测试项目'")
        ).scalar_one()
    p = open_map(page)
    p.fill(".lm-search input", "康师傅集团测试")
    p.locator(".lm-hit-project").first.click()
    p.wait_for_url(f"**/projects/{project_id}")
    assert page.errors == []


def test_english_map(page):
    p = open_map(page, "/zones/C?lang=en")
    assert "Acquisition stage (mu)" in p.locator(".lm-legend").inner_text()


@pytest.fixture
def hostile_owner(live_engine):
    payload = "<img src=x onerror=alert(1)>`${alert(2)}`</script><script>alert(3)</script>"
    code = "430802003031JA00001"
    with live_engine.begin() as conn:
        old = conn.execute(
            text("SELECT owner, name FROM parcel WHERE code = :c"), {"c": code}
        ).one()
        conn.execute(
            text("UPDATE parcel SET owner = :o, name = :o WHERE code = :c"),
            {"o": payload, "c": code},
        )
    yield code, payload
    with live_engine.begin() as conn:
        conn.execute(
            text("UPDATE parcel SET owner = :o, name = :n WHERE code = :c"),
            {"o": old.owner, "n": old.name, "c": code},
        )


def test_attribute_text_shows_as_text_and_runs_nothing(page, hostile_owner):
    code, payload = hostile_owner
    p = open_map(page, "/zones/C")
    popup = click_parcel(p, code)
    assert payload in popup.inner_text()
    assert popup.locator("img, script").count() == 0
    p.fill(".lm-search input", code)  # the search result's label carries the name too
    hit = p.locator(".lm-hit-parcel").first
    hit.wait_for()
    assert payload in hit.inner_text() and p.locator(".lm-search-results img").count() == 0
    p.goto(page.base + "/zones/C")  # and the zone's parcel table
    assert p.locator("#parcels img").count() == 0
    p.wait_for_timeout(300)
    assert page.errors == []  # an alert() would have been a dialog; CSP refusals are errors


@pytest.fixture
def unreachable_basemap(live_settings):
    from conftest import serve

    # port 9 (discard) refuses connections: a tile server that is down
    with serve(live_settings.with_(basemap_url="http://127.0.0.1:9/{z}/{x}/{y}.png")) as url:
        yield url


def test_parcels_render_when_the_tile_server_is_down(browser, unreachable_basemap, admin_state):
    context = browser.new_context(storage_state=admin_state)  # same secret key, same host
    page = context.new_page()
    page.goto(unreachable_basemap + "/")
    page.wait_for_function("() => LandMap.current && LandMap.current.parcels.landmap.loaded > 300")
    assert page.locator("img.leaflet-tile").count() > 0  # the basemap was asked for
    context.close()
