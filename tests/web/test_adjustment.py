"""Zone boundary drafts: hand-made geometries with known answers, the demo's zone C, approval."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import client_for
from openpyxl import load_workbook
from pyproj import Transformer
from sqlalchemy import text

from landmap.geo.units import mu_to_m2
from landmap.services.acquisition import today

TO_4326 = Transformer.from_crs(4546, 4326, always_xy=True)
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
    did = draft(client, box(0, 0, 1120, 1000)).get_json()["id"]  # the new line at x = 1120
    c = client.get(f"/api/zones/T/drafts/{did}/check").get_json()
    (cut,) = c["parcels_cut"]
    assert cut["code"] == "T-STRADDLE"
    assert cut["inside_mu"] == pytest.approx(17000 / mu_to_m2(1), abs=0.01)  # 170 m of 200
    assert cut["outside_mu"] == pytest.approx(3000 / mu_to_m2(1), abs=0.01)


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
    resp = client.post("/api/zones/T/drafts", json=body)
    assert resp.status_code == status and message in resp.get_json()["error"]


def test_an_invalid_draft_and_an_unknown_zone(client, zone_t):
    bowtie = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    resp = draft(client, bowtie)
    assert resp.status_code == 400 and "not valid" in resp.get_json()["error"]
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
