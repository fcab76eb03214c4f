"""The compensation screens in headless Chromium: a parcel's popup lists its households (the
head's name shown as text, the status in the server's label and colour) and links to the
project's household list, which shows the household; the 补偿 theme on the main map is off
until switched on, then fills the parcel in its status's colour with the legend, and its popup
names the status. The household is made through the API of the live server."""

import json
import urllib.request

import pytest
import shapely
from sqlalchemy import text
from test_map import CLICK_POINT, click_parcel, open_map

from landmap.domain import HouseholdStatus, today
from landmap.services.personal import _CHECK, _WEIGHTS

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>浏览器户主"
PART_PAID = HouseholdStatus.PART_PAID.colour.lower()
FILLS = """(fill) => Array.from(document.querySelectorAll('.leaflet-overlay-pane path'))
    .filter(p => (p.getAttribute('fill') || '').toLowerCase() === fill).length"""


def _api(base: str, token: str, path: str, body=None):
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request) as answer:  # an error status raises
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def part_paid(live_server, live_engine, live_accounts) -> dict:
    """A household signed and part paid on a zone-C parcel of a batch that has none (committed
    in the live schema: payments are append-only)."""
    token = live_accounts["admin"]["token"]
    with live_engine.connect() as conn:
        code, project, batch = conn.execute(
            text("""SELECT p.code, p.project_id, p.batch_id FROM parcel p
                    JOIN zone z ON z.id = p.zone_id
                    WHERE z.code = 'C' AND p.batch_id IS NOT NULL AND p.retired_on IS NULL
                      AND NOT EXISTS (SELECT 1 FROM household_parcel hp
                                      WHERE hp.parcel_id = p.id)
                    ORDER BY p.code DESC LIMIT 1""")
        ).one()
    day = today().isoformat()
    if not _api(live_server, token, f"/api/compensation/standards?date={day}")["standards"]:
        standard = {"year": today().year, "effective_from": day,
                    "items": [{"kind": "house", "class": "brick_concrete", "rate_yuan": 850},
                              {"kind": "relocation", "rate_yuan": 3000}]}  # fmt: skip
        _api(live_server, token, "/api/compensation/standards", standard)
    base = "43080219750315777"  # no other test's (one ID number, one household)
    number = base + _CHECK[sum(int(c) * w for c, w in zip(base, _WEIGHTS, strict=True)) % 11]
    body = {"head": HOSTILE, "id_number": number, "members": 5, "resettlement": "money",
            "houses": [{"structure": "brick_concrete", "area_m2": 120}]}  # fmt: skip
    hid = _api(live_server, token, f"/api/parcels/{code}/households", body)["id"]
    total = _api(live_server, token, f"/api/households/{hid}/compensation")["total_yuan"]
    agreement = {"number": "浏览器-1", "date": day, "amount_yuan": total}
    _api(live_server, token, f"/api/households/{hid}/agreement", agreement)
    payment = {"date": day, "amount_yuan": 1000, "voucher": "PZ-浏览器-1"}
    _api(live_server, token, f"/api/households/{hid}/payments", payment)
    return {"code": code, "project": project, "batch": batch, "id": hid, "number": number}


def test_the_popup_lists_the_households_and_the_theme_colours_the_parcel(page, part_paid):
    code = part_paid["code"]
    p = open_map(page, "/")
    popup = click_parcel(p, code)
    row = popup.locator(".lm-compensation .lm-household")
    row.wait_for()
    assert popup.locator(".lm-compensation .lm-section").inner_text() == "补偿安置"
    assert row.count() == 1 and row.locator(".lm-household-head").inner_text() == HOSTILE
    assert popup.locator("img").count() == 0
    status = row.locator(".lm-household-status")
    assert status.inner_text().strip() == "部分兑付"
    swatch = status.locator(".lm-swatch").evaluate("(e) => getComputedStyle(e).backgroundColor")
    r, g, b = (int(PART_PAID[i : i + 2], 16) for i in (1, 3, 5))
    assert swatch == f"rgb({r}, {g}, {b})"
    assert row.locator(".lm-household-paid").inner_text() == "1,000.00"

    # the 补偿 theme: off until switched on, then the parcel in its status's colour
    label = p.locator(".leaflet-control-layers-overlays label", has_text="补偿")
    assert label.count() == 1 and p.locator(".lm-legend-compensation").count() == 0
    p.keyboard.press("Escape")
    label.locator("input").check()
    legend = p.locator(".lm-legend-compensation")
    legend.wait_for()
    assert legend.locator("tr").count() == len(HouseholdStatus)
    assert all(s.label_zh in legend.inner_text() for s in HouseholdStatus)
    p.wait_for_function(f"() => ({FILLS})('{PART_PAID}') > 0")
    # a click on the parcel now lands on the theme's shape: its popup names the status
    feature = p.evaluate(
        "(c) => fetch('/api/parcels/' + encodeURIComponent(c)).then(r => r.json())", code
    )
    inside = shapely.geometry.shape(feature["geometry"]).representative_point()
    point = p.evaluate(CLICK_POINT, [inside.y, inside.x])
    p.mouse.click(point["x"], point["y"])
    theme = p.locator(".lm-theme-popup", has_text=code)
    theme.wait_for()
    assert "部分兑付" in theme.inner_text()

    # the popup's link: the project's household list at the batch, the household listed
    p.keyboard.press("Escape")
    label.locator("input").uncheck()
    p.wait_for_function("() => !document.querySelector('.lm-legend-compensation')")
    popup = click_parcel(p, code)
    link = popup.locator("a.lm-households-page")
    link.wait_for()
    expected = f"/projects/{part_paid['project']}/compensation?batch={part_paid['batch']}"
    assert link.get_attribute("href") == expected
    link.click()
    p.wait_for_url(page.base + expected)
    listed = p.locator(f"#households tr[data-id='{part_paid['id']}']")
    assert listed.locator(".lm-household-head").inner_text() == HOSTILE
    assert listed.locator(".lm-household-status").inner_text().strip() == "部分兑付"
    assert part_paid["number"] not in p.content()  # the ID number masked
    assert page.errors == [] and page.foreign_requests() == []
