"""Zone figures that agree: a zone counts each parcel with its part inside the boundary in force,
and lists the parcels cut by it (跨界宗地), in the API, on /api/zones and on the zone page."""

from __future__ import annotations

import re

import numpy as np
import pytest
import shapely
from conftest import client_for
from pyproj import Transformer
from sqlalchemy import text

from landmap.geo.units import mu_to_m2

TO_4326 = Transformer.from_crs(4546, 4326, always_xy=True)
APPROVED = "2012-01-01"  # after the demo boundaries' 2010-01-01 and its history (2011)
BEFORE = "2011-12-31"


def lonlat(geom):
    return shapely.transform(geom, lambda c: np.column_stack(TO_4326.transform(c[:, 0], c[:, 1])))


def boundary(db, code: str):
    return shapely.from_wkt(db.execute(text("""SELECT ST_AsText(b.geom) FROM zone_boundary b
        JOIN zone z ON z.id = b.zone_id WHERE z.code = :c AND b.status = 'current'"""),
                                       {"c": code}).scalar_one())  # fmt: skip


def summary(client, code="C", as_of=None):
    resp = client.get(f"/api/zones/{code}/summary" + (f"?as_of={as_of}" if as_of else ""))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def parcel_mu(db, codes) -> dict[str, float]:
    rows = db.execute(text("SELECT code, area_mu FROM parcel WHERE code = ANY(:c)"),
                      {"c": list(codes)})  # fmt: skip
    return dict(rows.all())


def approve_shrunk_c(client, db, metres=150.0):
    """Zone C's boundary pulled in by ``metres``: its new line cuts parcels."""
    shrunk = boundary(db, "C").buffer(-metres, join_style="mitre")
    resp = client.post("/api/zones/C/drafts", json={
        "geometry": shapely.geometry.mapping(lonlat(shrunk)), "note": "收缩"})  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    did = resp.get_json()["id"]
    ok = client.post(f"/api/zones/C/drafts/{did}/approve", json={"valid_from": APPROVED})
    assert ok.status_code == 200, ok.get_json()
    return shrunk


def assert_consistent(s, areas):
    assert s["parcels_mu_inside"] <= s["area_mu"] + 0.01
    assert sum(f["parcels"] for f in s["mu_by_stage"].values()) == s["parcel_count"]
    assert sum(f["mu"] for f in s["mu_by_stage"].values()) == pytest.approx(
        s["parcels_mu_inside"], abs=0.01 * len(s["mu_by_stage"])
    )
    assert sum(f["parcels"] for f in s["mu_by_land_use"]) == s["parcel_count"]
    for p in s["cross_boundary"]:
        assert p["inside_mu"] > 0 and p["outside_mu"] > 0
        assert p["inside_mu"] + p["outside_mu"] == pytest.approx(areas[p["code"]], abs=0.011)
    assert sum(p["outside_mu"] for p in s["cross_boundary"]) == pytest.approx(
        s["parcels_mu_outside"], abs=0.01 * max(1, len(s["cross_boundary"])))  # fmt: skip


def test_a_zone_counts_the_parts_inside_before_and_after_a_cutting_approval(client, db):
    before = summary(client)
    assert before["area_mu"] == 11355.0 and before["parcel_count"] > 200
    assert_consistent(before, parcel_mu(db, [p["code"] for p in before["cross_boundary"]]))
    shrunk = approve_shrunk_c(client, db)
    after = summary(client)
    assert after["area_mu"] == pytest.approx(shrunk.area / mu_to_m2(1), abs=0.01)
    assert after["valid_from"] == APPROVED
    cut = set(db.execute(text("""
        SELECT p.code FROM parcel p, zone_boundary b JOIN zone z ON z.id = b.zone_id
        WHERE z.code = 'C' AND b.status = 'current' AND ST_Intersects(p.geom, b.geom)
          AND ST_Area(ST_Difference(p.geom, b.geom)) > 5
          AND ST_Area(ST_Intersection(p.geom, b.geom)) > 5""")).scalars())  # fmt: skip
    listed = {p["code"] for p in after["cross_boundary"]}
    assert len(cut) >= 10 and cut <= listed
    assert_consistent(after, parcel_mu(db, listed))
    assert {p["other_zone"] for p in after["cross_boundary"]} == {None}  # C borders no zone
    # a parcel wholly inside counts whole; the zone's figure is the sum of the parts
    inside = db.execute(text("""
        SELECT sum(lm_area_mu(ST_Intersection(p.geom, b.geom))) FROM parcel p, zone_boundary b
        JOIN zone z ON z.id = b.zone_id WHERE z.code = 'C' AND b.status = 'current'
          AND ST_Intersects(p.geom, b.geom)""")).scalar_one()  # fmt: skip
    assert after["parcels_mu_inside"] == pytest.approx(inside, abs=0.01)


def test_as_of_a_day_before_the_approval_uses_the_old_boundary(client, db):
    now = summary(client)
    approve_shrunk_c(client, db)
    old = summary(client, as_of=BEFORE)
    assert old["area_mu"] == now["area_mu"] and old["valid_from"] == "2010-01-01"
    assert old["parcels_mu_inside"] == now["parcels_mu_inside"]
    assert old["cross_boundary"] == now["cross_boundary"]
    assert summary(client)["area_mu"] < now["area_mu"] - 100
    # stages as on that day, from the history (it starts in March 2011)
    early = summary(client, as_of="2011-01-01")["mu_by_stage"]
    assert early["not_started"]["mu"] == old["parcels_mu_inside"]
    assert summary(client, as_of=BEFORE)["mu_by_stage"]["cleared"]["mu"] > 0


def test_a_parcel_of_b_reaching_into_c_adds_its_part_to_c(client, db):
    b, c = boundary(db, "B"), boundary(db, "C")
    pb, pc = shapely.shortest_line(b, c).coords
    u = (np.array(pc) - np.array(pb)) / np.hypot(*(np.array(pc) - np.array(pb)))
    line = shapely.LineString([np.array(pb) - 700 * u, np.array(pc) + 30 * u])
    strip = line.buffer(20, cap_style="flat")
    in_b, in_c = strip.intersection(b).area, strip.intersection(c).area
    assert in_b > strip.difference(b).difference(c).area > in_c > 0  # most of it in B
    before = summary(client)
    db.execute(
        text(
            "INSERT INTO parcel (code, geom) VALUES "
            "('TEST-B-INTO-C', ST_Multi(ST_GeomFromText(:g, 4546)))"
        ),
        {"g": strip.wkt},
    )
    after = summary(client)
    row = next(p for p in after["cross_boundary"] if p["code"] == "TEST-B-INTO-C")
    assert row["inside_mu"] == pytest.approx(in_c / mu_to_m2(1), abs=0.01)
    assert row["outside_mu"] == pytest.approx((strip.area - in_c) / mu_to_m2(1), abs=0.01)
    assert row["other_zone"] == "B"
    assert after["parcel_count"] == before["parcel_count"] + 1
    assert after["parcels_mu_inside"] == pytest.approx(
        before["parcels_mu_inside"] + in_c / mu_to_m2(1), abs=0.011)  # fmt: skip
    mine = next(p for p in summary(client, "B")["cross_boundary"] if p["code"] == "TEST-B-INTO-C")
    assert mine["inside_mu"] == pytest.approx(in_b / mu_to_m2(1), abs=0.01)
    assert mine["other_zone"] is None  # most of what is outside B lies in no zone
    zone_of = db.execute(
        text(
            "SELECT z.code FROM parcel p JOIN zone z ON z.id = "
            "lm_zone_of(p.geom) WHERE p.code = 'TEST-B-INTO-C'"
        )
    ).scalar_one()
    assert zone_of == "B"


@pytest.mark.parametrize("as_of", [None, BEFORE])
def test_api_zones_carries_the_summary_figures(client, db, as_of):
    approve_shrunk_c(client, db)
    url = "/api/zones" + (f"?as_of={as_of}" if as_of else "")
    features = client.get(url).get_json()["features"]
    assert {f["properties"]["code"] for f in features} == {"A", "B", "C"}
    for f in features:
        props = f["properties"]
        s = summary(client, props["code"], as_of)
        assert props["area_mu"] == s["area_mu"]
        assert props["parcels"] == s["parcel_count"]
        assert props["parcels_mu"] == s["parcels_mu_inside"] <= s["area_mu"] + 0.01


def test_unknown_zone_bad_day_and_permissions(client, app, accounts, anonymous):
    resp = client.get("/api/zones/Q/summary")
    assert resp.status_code == 404 and resp.is_json and "Q" in resp.get_json()["error"]
    assert client.get("/api/zones/C/summary?as_of=2011-13-01").status_code == 400
    viewer = client_for(app, accounts["viewer"]["token"])
    assert viewer.get("/api/zones/c/summary").status_code == 200
    assert anonymous.get("/api/zones/C/summary").status_code == 401


# --- the zone page -----------------------------------------------------------------------


def page_figures(page: str) -> dict:
    table = re.search(r'<table[^>]*id="cross-boundary".*?</table>', page, re.S)
    rows = re.findall(
        r'<tr><td>([^<]+)</td><td class="text-end">([0-9.]+)</td>'
        r'<td class="text-end">([0-9.]+)</td>',
        table.group(0) if table else "",
    )
    return {
        "area_mu": float(re.search(r'id="area-mu">([0-9.]+)<', page).group(1)),
        "parcels_mu_inside": float(
            re.search(r'id="parcels-inside">[^<]*?([0-9]+\.[0-9]{2})', page).group(1)
        ),  # fmt: skip
        "cross_boundary": [(c, float(i), float(o)) for c, i, o in rows],
    }


@pytest.mark.parametrize("as_of", [None, BEFORE])
def test_the_zone_page_shows_the_summary_and_its_cross_boundary_table(client, db, as_of):
    approve_shrunk_c(client, db)
    resp = client.get("/zones/C?lang=en" + (f"&as_of={as_of}" if as_of else ""))
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    s = summary(client, as_of=as_of)
    shown = page_figures(page)
    assert shown["area_mu"] == s["area_mu"] == (11355.0 if as_of else s["area_mu"])
    assert shown["parcels_mu_inside"] == s["parcels_mu_inside"]
    assert shown["cross_boundary"] == [
        (p["code"], p["inside_mu"], p["outside_mu"]) for p in s["cross_boundary"]
    ]
    assert "Cross-boundary parcels" in page and "Outside every zone" in page
    stage_total = re.search(r'id="by-stage".*?<tfoot>.*?([0-9]+\.[0-9]{2})</th>', page, re.S)
    assert float(stage_total.group(1)) == s["parcels_mu_inside"]


def test_the_parcel_table_has_a_bounded_set_of_page_links(client, monkeypatch):
    from landmap.web import pages

    monkeypatch.setattr(pages, "PAGE", 1)  # one parcel a page: some 200 pages
    page = client.get("/zones/C?page=100").get_data(as_text=True)
    nav = re.search(r'id="parcel-pages">(.*?)</ul>', page, re.S).group(1)
    targets = re.findall(r'href="/zones/C\?page=([0-9]+)"', nav)
    assert len(targets) <= 11
    last = max(int(t) for t in targets)
    assert last > 200 and {"1", "99", "101", str(last)} <= set(targets)
    assert {str(n) for n in range(98, 103)} <= set(targets)
    first = client.get("/zones/C").get_data(as_text=True)
    assert len(re.findall(r'class="page-link"', first)) <= 11
