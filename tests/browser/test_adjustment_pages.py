"""Zone drafts in headless Chromium: the editor saves a draft, the compare page shows it."""

import pytest

pytestmark = pytest.mark.browser


def test_edit_a_copy_of_the_boundary_save_it_and_compare(page):
    p = page.page
    p.goto(page.base + "/zones/B/drafts")
    p.wait_for_function("() => window.LandMap && LandMap.editor && "
                        "LandMap.editor.group.getLayers().length > 0")  # fmt: skip
    # move the boundary's first vertex 0.002 degrees east, as dragging it would
    p.evaluate("""() => {
        const layer = LandMap.editor.group.getLayers()[0];
        const ring = layer.getLatLngs()[0];
        ring[1] = L.latLng(ring[1].lat, ring[1].lng + 0.002);
        layer.setLatLngs([ring]);
    }""")
    p.fill(".lm-draft-panel textarea", "东侧边界外扩试算")
    p.click(".lm-draft-panel button")
    p.wait_for_url("**/zones/B/drafts/*")
    assert p.locator("#figures").count() == 1
    added = float(p.locator("#added").inner_text())
    assert added > 0
    p.wait_for_function(
        "() => document.querySelectorAll('.folium-map').length === 2 && "
        "LandMap.current.parcels.landmap.loaded > 100 && "
        "document.querySelectorAll('path.leaflet-interactive').length > 2"
    )
    assert page.errors == [] and page.foreign_requests() == []
