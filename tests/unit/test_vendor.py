import folium
import pytest

from landmap.maps.vendor import UnknownAsset, localize


def test_localize_points_folium_at_static_files():
    m = folium.Map(tiles=None)
    localize(m, lambda p: f"/static/{p}")
    html = m.get_root().render()
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert "cdn" not in html and "https://" not in html.replace("https://leafletjs.com", "")


def test_an_element_with_an_unvendored_asset_is_refused():
    from folium.plugins import MeasureControl

    m = folium.Map(tiles=None)
    MeasureControl().add_to(m)
    with pytest.raises(UnknownAsset, match="not vendored"):
        localize(m, lambda p: p)
