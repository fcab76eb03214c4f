"""The parcel popup's 供地/建设 section, in headless Chromium: an officer records a supply and a
动工 through its forms and sees them in the popup; a viewer sees the section without forms."""

import datetime as dt

import pytest
from conftest import PageWatch, signed_in_state
from sqlalchemy import text
from sqlalchemy.orm import Session
from test_map import click_parcel, open_map

from landmap.domain import Stage, today
from landmap.services import acquisition, enterprises
from landmap.services.acquisition import Move

pytestmark = pytest.mark.browser
LAND_USER = "浏览器供地测试公司"


@pytest.fixture
def cleared_code(live_engine):
    """A zone-C parcel no other test touches, cleared (整理到位) on 2011-12-01, and a land user."""
    with Session(live_engine) as session:
        code = session.execute(
            text("""
            SELECT p.code FROM parcel p JOIN acquisition_batch b ON b.id = p.batch_id
            WHERE b.name = '第二批' AND p.stage = 'not_started'
              AND NOT EXISTS (SELECT 1 FROM stage_change c WHERE c.parcel_id = p.id)
              AND lm_supply_in_force(p.id, NULL) IS NULL
            ORDER BY p.code OFFSET 3 LIMIT 1""")
        ).scalar_one()
        acquisition.move(session, [code], Move(Stage.CLEARED, dt.date(2011, 12, 1)), "test")
        enterprises.ensure_enterprise(session, LAND_USER)
        session.commit()
    return code


def signed_in_page(browser, live_server, account):
    state = signed_in_state(browser, live_server, account)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, storage_state=state)
    return context, PageWatch(context.new_page(), live_server)


def test_an_officer_records_a_supply_and_a_start_in_the_popup(
    browser, live_server, live_accounts, cleared_code
):
    context, watch = signed_in_page(browser, live_server, live_accounts["officer"])
    try:
        p = open_map(watch, "/zones/C")
        popup = click_parcel(p, cleared_code)
        assert "未供地" in popup.locator(".lm-supply").inner_text()
        popup.locator("summary", has_text="登记供地").click()
        form = popup.locator("form.lm-supply-form")
        form.locator("select[name=method]").select_option("transfer")
        form.locator("select[name=way]").select_option("listing")
        form.locator("input[name=contract_no]").fill("浏览器〔2026〕1号")
        form.locator("input[name=enterprise]").fill(LAND_USER)
        form.locator("input[name=price_wan]").fill("860")
        start = today() + dt.timedelta(days=30)
        form.locator("input[name=start_due]").fill(start.isoformat())
        end = today() + dt.timedelta(days=400)
        form.locator("input[name=completion_due]").fill(end.isoformat())
        form.locator("button[type=submit]").click()
        shown = p.locator(".leaflet-popup-content", has=p.locator(".lm-supply-method"))
        shown.wait_for()
        facts = shown.locator(".lm-supply-facts").inner_text()
        assert "出让 · 挂牌" in facts and "浏览器〔2026〕1号" in facts and LAND_USER in facts
        assert start.isoformat() in facts and "860" in facts
        shown.locator("summary", has_text="登记建设事项").click()
        event = shown.locator("form.lm-construction-form")
        event.locator("select[name=event]").select_option("started")
        event.locator("input[name=note]").fill("举行开工仪式")
        event.locator("button[type=submit]").click()
        started = p.locator(".leaflet-popup-content", has=p.locator(".lm-construction-last"))
        started.wait_for()
        assert "动工" in started.locator(".lm-construction-last").inner_text()
        assert "举行开工仪式" in started.locator(".lm-construction-last").inner_text()
        assert watch.errors == [] and watch.foreign_requests() == []
    finally:
        context.close()


def test_a_viewer_sees_the_section_without_forms(browser, live_server, live_accounts):
    context, watch = signed_in_page(browser, live_server, live_accounts["viewer"])
    try:
        p = open_map(watch, "/zones/C")
        code = p.evaluate("() => Object.keys(LandMap.current.parcels.landmap.seen)[0]")
        popup = click_parcel(p, code)
        popup.locator(".lm-supply").wait_for()
        assert popup.locator("form.lm-supply-form").count() == 0
        assert popup.locator("form.lm-construction-form").count() == 0
        assert watch.errors == []
    finally:
        context.close()
