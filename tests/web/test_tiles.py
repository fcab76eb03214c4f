"""Vector tiles: contents, filters, caching and invalidation, errors."""

from __future__ import annotations

import gzip
import math

import mapbox_vector_tile
import pytest
import shapely
from conftest import free_parcels
from sqlalchemy import text


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def where(client, code: str, z: int = 16) -> tuple[int, int, int]:
    f = client.get(f"/api/parcels/{code}").get_json()
    p = shapely.geometry.shape(f["geometry"]).representative_point()
    return (z, *tile_of(p.x, p.y, z))


def decode(resp) -> dict:
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(resp.data)


def features(client, url) -> list[dict]:
    resp = client.get(url)
    if resp.status_code == 204:
        return []
    return decode(resp).get("parcels", {}).get("features", [])


def test_a_known_tile_holds_the_parcel_with_its_attributes(client):
    z, x, y = where(client, "2011-2")
    layer = decode(client.get(f"/tiles/parcels/{z}/{x}/{y}.pbf"))["parcels"]
    by_code = {f["properties"]["code"]: f for f in layer["features"]}
    plot = by_code["2011-2"]["properties"]
    assert plot["stage"] == "state_owned" and plot["commercial"] is True
    assert set(plot) == {"code", "stage", "dispute", "commercial"}  # only what the map needs
    assert layer["extent"] == 4096
    assert by_code["2011-2"]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_the_quota_map_asks_for_the_quota_status(client):
    z, x, y = where(client, "2011-2")
    layer = decode(client.get(f"/tiles/parcels/{z}/{x}/{y}.pbf?style=quota"))["parcels"]
    assert all("quota" in f["properties"] for f in layer["features"])


def test_parcels_too_small_to_see_are_left_out_at_low_zoom(client, db):
    db.execute(text("INSERT INTO parcel (code, geom) VALUES ('TINY-1', ST_Multi(ST_MakeEnvelope("
                    "457000, 3218300, 457010, 3218310, 4546)))"))  # fmt: skip
    for z, present in ((12, False), (17, True)):
        zz, x, y = where(client, "TINY-1", z)
        codes = {
            f["properties"]["code"] for f in features(client, f"/tiles/parcels/{zz}/{x}/{y}.pbf")
        }
        assert ("TINY-1" in codes) is present


def test_filters_narrow_the_tile(client):
    z, x, y = where(client, "2011-2", 13)
    everything = features(client, f"/tiles/parcels/{z}/{x}/{y}.pbf")
    zone_a = features(client, f"/tiles/parcels/{z}/{x}/{y}.pbf?zone=A")
    state = features(client, f"/tiles/parcels/{z}/{x}/{y}.pbf?zone=A&stage=state_owned")
    assert len(everything) > len(zone_a) > len(state) > 0
    assert {f["properties"]["stage"] for f in state} == {"state_owned"}
    assert client.get(f"/tiles/parcels/{z}/{x}/{y}.pbf?zone=Q").status_code == 400


def test_other_layers(client):
    z, x, y = where(client, "2011-2", 12)
    for layer in ("zones", "landuse"):
        tile = decode(client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf"))
        assert tile[layer]["features"]
    zone = decode(client.get(f"/tiles/zones/{z}/{x}/{y}.pbf"))["zones"]["features"][0]
    assert set(zone["properties"]) == {"code", "name"}


def test_empty_tiles_are_204(client):
    assert client.get("/tiles/parcels/5/0/0.pbf").status_code == 204


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/tiles/roads/10/826/431.pbf", 404),
        ("/tiles/parcels/23/0/0.pbf", 400),
        ("/tiles/parcels/10/1024/0.pbf", 400),
        ("/tiles/parcels/10/0/5000.pbf", 400),
        ("/tiles/parcels/ten/0/0.pbf", 404),
        ("/tiles/parcels/10/-1/0.pbf", 404),
        ("/tiles/parcels/10/1/1.png", 404),
        ("/tiles/parcels/10/826/431.pbf?as_of=yesterday", 400),
    ],
)
def test_bad_tile_addresses(client, url, status):
    assert client.get(url).status_code == status


def test_a_stage_change_is_never_served_stale(client, db):
    (code,) = free_parcels(db, 1, 0)
    z, x, y = where(client, code)
    url = f"/tiles/parcels/{z}/{x}/{y}.pbf"
    first = client.get(url)
    assert first.headers["X-Tile-Cache"] == "miss"
    again = client.get(url)
    assert again.headers["X-Tile-Cache"] == "hit" and again.data == first.data
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    stage = {f["properties"]["code"]: f["properties"]["stage"] for f in features(client, url)}
    assert stage[code] == "not_started"
    moved = client.post(f"/api/parcels/{code}/stage", json={"stage": "surveyed",
                                                            "date": "2011-12-01"})  # fmt: skip
    assert moved.status_code == 201
    after = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and after.headers["X-Tile-Cache"] == "miss"
    stage = {f["properties"]["code"]: f["properties"]["stage"] for f in
             mapbox_vector_tile.decode(after.data)["parcels"]["features"]}  # fmt: skip
    assert stage[code] == "surveyed"
    # a tile far from the change keeps its cache
    far = "/tiles/parcels/16/" + "/".join(map(str, where(client, "2011-2")[1:])) + ".pbf"
    client.get(far)
    client.post(f"/api/parcels/{code}/stage", json={"stage": "cleared", "date": "2011-12-02"})
    assert client.get(far).headers["X-Tile-Cache"] == "hit"


def test_browsers_get_tiles_gzipped_and_others_plain(client):
    z, x, y = where(client, "2011-2")
    url = f"/tiles/parcels/{z}/{x}/{y}.pbf"
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "Content-Encoding" not in plain.headers
    assert (
        packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    )
    assert len(packed.data) < len(plain.data)
    assert gzip.decompress(packed.data) == plain.data
    # each representation has its own tag, so a cache never swaps one for the other
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": plain.headers["ETag"],
                                    "Accept-Encoding": "gzip"}).status_code == 200  # fmt: skip


def test_as_of_tiles_show_the_stage_of_the_day(client, db):
    (code,) = free_parcels(db, 1, 1)
    client.post(f"/api/parcels/{code}/stage", json={"stage": "surveyed", "date": "2011-12-01"})
    z, x, y = where(client, code)
    url = f"/tiles/parcels/{z}/{x}/{y}.pbf"
    now = {f["properties"]["code"]: f["properties"]["stage"] for f in features(client, url)}
    then = {f["properties"]["code"]: f["properties"]["stage"]
            for f in features(client, url + "?as_of=2011-11-30")}  # fmt: skip
    assert (now[code], then[code]) == ("surveyed", "not_started")
