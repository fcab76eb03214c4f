"""Figures on the map, in headless Chromium: the legend follows a stage move without a
reload, a pasted selection says its mu, a map as of a day asks for that day's boundaries, and
the popup with its move form open stays inside the map, below the as-of bar."""

import pytest
from sqlalchemy import text
from test_map import click_parcel, open_map

from landmap.geo.units import mu2

pytestmark = pytest.mark.browser

LEGEND_MU = ".lm-legend tr[data-stage='{}'] td.lm-num"


@pytest.fixture
def untouched(live_engine):
    """Second-batch parcels of zone C wholly inside its boundary, never moved (by any test:
    these are the highest codes but the one test_acquisition_map takes)."""
    with live_engine.connect() as conn:
        return list(conn.execute(text("""
            SELECT p.code FROM parcel p JOIN acquisition_batch b ON b.id = p.batch_id
            JOIN zone z ON z.id = p.zone_id JOIN zone_boundary zb ON zb.zone_id = z.id
                 AND zb.status = 'current'
            WHERE b.name = '第二批' AND z.code = 'C' AND p.stage = 'not_started'
              AND ST_Covers(zb.geom, p.geom)
              AND NOT EXISTS (SELECT 1 FROM stage_change c WHERE c.parcel_id = p.id)
            ORDER BY p.code DESC LIMIT 3 OFFSET 1""")).scalars())  # fmt: skip


def legend_mu(p, stage: str) -> float:
    return float(p.locator(LEGEND_MU.format(stage)).first.inner_text())


def test_the_legend_follows_a_stage_move_from_the_popup(page, live_engine, untouched):
    code = untouched[0]
    with live_engine.connect() as conn:
        mu = conn.execute(text("SELECT area_mu FROM parcel WHERE code = :c"),
                          {"c": code}).scalar_one()  # fmt: skip
    p = open_map(page, "/zones/C")
    p.evaluate("() => { window.notReloaded = true; }")
    before = {s: legend_mu(p, s) for s in ("not_started", "surveyed")}
    total = float(p.locator(".lm-legend tr.lm-total td.lm-num").first.inner_text())
    popup = click_parcel(p, code)
    popup.locator("summary", has_text="推进").click()
    form = popup.locator("form.lm-form:has(select[name=stage])").first
    form.locator("select[name=stage]").select_option("surveyed")
    form.locator("button[type=submit]").click()
    p.wait_for_function(
        "([sel, old]) => parseFloat(document.querySelector(sel).textContent) > old",
        arg=[LEGEND_MU.format("surveyed"), before["surveyed"]],
    )
    assert legend_mu(p, "surveyed") == pytest.approx(before["surveyed"] + mu, abs=0.011)
    assert legend_mu(p, "not_started") == pytest.approx(before["not_started"] - mu, abs=0.011)
    assert float(p.locator(".lm-legend tr.lm-total td.lm-num").first.inner_text()) == total
    assert p.evaluate("() => window.notReloaded") is True
    assert page.errors == []


def test_a_pasted_selection_shows_its_mu(page, live_engine, untouched):
    codes = untouched[1:3]
    with live_engine.connect() as conn:
        mu = conn.execute(text("SELECT sum(area_mu) FROM parcel WHERE code = ANY(:c)"),
                          {"c": codes}).scalar_one()  # fmt: skip
    p = open_map(page, "/zones/C")
    p.locator(".lm-select-toggle").click()
    p.fill(".lm-paste", "\n".join([*codes, "NO-SUCH-CODE"]))
    p.locator(".lm-select-panel button", has_text="使用这些代码").click()
    summary = p.locator(".lm-select-summary")
    p.wait_for_function("() => /亩/.test(document.querySelector('.lm-select-summary').textContent)")
    text_ = summary.inner_text()
    assert f"已选: 2 · {mu2(mu):.2f} 亩" in text_
    assert "NO-SUCH-CODE" in text_
    panel = p.locator(".lm-select-panel").bounding_box()
    for control in p.locator(".lm-select-panel input, .lm-select-panel select").all():
        box = control.bounding_box()
        if box:  # every control inside the panel's box
            assert box["x"] + box["width"] <= panel["x"] + panel["width"] + 0.5
    assert page.errors == []


def test_the_map_as_of_a_day_asks_for_the_boundaries_of_that_day(page):
    p = open_map(page, "/?as_of=2011-06-30")
    p.wait_for_function("() => performance.getEntriesByType('resource').some("
                        "e => e.name.includes('/api/zones?as_of=2011-06-30'))")  # fmt: skip
    assert page.base + "/api/zones?as_of=2011-06-30" in page.requests
    assert not any(u.endswith("/api/zones") for u in page.requests)
    assert page.errors == []


def test_the_popup_with_its_form_open_stays_in_the_map_below_the_as_of_bar(page, untouched):
    p = open_map(page, "/zones/C")
    popup = click_parcel(p, untouched[0])
    p.evaluate("() => LandMap.current.map.panBy([0, 260], {animate: false})")  # near the top
    popup.locator("summary", has_text="推进").click()
    p.wait_for_function("() => !!document.querySelector('.lm-history-box > *')")  # loaded
    p.wait_for_timeout(600)  # the pan runs
    bar = p.locator(".lm-asof-bar").bounding_box()
    shown = p.locator(".leaflet-popup-content-wrapper").bounding_box()
    area = p.locator(".folium-map").bounding_box()
    assert shown["y"] >= bar["y"] + bar["height"] - 0.5  # its title is not under the bar
    assert shown["y"] + shown["height"] <= area["y"] + area["height"] + 0.5
    stage_form = popup.locator("form.lm-form:has(select[name=stage])").first
    form = stage_form.bounding_box()
    for field in stage_form.locator(".lm-field").all():
        for part in (field.locator("span"), field.locator("input, select").first):
            box = part.bounding_box()
            if box:  # labels and controls inside the form: nothing cut off on the right
                assert box["x"] + box["width"] <= form["x"] + form["width"] + 0.5
    assert page.errors == []
