import pytest

from landmap.geo.crs import CRSError, decide, from_coordinates, gk_epsg


def test_degrees_are_cgcs2000_geographic():
    d = from_coordinates((110.4, 29.0, 110.6, 29.2), None)
    assert d.crs.to_epsg() == 4490 and "degrees" in d.reason


def test_zone_prefixed_eastings_pick_the_zone():
    d = from_coordinates((37453000, 3218000, 37458000, 3219000), None)
    assert d.crs.to_epsg() == 4525 and "zone prefix 37" in d.reason


def test_plain_eastings_need_a_configured_central_meridian():
    with pytest.raises(CRSError, match="--srs"):
        from_coordinates((453000, 3218000, 458000, 3219000), None)
    assert from_coordinates((453000, 3218000, 458000, 3219000), 111).crs.to_epsg() == 4546


def test_gk_epsg_codes():
    assert gk_epsg(111) == 4546 and gk_epsg(75) == 4534
    with pytest.raises(CRSError):
        gk_epsg(110)


def test_srs_overrides_the_file():
    assert decide("EPSG:4525", "EPSG:4546", (0, 0, 1, 1), None).crs.to_epsg() == 4525
    with pytest.raises(CRSError, match="--srs"):
        decide("EPSG:99999999", None, (0, 0, 1, 1), None)
