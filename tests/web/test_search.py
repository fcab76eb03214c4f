"""Search as an officer searches: parcels by any part of their code (its end), owner (权利人),
location (坐落) or name, projects by any part of their name or their partner's; each hit says
what matched; short queries work; bad queries are refused in the request's language."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from landmap.services import parcels


def hits(client, q: str, limit: int = 50) -> list[dict]:
    resp = client.get("/api/search", query_string={"q": q, "limit": limit})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["results"]


def hit_of(results: list[dict], kind: str, key: str) -> dict | None:
    return next((h for h in results if h["kind"] == kind and h["key"] == key), None)


@pytest.fixture
def rare_owner(db) -> dict:
    """A demo parcel with a long code whose owner no other parcel has."""
    row = db.execute(
        text("""SELECT min(code) AS code, owner FROM parcel
                WHERE char_length(owner) >= 4 AND char_length(code) >= 12
                GROUP BY owner HAVING count(*) = 1 ORDER BY owner LIMIT 1""")
    ).one()
    return dict(row._mapping)


def test_a_parcel_is_found_by_part_of_its_owner(client, rare_owner):
    part = rare_owner["owner"][1:-1]  # neither its start nor its end
    found = hit_of(hits(client, part), "parcel", rare_owner["code"])
    assert found is not None, part
    assert found["matched"] == "owner" and found["matched_text"] == rare_owner["owner"]
    assert rare_owner["owner"] in found["label"]  # the list shows why it is there
    assert len(found["bbox"]) == 4


def test_a_parcel_is_found_by_the_last_7_characters_of_its_code(client, db):
    code = db.execute(text("SELECT code FROM parcel WHERE code LIKE '%JA00002'")).scalars().all()
    assert "430802003020JA00002" in code
    results = hits(client, "JA00002")
    assert {h["key"] for h in results if h["kind"] == "parcel"} == set(code)
    assert {h["matched"] for h in results} == {"code"}
    lower = hits(client, "ja00002")  # as typed, in either case
    assert [h["key"] for h in lower] == [h["key"] for h in results]


def test_a_parcel_is_found_by_its_location(client, db):
    code, location = db.execute(
        text("""SELECT min(code), location FROM parcel WHERE char_length(location) >= 6
                GROUP BY location ORDER BY count(*), location LIMIT 1""")
    ).one()
    found = hit_of(hits(client, location[-4:]), "parcel", code)
    assert found is not None and found["matched"] == "location"
    assert found["matched_text"] == location


def test_an_exact_code_comes_first(client):
    results = hits(client, "2011-2", limit=10)
    assert results[0] == {**results[0], "kind": "parcel", "key": "2011-2", "matched": "code"}


def test_a_project_is_found_by_part_of_its_name_and_its_partner(client, db):
    pid = db.execute(text("SELECT id FROM project WHERE name = 'C区1000亩土地开发项目'")).scalar()
    found = hit_of(hits(client, "1000亩"), "project", str(pid))
    assert found["matched"] == "project" and found["label"] == "C区1000亩土地开发项目"
    assert found["url"] == f"/projects/{pid}" and len(found["bbox"]) == 4
    by_partner = hit_of(hits(client, "公路投资"), "project", str(pid))  # 湖南省公路投资有限公司
    assert by_partner["matched"] == "partner"
    assert by_partner["matched_text"] == "湖南省公路投资有限公司"


def test_a_project_without_parcels_is_found_without_an_extent(client, db):
    pid = db.execute(text("SELECT id FROM project WHERE name = '康师傅集团'")).scalar()
    found = hit_of(hits(client, "康师傅"), "project", str(pid))
    assert found["bbox"] is None and found["url"] == f"/projects/{pid}"


@pytest.mark.parametrize("q", ["华湘", "村", "温"])
def test_short_queries_answer(client, db, q):
    """One or two characters (a Chinese name is short) have no trigram: still answered."""
    results = hits(client, q, limit=10)
    assert results, q
    assert all(q in h["matched_text"] for h in results)
    matches = db.execute(
        text("""SELECT count(*) FROM parcel
                WHERE owner LIKE :c OR location LIKE :c OR name LIKE :c OR code LIKE :c"""),
        {"c": f"%{q}%"},
    ).scalar_one()
    assert len(results) == min(10, matches + len([h for h in results if h["kind"] == "project"]))


def test_a_short_project_name_comes_before_its_parcels(client):
    results = hits(client, "华湘", limit=10)
    assert results[0]["kind"] == "project" and results[0]["label"] == "华湘轮胎"


def test_results_are_bounded(client):
    assert len(hits(client, "村", limit=3)) == 3
    assert len(client.get("/api/search?q=村").get_json()["results"]) == 10  # by default


@pytest.mark.parametrize("q", ["%", "_", "\\"])
def test_like_wildcards_are_plain_characters(client, q):
    assert hits(client, q) == []


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"q": "宗" * (parcels.MAX_QUERY + 1)}, "search_too_long"),
        ({"q": "JA\x7f0002"}, "search_control"),
        ({"q": "JA", "limit": "0"}, None),
        ({"q": "JA", "limit": str(parcels.MAX_HITS + 1)}, None),
        ({"q": "JA", "limit": "x"}, None),
    ],
)
def test_bad_queries_are_refused_in_the_request_language(client, query, code):
    zh = client.get("/api/search", query_string=query)
    assert zh.status_code == 400 and zh.is_json
    body = zh.get_json()
    if code:
        assert body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["error"]), body
    en = client.get("/api/search", query_string={**query, "lang": "en"}).get_json()
    assert en["code"] == body["code"] and en["error"].isascii() and en["error"] != body["error"]


def test_a_nul_in_the_query_is_refused(client):
    resp = client.get("/api/search?q=JA%0000002")
    assert resp.status_code == 400 and resp.is_json


def test_a_viewer_may_search_and_an_anonymous_caller_may_not(app, accounts, anonymous):
    from conftest import client_for

    viewer = client_for(app, accounts["viewer"]["token"])
    assert viewer.get("/api/search?q=JA00002").status_code == 200
    assert anonymous.get("/api/search?q=JA00002").status_code == 401


def test_the_search_can_use_the_trigram_indexes(db):
    """Each field's substring match can be answered from its pg_trgm index (at the demo's size
    the planner scans; without scans and ordered index reads it must take the indexes)."""
    db.execute(text("SET LOCAL enable_seqscan = off"))
    db.execute(text("SET LOCAL enable_indexscan = off"))
    plan = "\n".join(
        db.execute(
            text("EXPLAIN " + parcels._SEARCH["LIKE"]),
            {"q": "温塘村", "contains": "%温塘村%", "limit": 10},
        ).scalars()
    )
    for index in ("parcel_code_trgm", "parcel_owner_trgm", "parcel_location_trgm"):
        assert index in plan, plan
    assert "parcel_name_trgm" in plan and "project_name_trgm" in plan, plan
