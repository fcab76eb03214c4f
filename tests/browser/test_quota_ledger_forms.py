"""The quota ledger's forms in headless Chromium, signed in as an administrator: a grant is
recorded and shows in the balance, a bad amount is refused beside the form in Chinese, and an
entry is corrected from its row."""

import pytest

pytestmark = pytest.mark.browser

Y = 2039  # a year no other test of the live schema books


def granted(p) -> float:
    total = p.locator("#balance tr.fw-bold td").nth(1).inner_text()
    return float(total)


def test_record_refuse_and_correct_from_the_page(page):
    p = page.page
    p.goto(page.base + f"/quota?year={Y}")
    before = granted(p) if p.locator("#balance tr.fw-bold").count() else 0.0
    p.select_option("#entry-kind", "grant")
    p.fill("#entry-amount", "1.5")
    p.select_option("#entry-unit", "ha")
    p.fill("#entry-ref", "浏览器测试〔2039〕1号")
    p.click("#entry-form button[type=submit]")
    p.wait_for_url(f"**/quota?year={Y}#entries")
    assert "已入账：下达 22.50 亩" in p.locator("#quota-recorded").inner_text()
    assert granted(p) == pytest.approx(before + 22.5)

    p.fill("#entry-amount", "-2")
    p.fill("#entry-note", "负数")
    p.click("#entry-form button[type=submit]")
    assert p.locator("#entry-error").inner_text() == "面积须为正数"
    assert p.input_value("#entry-amount") == "-2" and p.input_value("#entry-note") == "负数"
    assert granted(p) == pytest.approx(before + 22.5)

    row = p.locator("#entries tr", has_text="浏览器测试〔2039〕1号")
    row.locator("a.lm-correct").click()
    assert "下达 22.50 亩" in p.locator("#correction-entry").inner_text()
    p.fill("#correction-note", "录入有误")
    p.click("#correction button[type=submit]")
    p.wait_for_url(f"**/quota?year={Y}#entries")
    assert granted(p) == pytest.approx(before)
    assert row.locator("a.lm-correct").count() == 0
    # the refused form answers 400 (Chromium logs it); nothing else went wrong
    assert [e for e in page.errors if "status of 400" not in e] == []
    assert len(page.errors) <= 1 and page.foreign_requests() == []
