"""Zone boundary drafts: hand-made geometries with known answers, the demo's zone C, approval."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import client_for
from openpyxl import load_workbook
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from landmap.geo.units import mu_to_m2
from landmap.services.acquisition import today

TO_4326 = Transformer.from_crs(4546, 4326, always_xy=True)
CHINESE = re.compile(r"[\u4e00-\u9fff]")
# what a web user never reads: a command-line option, a setting, key=value syntax
NEVER_SHOWN = re.compile(r"--[a-z]|LANDMAP_|\b\w+=(true|false)\b")
X0, Y0 = 462000.0, 3214000.0  # a square test zone T, 1 km a side, south-east of the demo


def lonlat(geom):
    return shapely.transform(geom, lambda c: np.column_stack(TO_4326.transform(c[:, 0], c[:, 1])))


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def wkt_sql(geom, srid=4546):
    return f"ST_Multi(ST_GeomFromText('{geom.wkt}', {srid}))"


@pytest.fixture
def zone_t(db):
    """Zone T: the square (0,0)-(1000,1000); a parcel straddling its east edge, one in the
    strip east of it, one inside; a cultivated patch over the strip."""
    zid = db.execute(text("INSERT INTO zone (code, name) VALUES ('T', 'T区') RETURNING id")
                     ).scalar()  # fmt: skip
    db.execute(text(f"""INSERT INTO zone_boundary (zone_id, status, valid_from, geom)
                        VALUES (:z, 'current', '2020-01-01', {wkt_sql(box(0, 0, 1000, 1000))})"""),
               {"z": zid})  # fmt: skip
    for code, g in (("T-STRADDLE", box(950, 100, 1150, 200)),  # 20000 m², half outside
                    ("T-STRIP", box(1020, 400, 1080, 500)),  # in the strip
                    ("T-INSIDE", box(100, 100, 200, 200))):  # fmt: skip
        db.execute(text(f"INSERT INTO parcel (code, geom) VALUES (:c, {wkt_sql(g)})"), {"c": code})
    db.execute(text(f"""INSERT INTO landuse_patch (code, land_use_code, geom) VALUES
        ('T-L1', '0101', {wkt_sql(box(1000, 0, 1100, 500))}),
        ('T-L2', '0601', {wkt_sql(box(1000, 500, 1100, 1000))})"""))  # fmt: skip
    return zid


def draft(client, geom, code="T", note="试算"):
    return client.post(
        f"/api/zones/{code}/drafts",
        json={"geometry": shapely.geometry.mapping(lonlat(geom)), "note": note},
    )


def test_a_square_grown_by_a_strip_of_known_area(client, zone_t):
    resp = draft(client, box(0, 0, 1100, 1000))  # + 100 m x 1000 m = 150 mu
    assert resp.status_code == 201, resp.get_json()
    did = resp.get_json()["id"]
    c = client.get(f"/api/zones/T/drafts/{did}/check").get_json()
    assert c["area_before_mu"] == pytest.approx(1500, abs=0.05)
    assert c["added_mu"] == pytest.approx(150, abs=0.05) and c["removed_mu"] == 0
    assert [p["code"] for p in c["parcels_entering"]] == ["T-STRIP"]
    assert [p["code"] for p in c["parcels_cut"]] == ["T-STRADDLE"]  # it reaches x = 1150
    assert c["parcels_leaving"] == []
    assert c["agricultural_added_mu"] == pytest.approx(75, abs=0.05)  # the paddy half
    assert c["cultivated_added_mu"] == pytest.approx(75, abs=0.05)
    assert c["quota_needed_mu"] == c["agricultural_added_mu"]
    assert c["farmland_conflict_mu"] == 0 and c["problems"] == []
    wider = draft(client, box(0, 0, 1200, 1000)).get_json()["id"]
    c = client.get(f"/api/zones/T/drafts/{wider}/check").get_json()
    assert [p["code"] for p in c["parcels_entering"]] == ["T-STRADDLE", "T-STRIP"]


def test_a_parcel_cut_in_a_known_ratio_and_farmland_in_the_strip(client, db, zone_t):
    db.execute(text(f"INSERT INTO farmland (code, land_use_code, geom) "
                    f"VALUES ('T-F1', '0101', {wkt_sql(box(1010, 600, 1030, 650))})"))  # fmt: skip
    did = draft(client, box(0, 0, 1100, 1000)).get_json()["id"]
    c = client.get(f"/api/zones/T/drafts/{did}/check").get_json()
    assert c["farmland_conflict_mu"] == pytest.approx(1.5, abs=0.01)  # 20 m x 50 m
    assert c["farmland_patches"] == [{"code": "T-F1", "mu": 1.5, "in_added_area": True}]
    assert any(p["kind"] == "farmland" for p in c["problems"])
    check_is_read_in_the_locale(client, did)
    did = draft(client, box(0, 0, 1120, 1000)).get_json()["id"]  # the new line at x = 1120
    c = client.get(f"/api/zones/T/drafts/{did}/check").get_json()
    (cut,) = c["parcels_cut"]
    assert cut["code"] == "T-STRADDLE"
    assert cut["inside_mu"] == pytest.approx(17000 / mu_to_m2(1), abs=0.01)  # 170 m of 200
    assert cut["outside_mu"] == pytest.approx(3000 / mu_to_m2(1), abs=0.01)


def check_is_read_in_the_locale(client, did):
    """The check's problems and land categories in Chinese (JSON, page, workbook), in English
    with ?lang=en; the machine fields (kind, category) the same in both."""
    zh = client.get(f"/api/zones/T/drafts/{did}/check").get_json()
    en = client.get(f"/api/zones/T/drafts/{did}/check?lang=en").get_json()
    messages = {p["kind"]: p["message"] for p in zh["problems"]}
    assert messages["farmland"] == "占用永久基本农田 1.50 亩"
    assert {p["kind"]: p["message"] for p in en["problems"]}["farmland"] == (
        "takes 1.50 mu of permanent basic farmland"
    )
    labels = {u["code"]: (u["category"], u["category_label"]) for u in zh["added_by_land_use"]}
    assert labels == {"0101": ("agricultural", "农用地"), "0601": ("construction", "建设用地")}
    assert {u["code"]: u["category_label"] for u in en["added_by_land_use"]}["0101"] == (
        "agricultural land"
    )
    page = client.get(f"/zones/T/drafts/{did}?lang=zh_CN").get_data(as_text=True)
    land_use = page.split('id="land-use"')[1].split("</table>")[0]
    assert "占用永久基本农田 1.50 亩" in page and "农用地" in land_use
    assert "agricultural" not in land_use
    wb = load_workbook(io.BytesIO(client.get(f"/zones/T/drafts/{did}/check.xlsx").data))
    problems = [r[0] for r in wb["问题"].iter_rows(min_row=2, values_only=True)]
    assert "占用永久基本农田 1.50 亩" in problems
    categories = {r[0]: r[2] for r in wb["调入地类"].iter_rows(min_row=2, values_only=True)}
    assert categories == {"0101": "农用地", "0601": "建设用地"}


def test_shrinking_reports_what_leaves(client, zone_t):
    did = draft(client, box(0, 0, 1000, 300) | box(0, 300, 600, 1000)).get_json()["id"]
    c = client.get(f"/api/zones/T/drafts/{did}/check").get_json()
    assert c["removed_mu"] == pytest.approx(400 * 700 / mu_to_m2(1), abs=0.05)
    assert c["added_mu"] == 0
    assert c["parcels_leaving"] == [] and c["parcels_entering"] == []


def test_slivers_and_holes_are_problems(client, zone_t):
    with_hole = box(0, 0, 1000, 1000).difference(box(400, 400, 500, 500))
    spike = box(0, 0, 1000, 1000) | box(1000, 500, 1300, 502)  # a 2-m wide arm
    for geom, kind in ((with_hole, "holes"), (spike, "sliver_draft")):
        did = draft(client, geom).get_json()["id"]
        c = client.get(f"/api/zones/T/drafts/{did}/check").get_json()
        assert kind in {p["kind"] for p in c["problems"]}, c["problems"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                }
            },
            400,
            "region",
        ),  # fmt: skip
        ({"geometry": {"type": "Polygon", "coordinates": []}}, 400, "empty"),
        ({"geometry": {"type": "Point", "coordinates": [110.5, 29.1]}}, 400, "Polygon"),
        (
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[462000, 3214000], [463000, 3214000], [463000, 3215000], [462000, 3214000]]
                    ],
                }
            },
            400,
            "not longitude/latitude",
        ),  # fmt: skip
        (
            {"crs": {"type": "name"}, "geometry": {"type": "Polygon", "coordinates": []}},
            400,
            "crs member",
        ),  # fmt: skip
        ({"note": "no geometry"}, 400, "Polygon"),
    ],
)
def test_bad_drafts_are_refused(client, zone_t, body, status, message):
    """In the request's language (Chinese by default, English with ?lang=en), with a code."""
    resp = client.post("/api/zones/T/drafts?lang=en", json=body)
    assert resp.status_code == status and message in resp.get_json()["error"]
    zh = client.post("/api/zones/T/drafts?lang=zh_CN", json=body)
    assert zh.status_code == status and zh.get_json()["code"] == resp.get_json()["code"]
    assert CHINESE.search(zh.get_json()["error"]) and not NEVER_SHOWN.search(zh.get_json()["error"])


def test_a_draft_that_is_not_a_polygon_answers_in_chinese_and_in_english(client, zone_t):
    point = {"geometry": {"type": "Point", "coordinates": [110.5, 29.1]}}
    zh = client.post("/api/zones/T/drafts", json=point)
    assert zh.status_code == 400 and zh.get_json()["code"] == "geometry_not_polygon"
    error = zh.get_json()["error"]
    assert CHINESE.search(error) and not NEVER_SHOWN.search(error), error
    en = client.post("/api/zones/T/drafts?lang=en", json=point)
    assert en.status_code == 400 and en.get_json()["code"] == "geometry_not_polygon"
    assert "Polygon" in en.get_json()["error"] and not CHINESE.search(en.get_json()["error"])


def test_an_invalid_draft_and_an_unknown_zone(client, zone_t):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    resp = draft(client, bowtie)
    assert resp.status_code == 400 and "草案图形无效" in resp.get_json()["error"]
    assert resp.get_json()["code"] == "draft_invalid"
    assert draft(client, box(0, 0, 10, 10), code="Q").status_code == 404
    assert client.get("/api/zones/T/drafts/999999/check").status_code == 404
    page = client.get("/zones/T/drafts/999999")  # a page answers with a page, not JSON
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_approval_changes_the_zone_and_keeps_the_old_one_as_of(client, app, accounts, zone_t):
    did = draft(client, box(0, 0, 1100, 1000)).get_json()["id"]
    planner = client_for(app, accounts["planner"]["token"])
    assert planner.post(f"/api/zones/T/drafts/{did}/approve").status_code == 403
    resp = client.post(f"/api/zones/T/drafts/{did}/approve", json={})
    assert resp.status_code == 200 and resp.get_json()["status"] == "current"
    zones = {f["properties"]["code"]: f for f in client.get("/api/zones").get_json()["features"]}
    assert zones["T"]["properties"]["area_mu"] == pytest.approx(1650, abs=0.05)
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    old = {f["properties"]["code"]: f for f in
           client.get(f"/api/zones?as_of={yesterday}").get_json()["features"]}  # fmt: skip
    assert old["T"]["properties"]["area_mu"] == pytest.approx(1500, abs=0.05)
    strip = client.get("/api/parcels/T-STRIP").get_json()
    assert strip["properties"]["zone"] == "T"  # parcels follow the approved boundary
    again = client.post(f"/api/zones/T/drafts/{did}/approve", json={})
    assert again.status_code == 409


def test_a_planner_drafts_by_uploading_a_zipped_shapefile(app, accounts, zone_t, tmp_path):
    planner = client_for(app, accounts["planner"]["token"])
    gdf = gpd.GeoDataFrame(geometry=[box(0, 0, 1050, 1000)], crs="EPSG:4546")
    gdf.to_file(tmp_path / "draft.shp", engine="pyogrio")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            zf.write(tmp_path / f"draft{ext}", f"draft{ext}")
    buf.seek(0)
    resp = planner.post("/api/zones/T/drafts", data={"file": (buf, "边界草案.zip"), "note": "上传"},
                        content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["area_mu"] == pytest.approx(1575, abs=0.05)
    bad = planner.post("/api/zones/T/drafts", data={"file": (io.BytesIO(b"x"), "draft.exe")},
                       content_type="multipart/form-data")  # fmt: skip
    assert bad.status_code == 415


# --- the demo's zone C ------------------------------------------------------------------


def test_zone_c_grown_by_100_m(client, db, settings, tmp_path):
    current = db.execute(text("""SELECT ST_AsText(b.geom) FROM zone_boundary b JOIN zone z
        ON z.id = b.zone_id WHERE z.code = 'C' AND b.status = 'current'""")).scalar()  # fmt: skip
    grown = shapely.from_wkt(current).buffer(100, join_style="mitre")
    did = draft(client, grown, code="C").get_json()["id"]
    c = client.get(f"/api/zones/C/drafts/{did}/check").get_json()
    independent = db.execute(
        text("""SELECT lm_area_mu(ST_Difference(d.geom, c.geom))
        FROM zone_boundary d, zone_boundary c JOIN zone z ON z.id = c.zone_id
        WHERE d.id = :d AND z.code = 'C' AND c.status = 'current'"""),
        {"d": did},
    ).scalar()
    assert c["added_mu"] == pytest.approx(independent, rel=0.005)
    assert c["added_mu"] == pytest.approx(grown.area / mu_to_m2(1) - c["area_before_mu"],
                                          rel=0.005)  # fmt: skip
    assert c["removed_mu"] == 0
    crossing = set(db.execute(text("""
        SELECT p.code FROM parcel p, zone_boundary b JOIN zone z ON z.id = b.zone_id
        WHERE z.code = 'C' AND b.status = 'current' AND ST_Intersects(p.geom, b.geom)
          AND ST_Area(ST_Difference(p.geom, b.geom)) > 1 AND ST_Area(ST_Intersection(p.geom,
              b.geom)) > 1""")).scalars())  # fmt: skip
    listed = {p["code"] for p in c["parcels_entering"] + c["parcels_cut"]}
    assert crossing and crossing <= listed
    assert c["farmland_conflict_mu"] == 0
    # a farmland patch loaded into the added ring is a hard conflict
    ring = grown.difference(shapely.from_wkt(current))
    spot = shapely.get_parts(ring)[0].representative_point()
    square = shapely.box(spot.x - 20, spot.y - 20, spot.x + 20, spot.y + 20).intersection(ring)
    gpd.GeoDataFrame({"BSM": ["JBNT-TEST-1"], "DLBM": ["0101"]}, geometry=[square],
                     crs="EPSG:4546").to_file(tmp_path / "jbnt.shp", engine="pyogrio")  # fmt: skip
    from landmap import loaders
    from landmap.loaders import LoadOptions

    loaders.load(db, settings, "farmland", tmp_path / "jbnt.shp", LoadOptions(run_by="t"))
    c = client.get(f"/api/zones/C/drafts/{did}/check").get_json()
    assert c["farmland_conflict_mu"] == pytest.approx(square.area / mu_to_m2(1), abs=0.01)
    assert any(p["kind"] == "farmland" for p in c["problems"])
    wb = load_workbook(io.BytesIO(client.get(f"/zones/C/drafts/{did}/check.xlsx").data))
    figures = {r[0]: r[1] for r in wb["核查汇总"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert figures["调入面积（亩）"] == c["added_mu"]
    assert figures["占用永久基本农田（亩）"] == c["farmland_conflict_mu"]
    page = client.get(f"/zones/C/drafts/{did}?print=1").get_data(as_text=True)
    assert 'id="parcels_cut"' in page and "lm-problem-farmland" in page


# --- a draft a planner can trust: snapping, add/subtract, stale drafts, rebase ------------


@pytest.mark.parametrize("code", ["A", "B", "C"])
def test_the_boundary_sent_back_unchanged_changes_nothing(client, code):
    """What the editor does when a planner saves without a change: the GeoJSON /api/zones
    gives (7 decimals, about 1 cm) comes back and is snapped onto the boundary it came from."""
    zones = {f["properties"]["code"]: f for f in client.get("/api/zones").get_json()["features"]}
    sent = zones[code]["geometry"]
    assert max(len(repr(v).split(".")[1]) for v in _positions(sent)) <= 7
    resp = client.post(f"/api/zones/{code}/drafts", json={"geometry": sent, "note": "原样保存"})
    assert resp.status_code == 201, resp.get_json()
    c = client.get(f"/api/zones/{code}/drafts/{resp.get_json()['id']}/check").get_json()
    assert c["added_mu"] <= 0.01 and c["removed_mu"] <= 0.01
    assert c["problems"] == [] and c["stale"] is False
    assert c["parcels_entering"] == c["parcels_leaving"] == []
    assert c["area_after_mu"] == c["area_before_mu"]


def _positions(geometry):
    polygons = geometry["coordinates"]
    polygons = [polygons] if geometry["type"] == "Polygon" else polygons
    return [v for p in polygons for ring in p for q in ring for v in q]


def post_op(client, geom, op, code="T", lang="zh_CN", **extra):
    body = {"geometry": shapely.geometry.mapping(lonlat(geom)), "note": op, "op": op, **extra}
    return client.post(f"/api/zones/{code}/drafts?lang={lang}", json=body)


def independent_mu(db, sql, **params):
    return db.execute(text(f"SELECT lm_area_mu({sql})"), params).scalar()


CURRENT_T = """(SELECT b.geom FROM zone_boundary b JOIN zone z ON z.id = b.zone_id
                WHERE z.code = 'T' AND b.status = 'current')"""


def test_a_polygon_over_the_edge_adds_land(client, db, zone_t):
    over = box(900, 200, 1200, 400)  # 100 m inside, 200 m outside the east edge
    replaced = post_op(client, box(0, 0, 1000, 1000) | over, "replace")
    assert replaced.status_code == 201  # one polygon: a replacement
    both = shapely.MultiPolygon([box(0, 0, 1000, 1000), over])  # overlapping parts
    resp = client.post("/api/zones/T/drafts", json={"geometry": shapely.geometry.mapping(
        lonlat(both))})  # fmt: skip
    assert resp.status_code == 400 and "增加到边界" in resp.get_json()["error"]  # the op's label
    assert resp.get_json()["code"] == "draft_polygons_overlap"
    resp = post_op(client, over, "add")
    assert resp.status_code == 201, resp.get_json()
    d = resp.get_json()
    assert d["op"] == "add" and d["base_id"] is not None
    c = client.get(f"/api/zones/T/drafts/{d['id']}/check").get_json()
    expected = independent_mu(db, f"ST_Difference({wkt_sql(over)}, {CURRENT_T})")
    assert expected == pytest.approx(60, abs=0.01)  # 200 m x 200 m
    assert c["added_mu"] == pytest.approx(expected, rel=0.005) and c["removed_mu"] == 0
    assert c["area_after_mu"] == pytest.approx(1560, rel=0.005)
    assert c["problems"] == [] and [p["code"] for p in c["parcels_cut"]] == ["T-STRADDLE"]
    audited = db.execute(text("SELECT after FROM audit_log WHERE entity = 'zone' AND key = :k "
                              "AND action = 'insert'"), {"k": f"T#{d['id']}"}).scalar()  # fmt: skip
    assert audited["op"] == "add" and "drawn_md5" in audited and "drawn" not in audited


def test_a_polygon_over_the_edge_subtracts_land(client, db, zone_t):
    cut = box(800, -100, 1100, 300)  # takes the south-east corner, 200 m x 300 m
    resp = post_op(client, cut, "subtract")
    assert resp.status_code == 201, resp.get_json()
    c = client.get(f"/api/zones/T/drafts/{resp.get_json()['id']}/check").get_json()
    expected = independent_mu(db, f"ST_Intersection({wkt_sql(cut)}, {CURRENT_T})")
    assert expected == pytest.approx(90, abs=0.01)
    assert c["removed_mu"] == pytest.approx(expected, rel=0.005) and c["added_mu"] == 0
    assert c["problems"] == []


@pytest.mark.parametrize(
    ("geom", "op", "message"),
    [
        (box(100, 100, 200, 200), "add", "changes nothing"),  # wholly inside
        (box(2000, 0, 2100, 100), "subtract", "changes nothing"),  # wholly outside
        (box(-10, -10, 1010, 1010), "subtract", "leaves nothing"),
        (box(1000, 0, 1000.03, 1000), "add", "changes nothing"),  # 3 cm: snapped away
        (box(0, 0, 10, 10), "merge", "replace, add or subtract"),
    ],
)
def test_adds_and_subtracts_that_make_no_sense_are_refused(client, zone_t, geom, op, message):
    resp = post_op(client, geom, op, lang="en")
    assert resp.status_code == 400 and message in resp.get_json()["error"], resp.get_json()
    zh = post_op(client, geom, op)
    assert zh.status_code == 400 and CHINESE.search(zh.get_json()["error"]), zh.get_json()


def test_a_result_in_pieces_or_with_slivers_is_kept_and_reported(client, zone_t):
    apart = post_op(client, box(1300, 0, 1400, 100), "add")  # a separate island
    strip = post_op(client, box(1000, 0, 1002, 1000), "add")  # a 2 m wide strip
    kinds = {}
    for name, resp in (("apart", apart), ("strip", strip)):
        assert resp.status_code == 201, resp.get_json()
        c = client.get(f"/api/zones/T/drafts/{resp.get_json()['id']}/check").get_json()
        kinds[name] = {p["kind"] for p in c["problems"]}
    assert "multipart" in kinds["apart"] and "sliver_change" in kinds["strip"]


def test_an_edge_drawn_a_few_centimetres_off_the_boundary_leaves_no_sliver(client, db, zone_t):
    bump = post_op(client, box(1000.03, 200, 1100, 300.02), "add")  # 3 cm short of the line
    notch = post_op(client, box(900, 200, 999.96, 300), "subtract")  # 4 cm short of it
    for resp, added, removed in ((bump, 15, 0), (notch, 0, 15)):
        c = client.get(f"/api/zones/T/drafts/{resp.get_json()['id']}/check").get_json()
        assert c["problems"] == [], c["problems"]
        assert (c["added_mu"], c["removed_mu"]) == (pytest.approx(added, abs=0.01),
                                                    pytest.approx(removed, abs=0.01))  # fmt: skip
    parts = db.execute(text("SELECT ST_NumGeometries(geom), ST_NPoints(geom) FROM zone_boundary "
                            "WHERE id = :d"), {"d": bump.get_json()["id"]}).one()  # fmt: skip
    assert parts == (1, 9)  # the square with a bump, no stray vertex 3 cm off the line


def test_a_draft_on_a_replaced_boundary_is_stale_and_can_be_rebased(client, db, zone_t):
    first = draft(client, box(0, 0, 1100, 1000)).get_json()["id"]  # + the 100 m strip
    second = post_op(client, box(900, 200, 1200, 400), "add").get_json()
    assert second["base_id"] == draft_row(client, first)["base_id"]
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    assert client.post(f"/api/zones/T/drafts/{first}/approve",
                       json={"valid_from": yesterday}).status_code == 200  # fmt: skip
    refused = client.post(f"/api/zones/T/drafts/{second['id']}/approve", json={})
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["code"] == "stale_draft" and body["superseded_by"]["id"] == first
    assert body["superseded_by"]["by"] == "t_admin" and body["superseded_by"]["base_version"] == 1
    assert str(first) in body["error"] and "t_admin" in body["error"]
    assert today().isoformat() in body["error"]  # the day of that approval
    # the database keeps the rule for every path
    with pytest.raises(DBAPIError, match="rebase it first"), db.begin_nested():
        db.execute(text("SELECT lm_approve_draft(:d, CURRENT_DATE, 'psql')"), {"d": second["id"]})
    c = client.get(f"/api/zones/T/drafts/{second['id']}/check").get_json()
    assert c["stale"] is True and c["base_id"] == second["base_id"] == c["compared_with"]
    assert c["added_mu"] == pytest.approx(60, abs=0.01)  # against the boundary it was drawn on
    now = c["against_current"]
    assert now["added_mu"] == pytest.approx(30, abs=0.01)  # 1100..1200 x 200..400
    assert now["removed_mu"] == pytest.approx(120, abs=0.01)  # the strip but for the bump
    page = client.get(f"/zones/T/drafts/{second['id']}").get_data(as_text=True)
    assert 'id="stale"' in page and 'id="rebase"' in page and 'id="approve"' not in page
    assert 'id="added-current"' in page
    stale_text = page.split('id="stale">')[1].split("<")[0]
    assert str(first) in stale_text and "t_admin" in stale_text

    rebased = client.post(f"/api/zones/T/drafts/{second['id']}/rebase")
    assert rebased.status_code == 201, rebased.get_json()
    new = rebased.get_json()
    assert new["base_id"] == first and new["op"] == "add" and new["rebased_from"] == second["id"]
    c = client.get(f"/api/zones/T/drafts/{new['id']}/check").get_json()
    assert c["stale"] is False and c["against_current"] is None
    assert c["added_mu"] == pytest.approx(30, abs=0.01) and c["removed_mu"] == 0
    assert client.post(f"/api/zones/T/drafts/{new['id']}/rebase").status_code == 409
    assert client.post(f"/api/zones/T/drafts/{new['id']}/approve", json={}).status_code == 200
    zones = {f["properties"]["code"]: f for f in client.get("/api/zones").get_json()["features"]}
    assert zones["T"]["properties"]["area_mu"] == pytest.approx(1680, abs=0.05)


def draft_row(client, draft_id):
    return next(d for d in client.get("/api/zones/T/drafts").get_json() if d["id"] == draft_id)


def test_a_replacement_rebased_keeps_its_shape(client, app, accounts, zone_t):
    planner = client_for(app, accounts["planner"]["token"])
    first = draft(client, box(0, 0, 1100, 1000)).get_json()["id"]
    shrunk = draft(planner, box(0, 0, 1000, 500)).get_json()["id"]
    assert client.post(f"/api/zones/T/drafts/{first}/approve", json={}).status_code == 200
    assert draft_row(client, shrunk)["stale"] is True
    rebased = planner.post(f"/api/zones/T/drafts/{shrunk}/rebase")
    assert rebased.status_code == 201 and rebased.get_json()["op"] == "replace"
    assert rebased.get_json()["area_mu"] == pytest.approx(750, abs=0.01)
    page = client.get("/zones/T/drafts").get_data(as_text=True)
    assert page.count("lm-stale") == 1  # the old one, not its rebased copy


def test_a_draft_names_only_a_boundary_of_its_zone_that_was_in_force(client, db, zone_t):
    other = db.execute(text("SELECT b.id FROM zone_boundary b JOIN zone z ON z.id = b.zone_id "
                            "WHERE z.code = 'C' AND b.status = 'current'")).scalar()  # fmt: skip
    pending = draft(client, box(0, 0, 1050, 1000)).get_json()["id"]
    for base in (other, pending, "1"):
        resp = post_op(client, box(900, 200, 1200, 400), "add", base_id=base)
        assert resp.status_code == 400 and "base_id" in resp.get_json()["error"]
    with pytest.raises(DBAPIError, match="not on draft"), db.begin_nested():
        db.execute(text(f"""INSERT INTO zone_boundary (zone_id, status, base_id, geom)
            VALUES (:z, 'draft', :b, {wkt_sql(box(0, 0, 10, 10))})"""),
                   {"z": zone_t, "b": pending})  # fmt: skip
    with pytest.raises(DBAPIError, match="keeps the boundary it was drawn on"), db.begin_nested():
        db.execute(text("UPDATE zone_boundary SET base_id = NULL WHERE id = :d"), {"d": pending})


def test_migration_0011_gives_old_drafts_their_base_and_goes_back(scratch):
    from landmap.db import make_engine, migrate

    migrate.downgrade(scratch, "0010")
    engine = make_engine(scratch.with_(db_role=""))
    square = wkt_sql(box(0, 0, 1000, 1000))
    try:
        with engine.begin() as conn:
            z = conn.execute(text("INSERT INTO zone (code, name) VALUES ('T', 'T区') "
                                  "RETURNING id")).scalar()  # fmt: skip
            rows = [  # status, valid_from, valid_to, created_at, approved_at
                ("superseded", "2020-01-01", "2022-01-01", "2020-01-01", None),  # v1
                ("current", "2022-01-01", None, "2021-06-01", "2021-12-01"),  # approved draft
                ("draft", None, None, "2021-03-01", None),  # drawn on v1
                ("draft", None, None, "2022-02-01", None),  # drawn on v2
            ]
            ids = [conn.execute(text(f"""INSERT INTO zone_boundary (zone_id, status, valid_from,
                valid_to, created_at, approved_at, approved_by, geom) VALUES (:z, :s, :f, :t, :c,
                :a, CASE WHEN :a IS NULL THEN NULL ELSE 'admin' END, {square}) RETURNING id"""),
                {"z": z, "s": s, "f": f, "t": t, "c": c, "a": a}).scalar()
                for s, f, t, c, a in rows]  # fmt: skip
        migrate.upgrade(scratch)
        with engine.connect() as conn:
            bases = dict(conn.execute(text("SELECT id, base_id FROM zone_boundary")).all())
        assert [bases[i] for i in ids] == [None, ids[0], ids[0], ids[1]]
        migrate.downgrade(scratch, "0010")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT lm_approve_draft(:d, '2023-01-01', 't')"),
                                {"d": ids[2]}).scalar() == ids[2]  # fmt: skip
            cols = conn.execute(text("SELECT column_name FROM information_schema.columns "
                                     "WHERE table_name = 'zone_boundary' AND table_schema = "
                                     "current_schema()")).scalars().all()  # fmt: skip
        assert "base_id" not in cols and "drawn" not in cols
    finally:
        engine.dispose()
        migrate.upgrade(scratch)
