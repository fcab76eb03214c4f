"""Acquisition on the map, in headless Chromium: the popup form, and the as-of view."""

import datetime as dt

import pytest
from sqlalchemy import text
from test_map import click_parcel, open_map

from landmap.services.acquisition import today

pytestmark = pytest.mark.browser


@pytest.fixture
def fresh_code(live_engine):
    """A second-batch parcel that no other test has moved."""
    with live_engine.connect() as conn:
        return conn.execute(text("""
            SELECT p.code FROM parcel p JOIN acquisition_batch b ON b.id = p.batch_id
            WHERE b.name = '第二批' AND p.stage = 'not_started'
              AND NOT EXISTS (SELECT 1 FROM stage_change c WHERE c.parcel_id = p.id)
            ORDER BY p.code DESC LIMIT 1""")).scalar_one()  # fmt: skip


def test_moving_a_parcel_in_its_popup_and_the_map_as_of_the_day_before(page, fresh_code):
    p = open_map(page, "/zones/C")
    popup = click_parcel(p, fresh_code)
    assert "未启动" in popup.inner_text()
    popup.locator("summary", has_text="推进").click()
    form = popup.locator("form.lm-form:has(select[name=stage])").first
    form.locator("select[name=stage]").select_option("pre_announced")
    form.locator("input[name=note]").fill("预公告已张贴")
    form.locator("button[type=submit]").click()
    moved = p.locator(".leaflet-popup-content", has=p.locator(".lm-stage-pre_announced"))
    moved.wait_for()
    moved.locator(".lm-history").wait_for()
    assert "征收预公告" in moved.locator(".lm-stage").inner_text()
    assert "预公告已张贴" in moved.locator(".lm-history").inner_text()
    moved.locator("summary", has_text="审计日志").click()  # administrators see the audit trail
    audit = moved.locator(".lm-audit .lm-history")
    audit.wait_for()
    assert "t_admin stage" in audit.inner_text()
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    p = open_map(page, f"/zones/C?as_of={yesterday}")
    popup = click_parcel(p, fresh_code)
    assert "未启动" in popup.locator(".lm-stage").inner_text()
    assert popup.locator("form").count() == 0  # the past is not editable
    assert page.errors == [] and page.foreign_requests() == []


def test_the_project_page_shows_progress_and_draws_its_parcels(page, live_engine):
    with live_engine.connect() as conn:
        pid, bid = conn.execute(text("""
            SELECT p.id, b.id FROM project p JOIN acquisition_batch b ON b.project_id = p.id
            WHERE p.name = 'C区1000亩土地开发项目' AND b.name = '第一批'""")).one()  # fmt: skip
    p = open_map(page, f"/projects/{pid}?batch={bid}&as_of=2011-11-30", at_least=44)
    assert p.evaluate("() => LandMap.current.parcels.landmap.loaded") == 44
    assert p.locator("svg.lm-chart polyline.cleared").count() == 1
    assert "2012-07" in p.locator("#warning").inner_text()
    assert page.errors == []


def test_pasting_codes_moves_them_together(page, live_engine):
    with live_engine.connect() as conn:
        codes = list(conn.execute(text("""
            SELECT p.code FROM parcel p JOIN acquisition_batch b ON b.id = p.batch_id
            WHERE b.name = '第二批' AND p.stage = 'not_started'
              AND NOT EXISTS (SELECT 1 FROM stage_change c WHERE c.parcel_id = p.id)
            ORDER BY p.code LIMIT 3""")).scalars())  # fmt: skip
    p = open_map(page, "/zones/C")
    p.locator(".lm-select-toggle").click()
    p.fill(".lm-paste", "\n".join(codes))
    p.locator(".lm-select-panel button", has_text="使用这些代码").click()
    p.locator(".lm-select-summary", has_text="已选: 3").wait_for()  # the server counts them
    form = p.locator(".lm-select-panel form.lm-form")
    form.locator("select[name=stage]").select_option("surveyed")
    form.locator("button[type=submit]").click()
    p.locator(".lm-select-panel .lm-ok").wait_for()
    with live_engine.connect() as conn:
        stages = conn.execute(text("SELECT DISTINCT stage FROM parcel WHERE code = ANY(:c)"),
                              {"c": codes}).scalars().all()  # fmt: skip
    assert stages == ["surveyed"]
    assert page.errors == []
