"""The evaluation page in headless Chromium: a click on a figure marks its parcels on the map
in the server's "selected" style and lists them; a click on a listed code opens its popup."""

import pytest
from test_map import open_map

from landmap.maps.styles import PARCEL_STYLES

pytestmark = pytest.mark.browser

# the parcels are canvas tiles: a parcel's own style is what Leaflet.VectorGrid keeps for it
MARKED = """(fill) => Object.values(LandMap.current.parcels._overriddenStyles || {})
    .filter(s => (s.fillColor || '').toLowerCase() === fill).length"""


def test_a_figure_shows_its_parcels_on_the_map(page):
    p = open_map(page, "/evaluation?zone=B", at_least=20)
    selected = PARCEL_STYLES["selected"]["fillColor"].lower()
    assert p.evaluate(MARKED, selected) == 0
    figure = p.locator("#land_development_rate-numerator")
    codes = figure.get_attribute("data-codes").split()
    assert codes
    figure.click()
    listed = p.locator("#eval-selection .lm-eval-parcel")
    assert listed.count() == len(codes)
    assert listed.first.inner_text() == codes[0]
    assert p.evaluate(MARKED, selected) == len(codes)
    other = p.locator("#land_development_rate-denominator")  # every parcel: the marks move
    everyone = other.get_attribute("data-codes").split()
    assert len(everyone) > len(codes)
    other.click()
    assert p.evaluate(MARKED, selected) == len(everyone)
    first = listed.first.inner_text()
    assert first == everyone[0]
    listed.first.click()
    p.wait_for_selector(".leaflet-popup")
    assert first in p.locator(".leaflet-popup").inner_text()
    assert not page.errors, page.errors
