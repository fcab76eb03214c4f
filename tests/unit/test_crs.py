import pytest

from landmap.geo.crs import CRSError, decide, from_coordinates, gk_epsg


def test_degrees_are_cgcs2000_geographic():
    d = from_coordinates((110.4, 29.0, 110.6, 29.2), None)
    assert d.crs.to_epsg() == 4490 and "degrees" in d.reason


def test_zone_prefixed_eastings_pick_the_zone():
    d = from_coordinates((37453000, 3218000, 37458000, 3219000), None)
    assert d.crs.to_epsg() == 4525 and "zone prefix 37" in d.reason


def test_plain_eastings_need_a_configured_central_meridian():
    with pytest.raises(CRSError, match="choose its coordinate system"):
        from_coordinates((453000, 3218000, 458000, 3219000), None)
    assert from_coordinates((453000, 3218000, 458000, 3219000), 111).crs.to_epsg() == 4546


def test_gk_epsg_codes():
    assert gk_epsg(111) == 4546 and gk_epsg(75) == 4534
    with pytest.raises(CRSError):
        gk_epsg(110)


def test_srs_overrides_the_file():
    assert decide("EPSG:4525", "EPSG:4546", (0, 0, 1, 1), None).crs.to_epsg() == 4525
    with pytest.raises(CRSError, match="not a coordinate system landmap knows") as info:
        decide("EPSG:99999999", None, (0, 0, 1, 1), None)
    assert info.value.code == "crs_not_known"


# --- the edges of each guess ------------------------------------------------------------------


@pytest.mark.parametrize(
    "bounds",
    [(-180, -90, 180, 90), (0, 0, 0, 0), (110.4, 29.0, 110.6, 29.2), (-1, -1, 1, 1)],
)
def test_anything_within_plus_minus_180_90_is_degrees(bounds):
    assert from_coordinates(bounds, 111).crs.to_epsg() == 4490


@pytest.mark.parametrize(
    ("bounds", "epsg"),
    [
        ((25_400_000, 3_000_000, 25_600_000, 3_100_000), 4513),  # the first zone
        ((45_400_000, 1, 45_600_000, 9_999_999), 4533),  # the last zone, y at its limits
        ((37_000_000, 3_218_000, 37_999_999, 3_219_000), 4525),
    ],
)
def test_zone_prefixed_eastings_from_zone_25_to_45(bounds, epsg):
    d = from_coordinates(bounds, None)
    assert d.crs.to_epsg() == epsg and f"zone prefix {epsg - 4488}" in d.reason


@pytest.mark.parametrize(
    "bounds",
    [
        (24_400_000, 3_000_000, 24_600_000, 3_100_000),  # zone 24: not a Chinese zone
        (46_400_000, 3_000_000, 46_600_000, 3_100_000),  # zone 46
        (37_900_000, 3_000_000, 38_100_000, 3_100_000),  # straddles zones 37 and 38
        (37_400_000, 0, 37_600_000, 3_100_000),  # y at the equator
        (37_400_000, 3_000_000, 37_600_000, 10_000_000),  # y too far north
        (453_000, -5, 458_000, 3_219_000),  # 6 digits, y below the equator
        (99_999, 3_218_000, 458_000, 3_219_000),  # 5 digits
        (453_000, 3_218_000, 900_001, 3_219_000),
        (-181, 29, 110, 30),  # neither degrees nor metres of a zone
        (110, 29, 110.5, 91),
    ],
)
def test_coordinates_that_fit_no_chinese_crs_are_refused(bounds):
    with pytest.raises(CRSError, match="fit no known Chinese one: choose its coordinate system"):
        from_coordinates(bounds, 111)


@pytest.mark.parametrize(
    "bounds",
    [(100_000, 1, 900_000, 9_999_999), (453_000, 3_218_000, 458_000, 3_219_000)],
)
def test_six_digit_eastings_use_the_configured_central_meridian(bounds):
    d = from_coordinates(bounds, 114)
    assert d.crs.to_epsg() == 4547 and "central meridian 114°E" in d.reason


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_no_usable_coordinates(bad):
    with pytest.raises(CRSError, match="no usable coordinates"):
        from_coordinates((bad, 0, 1, 1), None)


def test_every_three_degree_meridian_and_nothing_else():
    assert [gk_epsg(cm) for cm in range(75, 136, 3)] == list(range(4534, 4555))
    for cm in (72, 74, 76, 112, 136, 138):
        with pytest.raises(CRSError, match="not a 3-degree central meridian"):
            gk_epsg(cm)


# --- the file's own CRS ---------------------------------------------------------------------


def test_an_esri_gauss_kruger_prj_is_recognised_as_its_epsg_code():
    from pyproj import CRS

    esri = CRS.from_epsg(4546).to_wkt("WKT1_ESRI")
    assert "Gauss_Kruger" in esri
    d = decide(None, esri, (0, 0, 1, 1), None)
    assert d.crs.to_epsg() == 4546 and d.label == "EPSG:4546"
    assert d.reason == f"from the file ({d.crs.name})"


def test_the_file_wins_over_the_coordinates_and_the_user_over_the_file():
    assert decide(None, "EPSG:4490", (37e6, 3e6, 37.1e6, 3.1e6), None).crs.to_epsg() == 4490
    d = decide(" EPSG:4525 ", "EPSG:4546", (0, 0, 1, 1), None)
    assert d.crs.to_epsg() == 4525 and d.reason == "chosen by the user"
    assert decide(None, None, (110.4, 29.0, 110.6, 29.2), None).crs.to_epsg() == 4490


def test_an_unreadable_prj_is_refused():
    with pytest.raises(CRSError, match="the file's coordinate system cannot be read"):
        decide(None, "PROJCS[nonsense", (0, 0, 1, 1), None)


def test_a_crs_without_an_epsg_code_is_kept_and_named():
    proj = "+proj=tmerc +lon_0=111.5 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
    d = decide(None, proj, (0, 0, 1, 1), None)
    assert d.crs.to_epsg(min_confidence=70) is None
    assert d.label == d.crs.name and not d.label.startswith("EPSG")


# --- reprojection and the region ------------------------------------------------------------


def test_reprojection_into_the_storage_crs_and_the_region():
    import numpy as np
    import shapely
    from pyproj import CRS

    from landmap.geo.crs import Reprojector, region_in

    same = Reprojector(CRS.from_epsg(4546), 4546)
    geoms = np.array([shapely.Point(456900, 3217700)])
    assert same.identity and same(geoms) is geoms
    to_gk = Reprojector(CRS.from_epsg(4490), 4546)
    (p,) = to_gk(np.array([shapely.Point(111, 29)]))
    assert not to_gk.identity
    assert p.x == pytest.approx(500_000, abs=0.01)  # on the central meridian
    assert 3_200_000 < p.y < 3_220_000
    region = region_in(4546, (110.0, 28.5, 112.0, 29.5))
    assert region.contains(p) and not region.contains(shapely.Point(700_000, p.y))


@pytest.mark.parametrize(
    "bounds",
    [(170, 29, 180.5, 30), (110, -90.5, 111, 0), (-180.5, 29, 110, 30), (110, 29, 111, 90.5)],
)
def test_just_past_the_degree_range_is_not_degrees(bounds):
    with pytest.raises(CRSError, match="fit no known Chinese one"):
        from_coordinates(bounds, 111)


def test_a_zone_is_read_from_the_millions_of_both_edges():
    # 45 000 010 is zone 45 (a division by 1 000 001 would make it 44)
    assert from_coordinates((45_000_000, 3e6, 45_000_010, 3.1e6), None).crs.to_epsg() == 4533


def test_a_single_point_is_enough_to_tell():
    assert from_coordinates((453_000, 3_218_000, 453_000, 3_218_000), 111).crs.to_epsg() == 4546
    assert from_coordinates((37_453_000, 3e6, 37_453_000, 3e6), None).crs.to_epsg() == 4525


def test_what_each_guess_and_refusal_says():
    assert from_coordinates((110, 29, 111, 30), None).reason == (
        "no .prj; the coordinates are degrees (CGCS2000 assumed)"
    )
    assert from_coordinates((37_453_000, 3e6, 37_458_000, 3.1e6), None).reason == (
        "no .prj; 8-digit eastings carry zone prefix 37 (CGCS2000 3-degree Gauss-Krüger "
        "assumed; choose the coordinate system for Xian 1980 or Beijing 1954)"
    )
    with pytest.raises(CRSError) as info:
        from_coordinates((453_000, 3_218_000, 458_000, 3_219_000), None)
    assert info.value.code == "crs_not_stated"
    assert str(info.value) == (
        "the file does not say its coordinate system, and its 6-digit eastings carry no zone "
        "prefix, so the central meridian is unknown: choose its coordinate system (for "
        "example CGCS2000 3-degree Gauss-Krüger, central meridian 111°E, EPSG:4546)"
    )
    assert info.value.render("zh_CN") == (
        "文件未注明坐标系，且 6 位横坐标不带带号，无法确定中央经线：请选择其坐标系（例如 "
        "2000国家大地坐标系 3度带高斯-克吕格投影，中央经线 111°E，EPSG:4546）"
    )
    with pytest.raises(CRSError) as info:
        from_coordinates((1_453_000, 3_218_000, 1_458_000, 3_219_000), None)
    assert str(info.value) == (
        "the file does not say its coordinate system and its coordinates (x 1453000..1458000, "
        "y 3218000..3219000) fit no known Chinese one: choose its coordinate system"
    )
    assert "请选择其坐标系" in info.value.render("zh_CN")
    with pytest.raises(CRSError) as info:
        from_coordinates((float("nan"),) * 4, None)
    assert str(info.value) == (
        "the file has no usable coordinates to tell its coordinate system from: choose its "
        "coordinate system"
    )


@pytest.mark.parametrize("refusal", ["crs_not_stated", "crs_no_fit", "crs_no_coordinates"])
def test_no_refusal_names_an_option_or_a_setting(refusal):
    bounds = {
        "crs_not_stated": (453_000, 3_218_000, 458_000, 3_219_000),
        "crs_no_fit": (1_453_000, 3_218_000, 1_458_000, 3_219_000),
        "crs_no_coordinates": (float("nan"),) * 4,
    }[refusal]
    with pytest.raises(CRSError) as info:
        from_coordinates(bounds, None)
    assert info.value.code == refusal
    for shown in (info.value.render("zh_CN"), info.value.render("en")):
        assert "--" not in shown and "LANDMAP_" not in shown


def test_the_choices_offered_are_the_zones_usual_systems():
    from landmap.geo.crs import choices, parse_epsg, usual_central_meridian

    assert usual_central_meridian((110.0, 28.8, 111.0, 29.5)) == 111
    offered = {c.value: c.label for c in choices(111)}
    for epsg in (4545, 4546, 4547, 4524, 4525, 4526, 2382, 2361, 2434, 2413):
        assert f"EPSG:{epsg}" in offered
    for value, label in offered.items():  # each label says the system its code is
        from pyproj import CRS

        name = CRS.from_user_input(value).name
        assert ("CM" in name) == ("central meridian" in label), (value, label)
        assert name.split(" /")[0] in label, (value, name, label)
    assert "2000国家大地坐标系" in offered["EPSG:4546"].render("zh_CN")
    assert "1980西安坐标系" in offered["EPSG:2382"].render("zh_CN")
    assert parse_epsg("4546").to_epsg() == 4546 and parse_epsg("epsg:2382").to_epsg() == 2382
    for bad in ("+proj=longlat", "EPSG:45a6", ""):
        with pytest.raises(CRSError) as info:
            parse_epsg(bad)
        assert info.value.code == "crs_choice_not_epsg"
        assert "坐标系" in info.value.render("zh_CN")


def test_a_prj_is_replaced_by_its_epsg_definition():
    """An ESRI .prj is stored and reprojected as the EPSG CRS it matches, named as EPSG names
    it: the same CRS as the storage one, so nothing is reprojected for nothing."""
    from pyproj import CRS

    from landmap.geo.crs import Reprojector

    d = decide(None, CRS.from_epsg(4546).to_wkt("WKT1_ESRI"), (0, 0, 1, 1), None)
    assert d.crs == CRS.from_epsg(4546)
    assert d.reason == "from the file (CGCS2000 / 3-degree Gauss-Kruger CM 111E)"
    assert Reprojector(d.crs, 4546).identity
