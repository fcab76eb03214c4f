"""The 导出 buttons in headless Chromium: the map's export control downloads the parcels the
page shows, the selection tool's exports exactly the selected codes; the files open with GDAL
and hold as many features as the API gives."""

import pytest
from test_map import open_map

from landmap.geo.gdal import pyogrio

pytestmark = pytest.mark.browser


def api_codes(p, query):
    resp = p.context.request.get(p.url.split("/zones")[0] + f"/api/parcels?{query}&limit=20000")
    assert resp.ok
    return sorted(f["properties"]["code"] for f in resp.json()["features"])


def download(p, link, tmp_path):
    with p.expect_download() as info:
        link.click()
    got = info.value
    assert got.failure() is None
    path = tmp_path / got.suggested_filename
    got.save_as(path)
    return path, got.url


@pytest.mark.parametrize(("fmt", "name"), [("gpkg", "GeoPackage"), ("zip", "Shapefile")])
def test_the_map_export_downloads_the_zone_shown(page, tmp_path, fmt, name):
    p = open_map(page, "/zones/C")
    control = p.locator(".lm-export")
    assert control.locator(".lm-export-toggle").inner_text() == "导出"
    control.locator(".lm-export-toggle").click()
    link = control.locator(f"a[data-format={fmt}]")
    assert name in link.inner_text()
    path, url = download(p, link, tmp_path)
    assert "zone=C" in url and path.name == f"parcels.{fmt}"
    frame = pyogrio().read_dataframe(path, encoding="GBK" if fmt == "zip" else None)
    assert sorted(frame.ZDDM) == api_codes(p, "zone=C")
    assert page.errors == []


def test_the_selection_exports_exactly_the_selected_codes(page, tmp_path):
    p = open_map(page, "/zones/C")
    codes = api_codes(p, "zone=C")[3:7]
    p.locator(".lm-select-toggle").click()
    nothing = p.locator(".lm-select-export a[data-format=gpkg]")
    nothing.click()  # nothing selected yet: said, nothing downloaded
    p.locator(".lm-select-summary", has_text="请先选择宗地").wait_for()
    p.fill(".lm-paste", "\n".join(codes))
    p.locator(".lm-select-panel button", has_text="使用这些代码").click()
    p.locator(".lm-select-summary", has_text="已选: 4").wait_for()
    path, url = download(p, p.locator(".lm-select-export a[data-format=gpkg]"), tmp_path)
    assert "codes=" in url
    assert sorted(pyogrio().read_dataframe(path).ZDDM) == codes
    assert page.errors == []


def test_a_selection_larger_than_an_export_takes_is_said_and_not_exported(page):
    p = open_map(page, "/zones/C")
    downloads = []
    p.on("download", lambda d: downloads.append(d))
    p.evaluate("""() => {
        const node = document.getElementById('lm-export-options');
        const ex = JSON.parse(node.getAttribute('data-options'));
        ex.maxCodes = 3;  // the demo has fewer parcels than MAX_CODES
        node.setAttribute('data-options', JSON.stringify(ex));
    }""")
    p.locator(".lm-select-toggle").click()
    p.fill(".lm-paste", "\n".join(api_codes(p, "zone=C")[:4]))
    p.locator(".lm-select-panel button", has_text="使用这些代码").click()
    p.locator(".lm-select-summary", has_text="已选: 4").wait_for()
    p.locator(".lm-select-export a[data-format=zip]").click()
    p.locator(".lm-select-summary", has_text="已选 4 宗；一次至多导出").wait_for()
    assert downloads == [] and page.errors == []
