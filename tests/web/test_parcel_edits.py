"""Parcel edits through the API: corrections with a reason, splits, merges, geometry
corrections; retired parcels leave the register but stay reachable as of a past day."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import client_for, free_parcels
from sqlalchemy import text
from test_tiles import features, where

from landmap.domain import Stage, today
from landmap.services import acquisition
from landmap.services.acquisition import Move

YESTERDAY = (today() - dt.timedelta(days=1)).isoformat()


def centre_line(db, code: str) -> dict:
    """A west-east line in EPSG:4326 through a point inside the parcel, reaching past it."""
    return json.loads(
        db.execute(
            text("""
            SELECT ST_AsGeoJSON(ST_MakeLine(ST_MakePoint(ST_XMin(b) - 0.001, ST_Y(c)),
                                            ST_MakePoint(ST_XMax(b) + 0.001, ST_Y(c))), 9)
            FROM (SELECT Box2D(ST_Transform(geom, 4326)) AS b,
                         ST_Transform(ST_PointOnSurface(geom), 4326) AS c
                  FROM parcel WHERE code = :c) x"""),
            {"c": code},
        ).scalar_one()
    )


def lonlat(db, sql: str, **params) -> dict:
    """A geometry the SQL makes in the storage SRID, as GeoJSON in EPSG:4326."""
    return json.loads(
        db.execute(
            text(f"SELECT ST_AsGeoJSON(ST_Transform(({sql}), 4326), 9)"), params
        ).scalar_one()
    )


def codes_listed(client, **params) -> set[str]:
    fc = client.get("/api/parcels", query_string=params).get_json()
    return {f["properties"]["code"] for f in fc["features"]}


@pytest.fixture
def parcel(client, db) -> dict:
    (code,) = free_parcels(db, 1)
    return client.get(f"/api/parcels/{code}").get_json()["properties"]


@pytest.fixture
def halves(client, db, parcel) -> list[dict]:
    resp = client.post(
        f"/api/parcels/{parcel['code']}/split",
        json={"line": centre_line(db, parcel["code"]), "reason": "part sold"},
    )
    assert resp.status_code == 201, resp.get_json()
    return [f["properties"] for f in resp.get_json()["parcels"]]


def test_a_split_by_a_line_through_the_centre_makes_two_parcels_of_the_same_mu(
    client, parcel, halves
):
    assert len(halves) == 2
    assert abs(sum(p["area_mu"] for p in halves) - parcel["area_mu"]) <= 0.01
    for part in halves:  # what carries over
        assert part["code"] != parcel["code"] and part["code"][:14] == parcel["code"][:14]
        assert (part["stage"], part["project_id"], part["batch_id"], part["owner"]) == (
            parcel["stage"],
            parcel["project_id"],
            parcel["batch_id"],
            parcel["owner"],
        )
        assert part["created_on"] == today().isoformat()
    listed = codes_listed(client, zone=parcel["zone"])
    assert parcel["code"] not in listed and {p["code"] for p in halves} <= listed
    assert client.get(f"/api/parcels/{parcel['code']}").status_code == 404
    before = client.get(f"/api/parcels/{parcel['code']}?as_of={YESTERDAY}")
    assert before.status_code == 200
    assert before.get_json()["properties"]["retired_on"] == today().isoformat()
    assert parcel["code"] in codes_listed(client, zone=parcel["zone"], as_of=YESTERDAY)
    assert not {p["code"] for p in halves} & codes_listed(
        client, zone=parcel["zone"], as_of=YESTERDAY
    )


def test_the_new_parcels_history_says_where_they_came_from(client, parcel, halves):
    history = client.get(f"/api/parcels/{halves[0]['code']}/history").get_json()
    assert [(h["kind"], h["from"]) for h in history] == [("split", [parcel["code"]])]
    old = client.get(f"/api/parcels/{parcel['code']}/history").get_json()
    assert [h for h in old if h["kind"] == "split"][0]["into"] == sorted(p["code"] for p in halves)


def test_merging_the_parts_gives_back_the_original_mu(client, parcel, halves):
    resp = client.post(
        "/api/parcels/merge", json={"codes": [p["code"] for p in halves], "reason": "bought"}
    )
    assert resp.status_code == 201, resp.get_json()
    merged = resp.get_json()["parcel"]["properties"]
    assert abs(merged["area_mu"] - parcel["area_mu"]) <= 0.01
    assert merged["stage"] == parcel["stage"]
    listed = codes_listed(client, zone=parcel["zone"])
    assert merged["code"] in listed and not {p["code"] for p in halves} & listed
    history = client.get(f"/api/parcels/{merged['code']}/history").get_json()
    assert history[-1]["kind"] == "merge"
    assert history[-1]["from"] == sorted(p["code"] for p in halves)


def test_a_split_with_parts_that_do_not_tile_the_parcel_is_refused(client, db, parcel):
    code = parcel["code"]
    half = lonlat(
        db,
        "SELECT ST_Intersection(geom, ST_Envelope(ST_Buffer(ST_PointOnSurface(geom), 20))) "
        "FROM parcel WHERE code = :c",
        c=code,
    )
    whole = lonlat(db, "SELECT geom FROM parcel WHERE code = :c", c=code)
    resp = client.post(f"/api/parcels/{code}/split", json={"parts": [whole, half]})
    assert resp.status_code == 409 and resp.get_json()["code"] == "split_parts_overlap"
    assert code in codes_listed(client, zone=parcel["zone"])  # nothing changed


def test_a_split_by_parts_with_codes_given(client, db, parcel):
    code = parcel["code"]
    cut = "ST_MakeEnvelope(0, 0, 1e7, ST_Y(ST_PointOnSurface(geom)), lm_storage_srid())"
    south = lonlat(db, f"SELECT ST_Intersection(geom, {cut}) FROM parcel WHERE code = :c", c=code)
    north = lonlat(db, f"SELECT ST_Difference(geom, {cut}) FROM parcel WHERE code = :c", c=code)
    resp = client.post(
        f"/api/parcels/{code}/split",
        json={"parts": [south, north], "codes": ["T-SOUTH", "T-NORTH"], "date": YESTERDAY},
    )
    assert resp.status_code == 201, resp.get_json()
    made = [f["properties"] for f in resp.get_json()["parcels"]]
    assert [p["code"] for p in made] == ["T-SOUTH", "T-NORTH"]
    assert abs(sum(p["area_mu"] for p in made) - parcel["area_mu"]) <= 0.01
    assert code not in codes_listed(client, zone=parcel["zone"], as_of=YESTERDAY)


def test_a_line_that_misses_the_parcel_is_refused(client, parcel):
    line = {"type": "LineString", "coordinates": [[100.0, 10.0], [100.1, 10.0]]}
    resp = client.post(f"/api/parcels/{parcel['code']}/split", json={"line": line})
    assert resp.status_code == 409 and resp.get_json()["code"] == "split_no_cut"


def test_a_merge_of_parcels_at_different_stages_is_refused(client, db, halves):
    acquisition.move(db, [halves[0]["code"]], Move(Stage.PRE_ANNOUNCED, today()), "t")
    resp = client.post("/api/parcels/merge", json={"codes": [p["code"] for p in halves]})
    assert resp.status_code == 409 and resp.get_json()["code"] == "merge_differ"


def test_a_merge_of_parcels_apart_is_refused(client, db):
    far = db.execute(
        text("""
        SELECT a.code, b.code FROM parcel a JOIN parcel b ON a.batch_id = b.batch_id
            AND a.code < b.code AND a.stage = b.stage AND a.zone_id = b.zone_id
            AND NOT a.dispute AND NOT b.dispute AND ST_Distance(a.geom, b.geom) > 10
        ORDER BY a.code, b.code LIMIT 1""")
    ).one()
    resp = client.post("/api/parcels/merge", json={"codes": list(far)})
    assert resp.status_code == 409 and resp.get_json()["code"] == "merge_not_adjacent"


def test_a_geometry_correction_overlapping_a_neighbour_is_refused(client, db, parcel, halves):
    whole = lonlat(db, "SELECT geom FROM parcel WHERE code = :c", c=parcel["code"])
    url = f"/api/parcels/{halves[0]['code']}/geometry"
    resp = client.patch(url, json={"geometry": whole, "reason": "resurveyed"})
    assert resp.status_code == 409 and resp.get_json()["code"] == "geometry_overlaps"
    assert halves[1]["code"] in resp.get_json()["error"]
    smaller = lonlat(
        db, "SELECT ST_Buffer(geom, -0.5) FROM parcel WHERE code = :c", c=halves[0]["code"]
    )
    assert client.patch(url, json={"geometry": smaller}).status_code == 400  # no reason
    resp = client.patch(url, json={"geometry": smaller, "reason": "resurveyed"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["parcel"]["properties"]["area_mu"] < halves[0]["area_mu"]
    history = client.get(f"/api/parcels/{halves[0]['code']}/history").get_json()
    assert history[-1]["kind"] == "geometry" and history[-1]["reason"] == "resurveyed"


def test_an_owner_correction_needs_a_reason(client, db, parcel):
    url = f"/api/parcels/{parcel['code']}"
    resp = client.patch(url, json={"owner": "张家界市某公司"})
    assert resp.status_code == 400 and resp.get_json()["code"] == "correction_needs_reason"
    assert resp.get_json()["error"] == "更正须说明理由"
    en = client.patch(url + "?lang=en", json={"owner": "张家界市某公司"})
    assert en.get_json()["error"] == "a correction needs a reason"
    resp = client.patch(
        url, json={"owner": "张家界市某公司", "rights_type": "国有建设用地使用权", "reason": "证书"}
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["parcel"]["properties"]["owner"] == "张家界市某公司"
    audit = db.execute(
        text("""SELECT before ->> 'owner', after ->> 'owner', after -> 'attributes' ->> 'QLLX'
                FROM audit_log WHERE entity = 'parcel' AND key = :c AND action = 'update'"""),
        {"c": parcel["code"]},
    ).all()
    assert [tuple(a) for a in audit] == [(parcel["owner"], "张家界市某公司", "国有建设用地使用权")]
    history = client.get(url + "/history").get_json()
    fixed = [h for h in history if h["kind"] == "correction"]
    assert fixed[0]["after"] == {"owner": "张家界市某公司", "rights_type": "国有建设用地使用权"}
    assert fixed[0]["reason"] == "证书"


def test_a_correction_of_an_unknown_field_is_refused(client, parcel):
    resp = client.patch(f"/api/parcels/{parcel['code']}", json={"stage": "cleared", "reason": "x"})
    assert resp.status_code == 400 and resp.get_json()["code"] == "unknown_correction_fields"
    resp = client.patch(
        f"/api/parcels/{parcel['code']}", json={"official_area_m2": -5, "reason": "x"}
    )
    assert resp.status_code == 400


def test_who_may_edit(app, accounts, db, parcel):
    code = parcel["code"]
    viewer, officer = (client_for(app, accounts[r]["token"]) for r in ("viewer", "officer"))
    line = centre_line(db, code)
    for c in (viewer,):
        assert (
            c.patch(f"/api/parcels/{code}", json={"owner": "x", "reason": "y"}).status_code == 403
        )
    for c in (viewer, officer):
        assert c.post(f"/api/parcels/{code}/split", json={"line": line}).status_code == 403
        assert c.post("/api/parcels/merge", json={"codes": [code]}).status_code == 403
        assert c.patch(f"/api/parcels/{code}/geometry", json={}).status_code == 403
    resp = officer.patch(f"/api/parcels/{code}", json={"owner": "x", "reason": "y"})
    assert resp.status_code == 200


def test_zone_figures_and_tiles_leave_retired_parcels_out(client, db, parcel):
    zone = parcel["zone"]
    before = client.get(f"/api/zones/{zone}/summary").get_json()
    z, x, y = where(client, parcel["code"])
    resp = client.post(
        f"/api/parcels/{parcel['code']}/split", json={"line": centre_line(db, parcel["code"])}
    )
    made = {f["properties"]["code"] for f in resp.get_json()["parcels"]}
    after = client.get(f"/api/zones/{zone}/summary").get_json()
    assert after["parcel_count"] == before["parcel_count"] + 1
    assert abs(after["parcels_mu_inside"] - before["parcels_mu_inside"]) <= 0.01
    tile = {f["properties"]["code"] for f in features(client, f"/tiles/parcels/{z}/{x}/{y}.pbf")}
    assert parcel["code"] not in tile and made & tile
    stages = client.get(f"/api/parcels/stages-summary?zone={zone}").get_json()
    assert stages["total"]["parcels"] == after["parcel_count"]


def test_a_retired_parcel_cannot_be_moved_or_edited(client, parcel, halves):
    code = parcel["code"]
    resp = client.patch(f"/api/parcels/{code}", json={"owner": "x", "reason": "y"})
    assert resp.status_code == 409 and resp.get_json()["code"] == "parcel_retired"
    resp = client.post(
        f"/api/parcels/{code}/stage", json={"stage": "surveyed", "date": today().isoformat()}
    )
    assert resp.status_code == 404


BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[110.5, 29.1], [110.51, 29.11], [110.51, 29.1], [110.5, 29.11], [110.5, 29.1]]
    ],
}
HOSTILE = [
    {},
    {"line": "x"},
    {"line": {"type": "LineString", "coordinates": [[110.5, 29.1], [110.5, 29.1]]}},
    {"line": {"type": "LineString", "coordinates": [["a", 1], [2, 3]]}},
    {"parts": [1, 2]},
    {"parts": [BOWTIE, BOWTIE]},
    {"codes": "x"},
    {"codes": [5, None], "code": 7},
    {"geometry": BOWTIE, "reason": "r"},
    {"geometry": "x", "reason": "r"},
    {"owner": 5, "reason": "x"},
    {"official_area_m2": "abc", "reason": "x"},
    {"owner": "x", "reason": 5},
    {"owner": "x", "reason": "y", "date": "2999-01-01"},
]


def test_hostile_bodies_are_refused_without_a_5xx(client, parcel):
    code = parcel["code"]
    for body in HOSTILE:
        for method, url in (
            ("PATCH", f"/api/parcels/{code}"),
            ("POST", f"/api/parcels/{code}/split"),
            ("POST", "/api/parcels/merge"),
            ("PATCH", f"/api/parcels/{code}/geometry"),
        ):
            resp = client.open(url, method=method, json=body)
            assert resp.status_code < 500, (method, url, body, resp.get_json())
            assert resp.status_code >= 400, (method, url, body)
