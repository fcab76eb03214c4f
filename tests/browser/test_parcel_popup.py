"""The parcel popup's edits, in headless Chromium: the project/batch it is in, and an
attribute correction with its reason."""

import pytest
from sqlalchemy import text
from test_map import click_parcel, open_map

pytestmark = pytest.mark.browser


@pytest.fixture
def code(live_engine):
    """A second-batch parcel the other browser tests leave alone."""
    with live_engine.connect() as conn:
        return conn.execute(
            text("""
            SELECT p.code FROM parcel p JOIN acquisition_batch b ON b.id = p.batch_id
            WHERE b.name = '第二批' AND p.stage = 'not_started'
            ORDER BY p.code OFFSET 10 LIMIT 1""")
        ).scalar_one()


def test_the_popup_shows_the_assignment_and_corrects_the_owner(page, live_engine, code):
    p = open_map(page, "/zones/C")
    popup = click_parcel(p, code)
    popup.locator("summary", has_text="项目与批次").click()
    project = popup.locator(".lm-assign-form select[name=project]")
    popup.locator(".lm-assign-form select[name=batch] option", has_text="第二批").wait_for(
        state="attached"
    )
    assert project.locator("option:checked").inner_text() != "无项目"
    assert (
        popup.locator(".lm-assign-form select[name=batch] option:checked").inner_text() == "第二批"
    )
    popup.locator("summary", has_text="更正属性").click()
    form = popup.locator(".lm-correct-form")
    form.locator("input[name=owner]").fill("浏览器测试公司")
    form.locator("button[type=submit]").click()  # no reason: the browser asks for one
    assert form.locator(".lm-ok").count() == 0
    form.locator("input[name=reason]").fill("证书有误")
    form.locator("button[type=submit]").click()
    corrected = p.locator(".leaflet-popup-content", has_text="浏览器测试公司")
    corrected.wait_for()
    with live_engine.connect() as conn:
        owner = conn.execute(
            text("SELECT owner FROM parcel WHERE code = :c"), {"c": code}
        ).scalar_one()
    assert owner == "浏览器测试公司"
    assert page.errors == [] and page.foreign_requests() == []
