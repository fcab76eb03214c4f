"""The zone map built from plain data: the options each script gets, what is drawn and what
is only offered, and where every asset comes from. No app, no database."""

from __future__ import annotations

import json
import re

import pytest

from landmap.domain import Stage
from landmap.geo.units import M2_PER_MU
from landmap.landuse import CLASSES
from landmap.maps.builder import (
    MapSpec,
    build_map,
    farmland_overlay,
    landuse_overlay,
    parcel_layer_options,
    render_parts,
)
from landmap.maps.styles import LANDUSE_CLASS_COLORS, MEASURE_STYLE, QUOTA_COLORS, STAGE_COLORS
from landmap.maps.tools import DRAW_LOCAL, LANDUSE_CLASS_NAMES, grid_crs

LABELS = {
    k: k.upper()
    for k in (
        "zones",
        "parcels",
        "basemap",
        "legend_title",
        "quota_legend_title",
        "total",
        "commercial_plot",
        "dispute_legend",
        "search_placeholder",
        "no_hits",
    )
}


def spec(**kw) -> MapSpec:
    base = dict(
        parcels_url="/api/parcels",
        tiles_url="/tiles/parcels",
        zones_url="/api/zones",
        search_url="/api/search",
        static_url=lambda p: f"/static/{p}",
        labels=LABELS,
        locale="zh_CN",
    )
    return MapSpec(**{**base, **kw})


def parts(**kw) -> dict[str, str]:
    return render_parts(build_map(spec(**kw)))


def calls(script: str, name: str) -> list[dict]:
    """The options object passed to each LandMap.<name>(...) call in the script."""
    found = []
    for m in re.finditer(rf"LandMap\.{name}\(", script):
        start = script.index("{", m.end())
        found.append(json.JSONDecoder().raw_decode(script, start)[0])
    return found


def one(script: str, name: str) -> dict:
    (options,) = calls(script, name)
    return options


# --- the parcel layer ------------------------------------------------------------------------


def test_the_parcel_layer_gets_urls_colours_labels_and_the_workflow():
    s = parts(
        parcel_params={"zone": "C"},
        min_zoom_parcels=14,
        limit=300,
        urls={"manyUrl": "/api/stage-changes"},
    )["script"]
    o = one(s, "parcelLayer")
    assert (o["url"], o["tileUrl"], o["params"]) == (
        "/api/parcels",
        "/tiles/parcels",
        {"zone": "C"},
    )
    assert o["colors"] == {st.value: STAGE_COLORS[st] for st in Stage}
    assert o["colors"]["cleared"] == "#1a9850" and o["colors"]["state_owned"] == "#bdbdbd"
    assert o["stageLabels"]["cleared"] == "整理到位"
    assert o["transferLabels"] == {"planned": "拟出让", "listed": "挂牌中", "transferred": "已出让"}
    assert (o["minZoom"], o["limit"], o["styleBy"], o["asOf"]) == (14, 300, "stage", None)
    assert o["quotaColors"] == QUOTA_COLORS and o["labels"] == LABELS
    assert o["manyUrl"] == "/api/stage-changes"
    assert o["edit"]["workflow"] == [st.value for st in Stage.workflow()]


def test_labels_follow_the_locale():
    o = parcel_layer_options(spec(locale="en"), LABELS)
    assert o["stageLabels"]["cleared"] == "Cleared and handed over"
    assert o["transferLabels"]["listed"] == "Listed"


@pytest.mark.parametrize(
    ("editable", "as_of", "enabled"),
    [
        (True, None, True),
        (True, "2011-11-30", False),
        (False, None, False),
        (False, "2011-11-30", False),
    ],
)
def test_stages_are_editable_only_today_and_only_for_who_may(editable, as_of, enabled):
    p = parts(editable=editable, as_of=as_of, today="2026-11-29", csrf_token="tok", can_audit=True)
    edit = one(p["script"], "parcelLayer")["edit"]
    assert edit == {
        **edit,
        "enabled": enabled,
        "today": "2026-11-29",
        "csrf": "tok",
        "canAudit": True,
    }
    # the selection tool (draw a polygon, move the parcels in it) comes with editing only;
    # Leaflet.draw itself is on every map (the measuring tool draws with it)
    assert len(calls(p["script"], "selection")) == int(enabled)
    assert "leaflet.draw.js" in p["header"]


# --- the legend ----------------------------------------------------------------------------


def test_the_stage_legend_lists_every_stage_in_order_with_the_servers_figures():
    figures = {"cleared": {"mu": 315.0, "parcels": 44}, "surveyed": {"mu": 12.34, "parcels": 2}}
    s = parts(
        mu_by_stage=figures,
        legend_total={"mu": 327.34, "parcels": 46},
        urls={"summaryUrl": "/api/stages/summary"},
        parcel_params={"project": 1},
        as_of="2011-11-30",
    )["script"]
    legend = one(s, "legend")
    assert [r["stage"] for r in legend["rows"]] == [st.value for st in Stage]
    rows = {r["stage"]: r for r in legend["rows"]}
    assert rows["cleared"] == {
        "stage": "cleared",
        "label": "整理到位",
        "color": "#1a9850",
        "mu": 315.0,
        "parcels": 44,
    }
    assert (rows["surveyed"]["mu"], rows["surveyed"]["parcels"]) == (12.34, 2)
    assert (rows["not_started"]["mu"], rows["not_started"]["parcels"]) == (0, 0)
    assert (legend["totalMu"], legend["totalParcels"]) == (327.34, 46)
    assert (legend["title"], legend["totalLabel"]) == ("LEGEND_TITLE", "TOTAL")
    assert legend["summaryUrl"] == "/api/stages/summary"
    assert legend["params"] == {"project": 1, "as_of": "2011-11-30"}
    assert (legend["commercialLabel"], legend["disputeLabel"]) == (
        "COMMERCIAL_PLOT",
        "DISPUTE_LEGEND",
    )


def test_the_quota_legend_has_its_own_rows_title_and_no_refresh():
    quota = [
        {"key": "reserved", "label": "已预留", "mu": 10.5, "parcels": 3},
        {"key": "consumed", "label": "已使用", "mu": 2.0, "parcels": 1},
    ]
    s = parts(style_by="quota", quota_legend=quota, urls={"summaryUrl": "/api/stages/summary"})[
        "script"
    ]
    legend = one(s, "legend")
    assert legend["title"] == "QUOTA_LEGEND_TITLE" and legend["summaryUrl"] is None
    assert legend["rows"] == [
        {
            "stage": "reserved",
            "label": "已预留",
            "color": QUOTA_COLORS["reserved"],
            "mu": 10.5,
            "parcels": 3,
        },
        {
            "stage": "consumed",
            "label": "已使用",
            "color": QUOTA_COLORS["consumed"],
            "mu": 2.0,
            "parcels": 1,
        },
    ]
    assert one(s, "parcelLayer")["styleBy"] == "quota"


# --- layers, basemap, bounds, search ------------------------------------------------------


def test_zones_and_parcels_are_drawn_and_overlays_only_offered():
    s = parts(
        active_zone="C",
        tile_overlays=[
            farmland_overlay("FARM", "/tiles/farmland"),
            landuse_overlay("USE", "/tiles/landuse"),
        ],
    )["script"]
    zones = one(s, "zoneLayer")
    assert (zones["url"], zones["active"]) == ("/api/zones", "C")
    overlays = calls(s, "tileOverlay")
    assert [o["layer"] for o in overlays] == ["farmland", "landuse"]
    assert overlays[1]["fillBy"] == "land_use_code" and overlays[1]["colors"] == (
        LANDUSE_CLASS_COLORS
    )
    names = dict(re.findall(r"var (\w+) = LandMap\.(\w+)\(", s))
    added = set(re.findall(r"(\w+)\.addTo\(", s))
    drawn = {names[v] for v in added if v in names}
    assert drawn == {"zoneLayer", "parcelLayer"}  # the overlays wait to be switched on
    control = s[s.index("overlays :") :]
    assert all(f'"{n}"' in control for n in ("ZONES", "PARCELS", "FARM", "USE"))


def test_a_basemap_only_when_one_is_configured():
    assert "L.tileLayer(" not in parts()["script"]
    s = parts(
        basemap_url="https://tiles.example/{z}/{x}/{y}.png", basemap_attribution="天地图 & example"
    )["script"]
    assert (
        '"https://tiles.example/{z}/{x}/{y}.png"' in s
        and '"attribution": "\\u5929\\u5730\\u56fe \\u0026 example"' in s
    )
    assert '"maxZoom": 19' in s and '"BASEMAP" :' in s


def test_bounds_are_lon_lat_and_fitted_as_lat_lon():
    s = parts(bounds=[110.5, 29.0, 110.6, 29.1])["script"]
    assert re.search(r"fitBounds\(\s*\[\[29\.0, 110\.5\], \[29\.1, 110\.6\]\]", s)
    assert "fitBounds" not in parts()["script"]


def test_the_centre_and_the_search_box():
    s = parts(center=(29.2, 110.7))["script"]
    assert "center: [29.2, 110.7]" in s
    assert one(s, "search") == {
        "url": "/api/search",
        "placeholder": "SEARCH_PLACEHOLDER",
        "noHits": "NO_HITS",
    }


def test_every_asset_is_a_local_static_file():
    p = parts(editable=True, basemap_url="")
    assets = re.findall(r'(?:src|href)="([^"]+)"', p["header"])
    assert assets and all(a.startswith("/static/") for a in assets), assets
    assert "/static/js/landmap.js" in assets
    assert "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js" in assets


def test_text_in_options_cannot_close_the_script():
    s = parts(active_zone="</script><script>alert(1)</script>")["script"]
    assert "</script>" not in s
    assert one(s, "zoneLayer")["active"] == "</script><script>alert(1)</script>"


# --- the tools every map has: measuring, coordinates, Leaflet.draw's texts, land use -------


def _leaves(tree: dict) -> list:
    return [x for v in tree.values() for x in (_leaves(v) if isinstance(v, dict) else [v])]


def test_every_map_has_the_measuring_tool_and_the_readout_told_the_grid():
    p = parts(grid_srid=4546)
    tools = one(p["script"], "tools")
    grid = tools["grid"]
    assert grid["code"] == "EPSG:4546"
    assert "CM 111E" in grid["name"]
    assert grid["proj4"].startswith("+proj=tmerc ")
    for part in ("+lon_0=111", "+k=1", "+x_0=500000", "+y_0=0", "+ellps=GRS80", "+units=m"):
        assert part in grid["proj4"].split() or part + " " in grid["proj4"] + " "
    assert tools["m2PerMu"] == M2_PER_MU and abs(tools["m2PerMu"] - 666.6667) < 1e-4
    assert tools["style"] == MEASURE_STYLE
    assert "/static/vendor/proj4/proj4.js" in p["header"]
    # the tools come before anything else that draws, so Leaflet.draw speaks Chinese first
    assert p["script"].index("LandMap.tools(") < p["script"].index("LandMap.parcelLayer(")


def test_the_grid_follows_the_storage_srid():
    assert "+lon_0=114" in one(parts(grid_srid=4547)["script"], "tools")["grid"]["proj4"]


TOOLTIP_START = {"zh_CN": "单击开始绘制图形。", "en": "Click to start drawing the shape."}


@pytest.mark.parametrize(("locale", "mu"), [("zh_CN", "亩"), ("en", "mu")])
def test_leaflet_draw_and_the_tools_speak_the_maps_language(locale, mu):
    tools = one(parts(locale=locale)["script"], "tools")
    local = tools["drawLocal"]
    assert local["draw"]["handlers"]["polygon"]["tooltip"]["start"] == TOOLTIP_START[locale]
    assert tools["labels"]["mu"] == mu
    # every string Leaflet.draw has is given, as a plain string
    assert len(_leaves(local)) == len(_leaves(DRAW_LOCAL)) and all(
        isinstance(t, str) and t for t in _leaves(local)
    )
    if locale == "zh_CN":
        assert all(re.search(r"[\u4e00-\u9fff]", t) for t in _leaves(local))
        assert all(re.search(r"[\u4e00-\u9fff]", t) for t in tools["labels"].values())


def test_the_land_use_overlay_has_a_legend_of_the_first_level_classes():
    zh = landuse_overlay("USE", "/tiles/landuse", "zh_CN")["legend"]
    assert [r["key"] for r in zh["rows"]] == [f"{n:02d}" for n in range(1, 13)]
    # the names are GB/T 21010's own, as landmap.landuse has them
    assert {r["key"]: r["label"] for r in zh["rows"]} == {
        c: CLASSES[c] for c in LANDUSE_CLASS_NAMES
    }
    assert all(r["color"] == LANDUSE_CLASS_COLORS[r["key"]] for r in zh["rows"])
    assert len({r["color"] for r in zh["rows"]}) == 12
    en = landuse_overlay("USE", "/tiles/landuse", "en")["legend"]
    assert en["rows"][0]["label"] == "Cultivated land" and "GB/T 21010" in en["title"]


def test_grid_crs_gives_the_proj4_of_pyproj():
    from pyproj import CRS, Transformer

    told = CRS.from_proj4(grid_crs(4546)["proj4"])
    t = Transformer.from_crs(CRS.from_epsg(4490), told, always_xy=True)
    ref = Transformer.from_crs(4490, 4546, always_xy=True)
    x, y = t.transform(110.53, 29.09)
    rx, ry = ref.transform(110.53, 29.09)
    assert abs(x - rx) < 1e-3 and abs(y - ry) < 1e-3


def test_both_sides_of_a_compare_map_have_the_tools():
    from landmap.maps.drafts import CompareSpec, compare_map

    empty = {"type": "FeatureCollection", "features": []}
    square = {
        "type": "Polygon",
        "coordinates": [[[110.5, 29], [110.6, 29], [110.6, 29.1], [110.5, 29]]],
    }
    compare = CompareSpec(left=[empty], draft=square, shapes=empty, cut=[], boundary_labels={})
    dm = compare_map(spec(locale="en", labels={**LABELS, "mu": "MU"}), compare)
    script = render_parts(dm)["script"]
    sides = calls(script, "tools")
    assert len(sides) == 2 and all(s["grid"]["code"] == "EPSG:4546" for s in sides)
    assert sides[0]["labels"]["mu"] == "mu"


def test_both_sides_of_a_compare_map_offer_land_use_and_farmland():
    from landmap.maps.drafts import CompareSpec, compare_map

    empty = {"type": "FeatureCollection", "features": []}
    square = {
        "type": "Polygon",
        "coordinates": [[[110.5, 29], [110.6, 29], [110.6, 29.1], [110.5, 29]]],
    }
    compare = CompareSpec(left=[empty], draft=square, shapes=empty, cut=[], boundary_labels={})
    overlays = [
        farmland_overlay("FARM", "/tiles/farmland"),
        landuse_overlay("USE", "/tiles/landuse"),
    ]
    mapped = spec(tile_overlays=overlays, labels={**LABELS, "mu": "MU"})
    script = render_parts(compare_map(mapped, compare))["script"]
    layers = [o["layer"] for o in calls(script, "tileOverlay")]
    assert layers == ["farmland", "landuse", "farmland", "landuse"]
    assert script.count("L.control.layers(") == 2
