"""The JSON API through Flask's client, against the demo zone in PostGIS."""

import pytest
from sqlalchemy import text

from landmap import create_app


def features(resp):
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "application/geo+json"
    body = resp.get_json()
    assert body["type"] == "FeatureCollection"
    return body["features"]


def test_zones_are_a_feature_collection_with_mu(client):
    zones = {f["properties"]["code"]: f for f in features(client.get("/api/zones"))}
    assert set(zones) == {"A", "B", "C"}
    c = zones["C"]
    assert c["geometry"]["type"] == "MultiPolygon"
    assert c["properties"]["area_mu"] > 1000
    lon, lat = c["geometry"]["coordinates"][0][0][0]
    assert 110.4 < lon < 110.7 and 29.0 < lat < 29.2  # near Yanghuping, in EPSG:4326


def test_parcels_carry_the_register_facts(client):
    fs = features(client.get("/api/parcels?zone=C"))
    assert fs
    keys = {"code", "name", "zone", "owner", "land_use_code", "area_mu", "official_area_mu",
            "stage", "project", "batch"}  # fmt: skip
    assert keys <= set(fs[0]["properties"])
    assert {f["properties"]["zone"] for f in fs} == {"C"}
    coords = fs[0]["geometry"]["coordinates"][0][0][0]
    assert all(len(str(v).split(".")[1]) <= 7 for v in coords)  # 7 decimals at most


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ("stage=cleared", lambda p: p["stage"] == "cleared"),
        ("stage=整理到位", lambda p: p["stage"] == "cleared"),
        ("zone=a", lambda p: p["zone"] == "A"),
        ("project=C区1000亩土地开发项目", lambda p: p["project"] == "C区1000亩土地开发项目"),
    ],
)
def test_each_filter_narrows_the_parcels(client, query, check):
    fs = features(client.get(f"/api/parcels?{query}"))
    everything = features(client.get("/api/parcels"))
    assert 0 < len(fs) < len(everything)
    assert all(check(f["properties"]) for f in fs)


def test_project_filter_takes_an_id_too(client, db):
    pid = db.execute(text("SELECT id FROM project WHERE name = '新外滩'")).scalar_one()
    fs = features(client.get(f"/api/parcels?project={pid}"))
    assert {f["properties"]["project"] for f in fs} == {"新外滩"}


def test_bbox_returns_only_parcels_that_touch_it(client):
    fs = features(client.get("/api/parcels?bbox=110.50,29.09,110.51,29.10"))
    assert fs
    for f in fs:
        ring = f["geometry"]["coordinates"][0][0]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        assert min(xs) <= 110.51 and max(xs) >= 110.50 and min(ys) <= 29.10 and max(ys) >= 29.09


def test_limit_caps_the_features(client):
    assert len(features(client.get("/api/parcels?limit=3"))) == 3


@pytest.mark.parametrize(
    ("query", "code", "zh", "en"),
    [
        ("bbox=1,2,3", "bad_bbox", "地图范围", "four numbers"),
        ("bbox=a,b,c,d", "bad_bbox", "四个数", "map extent"),
        ("bbox=110.6,29,110.5,29.1", "bbox_out_of_range", "西小于东", "west before east"),
        ("bbox=nan,29,110.5,29.1", "bad_bbox", "地图范围", "four numbers"),
        ("zone=Q", "unknown_zone", "没有区块 Q", "no zone"),
        ("stage=halfway", "unknown_choice", "未知的阶段", "unknown stage"),
        ("project=没有这个项目", "unknown_project", "没有项目", "no project"),
        ("project=999999", "unknown_project", "没有项目", "no project"),
        ("limit=0", "not_a_whole_number", "条数必须是 1 到", "number of rows must be"),
        ("limit=-5", "not_a_whole_number", "条数", "number of rows"),
        ("limit=abc", "not_a_whole_number", "条数", "number of rows"),
        ("limit=²", "not_a_whole_number", "条数", "number of rows"),  # a digit to isdigit
    ],
)
def test_bad_parameters_get_400_with_a_coded_translated_error(client, query, code, zh, en):
    resp = client.get(f"/api/parcels?{query}")
    assert resp.status_code == 400
    assert resp.get_json()["code"] == code and zh in resp.get_json()["error"]
    english = client.get(f"/api/parcels?{query}&lang=en").get_json()
    assert english["code"] == code and en in english["error"]


def test_one_parcel_by_code(client):
    resp = client.get("/api/parcels/2011-2")
    assert resp.status_code == 200
    f = resp.get_json()
    assert f["type"] == "Feature"
    assert f["properties"]["zone"] == "A"
    assert f["properties"]["commercial"]["transfer_status"] == "planned"


def test_unknown_parcel_is_404_json(client):
    resp = client.get("/api/parcels/NO-SUCH-CODE")
    assert resp.status_code == 404
    assert "NO-SUCH-CODE" in resp.get_json()["error"]


def test_projects_list_and_detail_with_batches(client):
    projects = client.get("/api/projects").get_json()
    c = next(p for p in projects if p["name"] == "C区1000亩土地开发项目")
    assert set(c) >= {"id", "name", "zone", "kind", "stage", "area_mu"}
    assert c["zone"] == "C" and c["area_mu"] == pytest.approx(1000, abs=10)
    detail = client.get(f"/api/projects/{c['id']}").get_json()
    first = next(b for b in detail["batches"] if b["name"] == "第一批")
    assert first["area_mu"] == pytest.approx(315, abs=3)
    assert first["target_mu"] == 315 and first["due"] == "2011-12-31"


def test_projects_can_be_listed_per_zone(client):
    names = {p["zone"] for p in client.get("/api/projects?zone=B").get_json()}
    assert names == {"B"}
    assert client.get("/api/projects?zone=Z").status_code == 400


def test_unknown_project_is_404_json(client):
    resp = client.get("/api/projects/999999")
    assert resp.status_code == 404 and "error" in resp.get_json()


def test_project_area_is_the_sum_of_its_parcels(client):
    c = next(p for p in client.get("/api/projects").get_json() if p["name"] == "新外滩")
    fs = features(client.get(f"/api/parcels?project={c['id']}"))
    assert c["area_mu"] == pytest.approx(sum(f["properties"]["area_mu"] for f in fs), abs=0.05)


def test_search_finds_parcels_by_code_and_projects_by_name(client):
    hits = client.get("/api/search?q=2011-2").get_json()["results"]
    assert hits[0] == {**hits[0], "kind": "parcel", "key": "2011-2"}
    assert len(hits[0]["bbox"]) == 4
    hits = client.get("/api/search?q=华湘").get_json()["results"]
    assert (hits[0]["kind"], hits[0]["label"]) == ("project", "华湘轮胎")
    assert {(h["kind"], h["matched"]) for h in hits[1:]} == {("parcel", "owner")}  # its land
    assert client.get("/api/search?q=%25").get_json()["results"] == []  # LIKE is escaped


def test_healthz_answers_200_when_the_database_does(client):
    assert client.get("/healthz").get_json() == {"status": "ok", "database": True}


def test_healthz_answers_503_when_the_database_does_not(settings):
    dead = settings.with_(database_url="postgresql://nobody:x@127.0.0.1:1/none")
    resp = create_app(dead).test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["database"] is False


def test_an_unexpected_error_is_a_json_500_without_details(app, client, monkeypatch):
    from landmap.services import parcels

    def boom(*a, **k):
        raise RuntimeError("SELECT secret FROM somewhere")

    monkeypatch.setattr(parcels, "feature_collection", boom)
    resp = client.get("/api/parcels")
    assert resp.status_code == 500
    body = resp.get_json()
    assert set(body) == {"code", "error", "error_id"} and "SELECT" not in resp.get_data(
        as_text=True
    )
    assert body["code"] == "internal_error" and body["error"] == "服务器出错了。"


def test_parcels_are_paged_with_a_next_link_and_say_when_they_are_cut(client):
    everything = client.get("/api/parcels?zone=A&limit=20000").get_json()
    assert everything["truncated"] is False and "links" not in everything
    expected = [f["properties"]["code"] for f in everything["features"]]
    seen, url = [], "/api/parcels?zone=A&limit=25"
    while url:
        page = client.get(url).get_json()
        assert page["numberReturned"] == len(page["features"]) <= 25
        seen += [f["properties"]["code"] for f in page["features"]]
        nexts = [link["href"] for link in page.get("links", []) if link["rel"] == "next"]
        assert page["truncated"] == bool(nexts)
        url = nexts[0] if nexts else None
    assert seen == expected and len(expected) > 25  # every parcel once, in code order


def test_a_bad_offset_is_a_translated_400(client):
    resp = client.get("/api/parcels?offset=-1")
    assert resp.status_code == 400 and resp.get_json()["code"] == "not_a_whole_number"
