"""The idle-land theme (闲置土地) on the main map, in headless Chromium: off until switched on in
the layer control, then drawn in the server's colours with its legend; a click on an idle
parcel opens its facts, the land user's name shown as text."""

import datetime as dt

import pytest
import shapely
from sqlalchemy import text
from test_map import CLICK_POINT, open_map

from landmap.domain import today
from landmap.maps.styles import IDLE_STYLES
from landmap.services.idle import add_years

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>闲置企业"
FILLS = """(fill) => Array.from(document.querySelectorAll('.leaflet-overlay-pane path'))
    .filter(p => (p.getAttribute('fill') || '').toLowerCase() === fill).length"""


@pytest.fixture(scope="module")
def idle_parcel(live_engine) -> str:
    """A parcel of zone C supplied two years and more ago, never started (committed in the
    live schema: supplies are append-only)."""
    start = add_years(today(), -2) - dt.timedelta(days=5)
    with live_engine.begin() as conn:
        code, parcel_id = conn.execute(
            text("""SELECT p.code, p.id FROM parcel p JOIN zone z ON z.id = p.zone_id
                    WHERE z.code = 'C' AND p.retired_on IS NULL
                      AND NOT EXISTS (SELECT 1 FROM land_supply s WHERE s.parcel_id = p.id)
                    ORDER BY p.area_mu DESC LIMIT 1""")
        ).one()
        user = conn.execute(
            text("INSERT INTO enterprise (name) VALUES (:n) RETURNING id"), {"n": HOSTILE}
        ).scalar_one()
        conn.execute(
            text("""INSERT INTO land_supply (parcel_id, method, supplied_on, contract_no,
                        enterprise_id, price_wan, start_due, completion_due)
                    VALUES (:p, 'allocation', :d, 'HB-IDLE-1', :u, 800, :s, :c)"""),
            {
                "p": parcel_id,
                "d": start - dt.timedelta(days=30),
                "u": user,
                "s": start,
                "c": add_years(start, 2),
            },
        )
    return code


def test_the_idle_theme_is_a_layer_with_its_legend_and_popup(page, idle_parcel):
    # the main map: on the zone page's shorter map the stage legend covers the layer
    # control's last rows (a layout matter of the shared map, reported)
    p = open_map(page, "/")
    label = p.locator(".leaflet-control-layers-overlays label", has_text="闲置土地")
    assert label.count() == 1 and p.locator(".lm-legend-idle").count() == 0
    recoverable = IDLE_STYLES["recoverable"]["fillColor"].lower()
    assert p.evaluate(FILLS, recoverable) == 0
    label.locator("input").check()
    legend = p.locator(".lm-legend-idle")
    legend.wait_for()
    assert legend.locator("tr").count() == 3 and "可无偿收回" in legend.inner_text()
    p.wait_for_function(f"() => ({FILLS})('{recoverable}') > 0")
    feature = p.evaluate(
        "(c) => fetch('/api/parcels/' + encodeURIComponent(c)).then(r => r.json())", idle_parcel
    )
    inside = shapely.geometry.shape(feature["geometry"]).representative_point()
    p.evaluate(
        "([lat, lng]) => LandMap.current.map.setView([lat, lng], 17, {animate: false})",
        [inside.y, inside.x],
    )
    p.wait_for_timeout(300)
    point = p.evaluate(CLICK_POINT, [inside.y, inside.x])
    p.mouse.click(point["x"], point["y"])
    popup = p.locator(".lm-theme-popup")
    popup.wait_for()
    assert idle_parcel in popup.inner_text() and HOSTILE in popup.inner_text()
    assert popup.locator("img").count() == 0
    href = popup.locator("a.lm-popup-title").get_attribute("href")
    assert href == f"/?parcel={idle_parcel}"
    label.locator("input").uncheck()
    p.wait_for_function("() => !document.querySelector('.lm-legend-idle')")
    assert page.errors == [] and page.foreign_requests() == []
