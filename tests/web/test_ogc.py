"""OGC API Features at /ogc (pygeoapi behind landmap's authentication): what QGIS, ArcGIS Pro
and GDAL's OAPIF driver read — landing page with an OpenAPI 3.0 service-desc, conformance,
collections with their CRSs, items with paging, bbox, crs, property filters and datetime as
the register's as-of — and the same figures as landmap's own API."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pyogrio
import pytest
from conftest import client_for
from shapely.geometry import box, shape

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"


def basic(name: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()}


def all_items(client, url: str) -> list[dict]:
    """Every feature, following the next links as a client does."""
    features, pages = [], 0
    while url:
        resp = client.get(url)
        assert resp.status_code == 200, resp.data[:300]
        body = resp.get_json()
        features += body["features"]
        url = next((ln["href"] for ln in body["links"] if ln["rel"] == "next"), None)
        url = url and url.removeprefix("http://localhost")
        pages += 1
        assert pages < 100
    return features


def api_codes(client, query: str) -> set[str]:
    body = client.get(f"/api/parcels?{query}").get_json()
    return {f["properties"]["code"] for f in body["features"]}


def test_the_landing_page_links_an_openapi_3_document(client):
    landing = client.get("/ogc").get_json()
    desc = next(ln for ln in landing["links"] if ln["rel"] == "service-desc")
    assert desc["type"].startswith("application/vnd.oai.openapi+json;version=3.0")
    doc = client.get(desc["href"].removeprefix("http://localhost")).get_json()
    assert doc["openapi"].startswith("3.0")
    assert "/collections/parcels/items" in doc["paths"]
    assert {ln["rel"] for ln in landing["links"]} >= {"conformance", "data"}
    # only what is served is linked: no processes, jobs, tile matrix sets or HTML pages
    for link in landing["links"]:
        assert link.get("type") != "text/html"
        resp = client.get(link["href"].removeprefix("http://localhost"))
        assert resp.status_code == 200, link


def test_conformance_claims_core_geojson_oas30_and_crs(client):
    classes = client.get("/ogc/conformance").get_json()["conformsTo"]
    for part in (
        "ogcapi-features-1/1.0/conf/core",
        "ogcapi-features-1/1.0/conf/geojson",
        "ogcapi-features-1/1.0/conf/oas30",
        "ogcapi-features-2/1.0/conf/crs",
    ):
        assert any(c.endswith(part) for c in classes), part


def test_collections_are_the_four_layers_with_their_crss(client):
    body = client.get("/ogc/collections").get_json()
    ids = {c["id"] for c in body["collections"]}
    assert ids == {"parcels", "zones", "landuse", "farmland"}
    parcels = client.get("/ogc/collections/parcels").get_json()
    assert parcels["title"] == "宗地"
    assert parcels["storageCrs"] == EPSG.format(4546)
    assert {CRS84, EPSG.format(4490), EPSG.format(4546)} <= set(parcels["crs"])
    english = client.get("/ogc/collections/parcels?lang=en").get_json()
    assert english["title"] == "Parcels"


def test_items_page_through_every_parcel_of_zone_c_as_the_api_has_them(client):
    features = all_items(client, "/ogc/collections/parcels/items?zone=C&limit=50")
    codes = [f["id"] for f in features]
    assert len(codes) == len(set(codes))
    assert set(codes) == api_codes(client, "zone=C")
    first = client.get("/ogc/collections/parcels/items?zone=C&limit=50").get_json()
    assert first["numberMatched"] == len(codes) and first["numberReturned"] == 50
    api = {
        f["properties"]["code"]: f for f in client.get("/api/parcels?zone=C").get_json()["features"]
    }
    for feature in features[:40]:
        mine = api[feature["id"]]["properties"]
        assert feature["properties"]["owner"] == mine["owner"]
        assert abs(feature["properties"]["area_mu"] - mine["area_mu"]) < 0.01
        assert feature["properties"]["stage"] == mine["stage"]
        # CRS84 by default: lon, lat, where /api/parcels draws it
        ours = shape(feature["geometry"])
        assert ours.representative_point().x > 100
        assert ours.intersects(shape(api[feature["id"]]["geometry"]).buffer(1e-6))


@pytest.mark.parametrize(
    ("srid", "first", "second"),
    [(4490, (28, 31), (109, 112)), (4546, (3.0e6, 3.5e6), (3.0e5, 7.0e5))],
)
def test_crs_gives_coordinates_in_that_crs_axis_order(client, srid, first, second):
    url = f"/ogc/collections/parcels/items?zone=C&limit=5&crs={EPSG.format(srid)}"
    resp = client.get(url)
    assert resp.status_code == 200
    assert resp.headers["Content-Crs"] == f"<{EPSG.format(srid)}>"
    for feature in resp.get_json()["features"]:
        point = feature["geometry"]["coordinates"][0][0][0]
        assert first[0] < point[0] < first[1] and second[0] < point[1] < second[1], point


def test_bbox_in_crs84_and_in_the_storage_crs_select_the_same_parcels(client):
    everything = all_items(client, "/ogc/collections/parcels/items?zone=C&limit=500")
    x0, y0, x1, y1 = shape(everything[0]["geometry"]).bounds
    area = box(x0 - 0.002, y0 - 0.002, x1 + 0.002, y1 + 0.002)
    bbox = ",".join(str(v) for v in area.bounds)
    picked = all_items(client, f"/ogc/collections/parcels/items?bbox={bbox}&limit=500")
    inside = {f["id"] for f in everything if shape(f["geometry"]).intersects(area)}
    assert everything[0]["id"] in {f["id"] for f in picked}
    assert inside <= {f["id"] for f in picked}
    assert len(picked) < len(everything)
    for feature in picked:  # a corner-transformed box may take a sliver more, never far off
        assert shape(feature["geometry"]).distance(area) < 0.001
    # the same box given in the storage CRS (northing, easting order of EPSG:4546)
    stored = client.get(
        f"/ogc/collections/parcels/items?bbox={bbox}&limit=500&crs={EPSG.format(4546)}"
    ).get_json()["features"]
    ys = [pt[0] for f in stored for pt in f["geometry"]["coordinates"][0][0]]
    xs = [pt[1] for f in stored for pt in f["geometry"]["coordinates"][0][0]]
    storage_bbox = f"{min(ys)},{min(xs)},{max(ys)},{max(xs)}"
    again = all_items(
        client,
        f"/ogc/collections/parcels/items?bbox={storage_bbox}&bbox-crs={EPSG.format(4546)}"
        "&limit=500",
    )
    assert {f["id"] for f in picked} <= {f["id"] for f in again}


def test_property_filters_for_zone_stage_and_project(client):
    cleared = all_items(client, "/ogc/collections/parcels/items?stage=cleared&limit=500")
    assert {f["id"] for f in cleared} == api_codes(client, "stage=cleared")
    assert all(f["properties"]["stage_label"] == "整理到位" for f in cleared)
    project = cleared[0]["properties"]["project_id"]
    mine = all_items(client, f"/ogc/collections/parcels/items?project_id={project}&limit=500")
    assert {f["id"] for f in mine} == api_codes(client, f"project={project}")


def test_datetime_is_the_register_as_of_a_day(client):
    day = "2011-06-30"
    then = all_items(client, f"/ogc/collections/parcels/items?datetime={day}&limit=500")
    api = client.get(f"/api/parcels?as_of={day}").get_json()["features"]
    assert {f["id"]: f["properties"]["stage"] for f in then} == {
        f["properties"]["code"]: f["properties"]["stage"] for f in api
    }
    now = all_items(client, "/ogc/collections/parcels/items?limit=500")
    assert [f["properties"]["stage"] for f in then] != [f["properties"]["stage"] for f in now]
    # the day is the request's own: the next request is of today again
    assert all_items(client, "/ogc/collections/parcels/items?limit=500") == now


def test_a_datetime_interval_is_refused_not_answered(client):
    resp = client.get("/ogc/collections/parcels/items?datetime=2011-01-01/2011-06-30")
    assert resp.status_code == 400


@pytest.mark.parametrize("url", ["/ogc", "/ogc/collections", "/ogc/collections/parcels/items"])
def test_without_credentials_401_with_a_basic_challenge(anonymous, url):
    resp = anonymous.get(url)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_http_basic_with_the_user_name_and_a_token_and_a_viewer_may_read(anonymous, app, accounts):
    viewer = accounts["viewer"]
    resp = anonymous.get("/ogc/collections", headers=basic(viewer["name"], viewer["token"]))
    assert resp.status_code == 200
    assert client_for(app, viewer["token"]).get("/ogc/collections/zones/items").status_code == 200


def test_a_browser_gets_json_not_pages_that_need_the_internet(client):
    resp = client.get("/ogc/collections", headers={"Accept": "text/html"})
    assert resp.status_code == 200 and resp.is_json


@pytest.mark.parametrize(
    "url",
    [
        "/ogc/collections/nothing/items",
        "/ogc/collections/parcels/items/no-such-parcel",
        "/ogc/collections/parcels/items?limit=x",
        "/ogc/collections/parcels/items?bbox=1,2,3",
        "/ogc/collections/parcels/items?crs=EPSG:9999",
        "/ogc/collections/parcels/items?datetime=yesterday",
        "/ogc/collections/parcels/items?offset=-1",
    ],
)
def test_bad_requests_are_4xx_never_5xx(client, url):
    assert 400 <= client.get(url).status_code < 500


def test_one_parcel_by_its_code(client):
    code = next(iter(api_codes(client, "zone=A")))
    feature = client.get(f"/ogc/collections/parcels/items/{code}").get_json()
    assert feature["id"] == code and feature["properties"]["zone"] == "A"


def _outside_landmap() -> dict[str, str]:
    """The environment of a GDAL that is not landmap's: without the settings landmap gives its
    own GDAL (which skip the OAPIF driver and close the network)."""
    from landmap.geo.gdal import CONFIG

    return {key: value for key, value in os.environ.items() if key not in CONFIG}


def _ogr2ogr(tmp_path: Path, base: str, *config: str) -> list:
    """ogr2ogr copies the parcels collection, 100 a page (5 pages of the demo's parcels:
    the test server starts a thread per request, and pyproj sets itself up per thread)."""
    out = tmp_path / "copy.gpkg"
    done = subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "GPKG",
            str(out),
            f"OAPIF:{base}/ogc",
            "parcels",
            "-oo",
            "PAGE_SIZE=100",
            *config,
        ],
        capture_output=True,
        timeout=120,
        text=True,
        env={**_outside_landmap(), "GDAL_HTTP_TIMEOUT": "60"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return pyogrio.read_dataframe(out)


def test_ogr2ogr_copies_every_parcel_with_a_bearer_header_and_with_basic(
    live_server, live_accounts, tmp_path
):
    admin = live_accounts["admin"]
    frame = _ogr2ogr(
        tmp_path,
        live_server,
        "--config",
        "GDAL_HTTP_HEADERS",
        f"Authorization: Bearer {admin['token']}",
    )
    import requests  # pygeoapi's own dependency

    api = requests.get(
        f"{live_server}/api/parcels",
        headers={"Authorization": f"Bearer {admin['token']}"},
        timeout=60,
    ).json()
    assert len(frame) == len(api["features"]) and not api.get("truncated")
    assert set(frame["id"]) == {f["properties"]["code"] for f in api["features"]}
    (tmp_path / "copy.gpkg").unlink()
    again = _ogr2ogr(
        tmp_path,
        live_server,
        "--config",
        "GDAL_HTTP_AUTH",
        "BASIC",
        "--config",
        "GDAL_HTTP_USERPWD",
        f"{admin['name']}:{admin['token']}",
    )
    assert len(again) == len(frame)
    json.dumps(list(again.columns))


@pytest.mark.parametrize(
    "url",
    ["/ogc/collections", "/ogc/collections/parcels", "/ogc/collections/parcels/items?limit=3"],
)
def test_no_document_links_what_is_not_served(client, url):
    body = client.get(url).get_data(as_text=True)
    assert "text/html" not in body and "/processes" not in body
