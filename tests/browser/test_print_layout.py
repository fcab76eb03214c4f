"""Maps that print, in headless Chromium: the 打印 button's dialog lays a map page out on the
paper chosen (title, the map filling the sheet with its legend and scale bar, the stated
scale, a north arrow, the CRS, the maker and the date; no search, zoom, tools or layer list)
and prints one page; the printable check of a draft carries both maps before its tables."""

import io
import math
import re

import pytest
from pypdf import PdfReader
from test_map import open_map

from landmap.domain import today

pytestmark = pytest.mark.browser

# window.print stubbed: the test records the call instead of a print dialog opening
STUB_PRINT = "window.__printed = 0; window.print = () => { window.__printed += 1; };"
PT_PER_MM = 72 / 25.4
PAPER_MM = {"a4": (210, 297), "a3": (297, 420)}
HIDDEN = [
    ".lm-search",
    ".leaflet-control-zoom",
    ".leaflet-control-layers",
    ".lm-measure",
    ".lm-select",
    ".lm-coords",
    ".lm-print-control",
    ".lm-print-panel",
    ".lm-nav",
]
BOX = "(s) => document.querySelector(s).getBoundingClientRect().toJSON()"


def print_from_dialog(watch, path, paper, orientation):
    p = watch.page
    p.add_init_script(STUB_PRINT)
    open_map(watch, path)
    p.locator(".lm-print-toggle", has_text="打印").click()
    panel = p.locator(".lm-print-panel")
    assert panel.is_visible()
    title = panel.locator("input[name=title]").input_value()
    p.select_option(".lm-print-panel select[name=paper]", paper)
    p.select_option(".lm-print-panel select[name=orientation]", orientation)
    panel.locator(".lm-print-go").click()
    p.wait_for_function("() => window.__printed === 1")
    return p, title


def pdf_pages(pdf: bytes) -> list:
    assert pdf.startswith(b"%PDF")
    return PdfReader(io.BytesIO(pdf)).pages


def mercator_scale(p) -> float:
    """1:N of the first map on paper at 96 dpi, from Web Mercator's ground resolution at its
    centre and zoom (independently of the layout's own reckoning)."""
    lat, zoom = p.evaluate(
        "() => { const m = LandMap.printing.maps[0].map; return [m.getCenter().lat, m.getZoom()]; }"
    )
    metres_per_px = 2 * math.pi * 6378137 * math.cos(math.radians(lat)) / 256 / 2**zoom
    return metres_per_px / (0.0254 / 96)


@pytest.mark.parametrize(
    ("path", "paper", "orientation", "subject"),
    [("/zones/C", "a3", "landscape", None), ("/", "a4", "portrait", "全部园区")],
)
def test_print_a_map_page_on_the_paper_chosen(page, live_settings, path, paper, orientation,
                                              subject):  # fmt: skip
    p, title = print_from_dialog(page, path, paper, orientation)
    if subject is None:  # the zone's own name
        zones = p.evaluate("() => fetch('/api/zones').then(r => r.json())")
        subject = next(f for f in zones["features"] if f["properties"]["code"] == "C")
        subject = subject["properties"]["name"]
    day = today().isoformat()
    assert subject in title and "征地拆迁进度" in title and day in title
    p.emulate_media(media="print")
    for selector in HIDDEN:
        shown = p.locator(selector)
        assert shown.count() == 0 or all(not s.is_visible() for s in shown.all()), selector
    assert p.locator(".lm-print-title").inner_text() == title
    legend = p.locator(".lm-print-sheet .lm-legend")
    assert legend.is_visible() and "亩" in legend.inner_text() and "整理到位" in legend.inner_text()
    assert p.locator(".lm-print-sheet .leaflet-control-scale").is_visible()
    assert p.locator(".lm-print-sheet .lm-print-north").is_visible()
    scale = p.locator(".lm-print-scale").inner_text()
    stated = int(re.search(r"1:([\d,]+)", scale).group(1).replace(",", ""))
    assert stated == pytest.approx(mercator_scale(p), rel=0.01)
    crs = p.locator(".lm-print-crs").inner_text()
    assert "CGCS2000 / 3度带高斯-克吕格 CM 111E" in crs and "EPSG:4546" in crs
    assert live_settings.maker in p.locator(".lm-print-maker").inner_text()
    assert day in p.locator(".lm-print-date").inner_text()
    # the sheet is the paper's printable area; the map fills its width and most of its height
    width, height = PAPER_MM[paper] if orientation == "portrait" else PAPER_MM[paper][::-1]
    sheet, frame = p.evaluate(BOX, ".lm-print-sheet"), p.evaluate(BOX, ".lm-print-slot")
    assert sheet["width"] / sheet["height"] == pytest.approx((width - 20) / (height - 22), rel=0.01)
    assert frame["width"] >= sheet["width"] - 8 and frame["height"] >= 0.8 * sheet["height"]
    container = p.evaluate(BOX, ".lm-print-slot > .folium-map")
    assert (container["width"], container["height"]) == (frame["width"], frame["height"])
    assert p.evaluate("() => LandMap.printing.maps[0].map.getSize().x") == round(frame["width"])
    # one page of that paper, as printed; printing over, the page is as it was
    pages = pdf_pages(p.pdf(format=paper.upper(), landscape=orientation == "landscape"))
    assert len(pages) == 1
    assert not p.evaluate("() => document.documentElement.className.includes('lm-print')")
    # printed again, on the paper the page's own @page names
    p.emulate_media(media="screen")
    p.locator(".lm-print-toggle").click()
    p.locator(".lm-print-go").click()
    p.wait_for_function("() => window.__printed === 2")
    own = pdf_pages(p.pdf(prefer_css_page_size=True))
    assert len(own) == 1
    box = own[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(
        (width * PT_PER_MM, height * PT_PER_MM), abs=1
    )
    assert page.errors == [] and page.foreign_requests() == []


def test_after_printing_the_page_is_as_it_was(page):
    p, _title = print_from_dialog(page, "/zones/C", "a4", "landscape")
    assert p.evaluate("() => document.documentElement.classList.contains('lm-printing')")
    p.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
    assert not p.evaluate("() => document.documentElement.className.includes('lm-print')")
    assert p.locator(".lm-zone-map > .folium-map").count() == 1
    assert p.locator(".lm-print-sheet").is_hidden() and p.locator(".lm-print-panel").is_hidden()
    assert p.locator(".lm-search").is_visible() and p.locator("#by-stage").is_visible()
    assert page.errors == []


def make_draft(p) -> int:
    """A draft of zone B (which the other suites leave alone) with its first vertex moved
    0.002 degrees east, saved through the API as the editor saves one."""
    return p.evaluate("""async () => {
        const zones = await (await fetch('/api/zones')).json();
        const b = zones.features.find(f => f.properties.code === 'B');
        const g = b.geometry.type === 'MultiPolygon' ? b.geometry.coordinates[0]
                                                     : b.geometry.coordinates;
        g[0][1][0] += 0.002;
        const token = document.querySelector('meta[name=csrf-token]').content;
        const r = await fetch('/api/zones/B/drafts', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
            body: JSON.stringify({geometry: {type: 'Polygon', coordinates: g},
                                  note: '打印核查', op: 'replace'})});
        return (await r.json()).id;
    }""")


def test_the_printable_check_of_a_draft_carries_both_maps_and_its_tables(page):
    p = page.page
    p.add_init_script(STUB_PRINT)
    p.goto(page.base + "/zones/B/drafts")
    draft_id = make_draft(p)
    p.goto(page.base + f"/zones/B/drafts/{draft_id}?print=1")
    p.wait_for_function(
        "() => window.LandMap && LandMap.printing && LandMap.printing.isActive() && "
        "document.querySelectorAll('.lm-print-slot > .folium-map').length === 2 && "
        "LandMap.current.parcels.landmap.loaded > 50"
    )
    p.emulate_media(media="print")
    slots = p.locator(".lm-print-slot")
    assert slots.count() == 2
    captions = p.locator(".lm-print-caption").all_inner_texts()
    assert captions == ["现行边界", "草案边界"]
    left, right = slots.nth(0), slots.nth(1)
    assert left.locator("path.leaflet-interactive").count() >= 1  # the current boundary
    assert left.locator("canvas.leaflet-tile").count() > 0  # the parcels
    # the draft's outline and what it adds or removes, drawn in their colours
    fills = right.locator("path.leaflet-interactive").evaluate_all(
        "ps => ps.map(p => p.getAttribute('fill'))"
    )
    assert "#66bb6a" in fills or "#ffa726" in fills
    strokes = right.locator("path.leaflet-interactive").evaluate_all(
        "ps => ps.map(p => p.getAttribute('stroke'))"
    )
    assert "#1565c0" in strokes  # the draft boundary
    legend = p.locator(".lm-print-legend").inner_text()
    assert "草案边界" in legend and "现行边界" in legend
    assert p.locator(".lm-print-title").inner_text().startswith("B")
    for selector in HIDDEN:
        shown = p.locator(selector)
        assert shown.count() == 0 or all(not s.is_visible() for s in shown.all()), selector
    assert p.locator(".lm-print-scale").inner_text().count("1:") == 1
    # the check's tables follow the maps
    assert p.locator("#figures").is_visible() and p.locator("#parcels_cut").is_visible()
    assert p.locator(".lm-compare").is_hidden()
    pages = pdf_pages(p.pdf(format="A4", landscape=True))
    assert len(pages) >= 2
    assert page.errors == [] and page.foreign_requests() == []
