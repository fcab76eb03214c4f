"""Supply (供地), construction and building facts of a parcel through the API: the shapes, every
refusal, the as-of, corrections, the land user, the audit and the project page's table."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import client_for, free_parcels
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from landmap.domain import Stage, today
from landmap.services import acquisition, enterprises
from landmap.services.acquisition import Move

SUPPLY = {
    "method": "transfer",
    "way": "listing",
    "date": "2012-01-10",
    "contract_no": "张土出〔2012〕7号",
    "price_wan": "1234.5",
    "start_due": "2012-06-01",
    "completion_due": "2014-01-01",
    "investment_wan": 8000,
    "floor_area_m2": 12000,
}


def cleared(db, offset: int = 20, day: dt.date = dt.date(2011, 6, 1)) -> str:
    """A parcel of a project, cleared (整理到位) on ``day``, never supplied."""
    (code,) = free_parcels(db, 1, offset)
    acquisition.move(db, [code], Move(Stage.CLEARED, day), "test")
    return code


@pytest.fixture
def enterprise(db) -> dict:
    row = enterprises.create_enterprise(db, {"name": "供地测试有限公司"})
    return {"id": row.id, "name": row.name}


@pytest.fixture
def supplied(db, client, enterprise) -> str:
    code = cleared(db)
    resp = client.post(
        f"/api/parcels/{code}/supply", json={**SUPPLY, "enterprise": enterprise["id"]}
    )
    assert resp.status_code == 201, resp.get_json()
    return code


def detail(client, code: str, **query) -> dict:
    resp = client.get(f"/api/parcels/{code}", query_string=query)
    assert resp.status_code == 200
    return resp.get_json()["properties"]


def land_user(db, code: str) -> int | None:
    return db.execute(
        text("SELECT land_user_id FROM parcel WHERE code = :c"), {"c": code}
    ).scalar_one()


def test_a_supply_is_recorded_and_the_parcel_carries_it(client, db, enterprise, supplied):
    s = detail(client, supplied)["supply"]
    assert (s["method"], s["way"], s["date"], s["contract_no"]) == (
        "transfer", "listing", "2012-01-10", "张土出〔2012〕7号")  # fmt: skip
    assert (s["method_zh"], s["way_zh"]) == ("出让", "挂牌")
    assert (s["price_wan"], s["investment_wan"], s["floor_area_m2"]) == (1234.5, 8000, 12000)
    assert (s["start_due"], s["completion_due"]) == ("2012-06-01", "2014-01-01")
    assert s["enterprise"] == enterprise["name"] and s["enterprise_id"] == enterprise["id"]
    assert land_user(db, supplied) == enterprise["id"]
    before = detail(client, supplied, as_of="2012-01-09")
    assert before["supply"] is None and before["construction"] is None
    assert detail(client, supplied, as_of="2012-01-10")["supply"]["id"] == s["id"]


def test_labels_and_an_enterprise_by_name_are_accepted(client, db, enterprise):
    code = cleared(db)
    body = {**SUPPLY, "method": "划拨", "way": None, "enterprise": enterprise["name"]}
    resp = client.post(f"/api/parcels/{code}/supply", json=body)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["supply"]["method"] == "allocation"
    assert land_user(db, code) == enterprise["id"]


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        ({"method": "sale"}, "unknown_choice", "supply method"),
        ({"method": None}, "supply_field_required", "supply method"),
        ({"contract_no": "  "}, "register_text_required", "contract number"),
        ({"contract_no": None}, "register_text_required", "contract number"),
        ({"price_wan": "-1"}, "not_a_number", "price"),
        ({"price_wan": "NaN"}, "not_a_number", "price"),
        ({"date": "2012-02-30"}, "not_a_day", "date"),
        ({"date": "2999-01-01"}, "date_in_future", "future"),
        ({"start_due": "2011-01-01"}, "supply_start_before_supply", "contracted start"),
        ({"completion_due": "2012-05-01"}, "supply_completion_before_start", "completion"),
        ({"start_due": "2201-01-01"}, "supply_due_out_of_range", "contracted start"),
        ({"method": "allocation"}, "supply_way_only_for_transfer", "transfer"),
        ({"enterprise": "没有这家企业"}, "no_such_enterprise", "no enterprise"),
        ({"corrects": "x"}, "supply_corrects_not_an_id", "supply corrected"),
        ({"note": ["x"]}, "register_not_text", "note"),
    ],
)
def test_bad_supplies_are_400_naming_the_field(client, db, change, code, says):
    parcel = cleared(db)
    resp = client.post(f"/api/parcels/{parcel}/supply?lang=en", json={**SUPPLY, **change})
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["code"] == code
    assert says in resp.get_json()["error"]
    assert detail(client, parcel)["supply"] is None


def test_a_parcel_not_cleared_on_the_supply_date_is_409_saying_its_stage(client, db):
    (code,) = free_parcels(db, 1, 21)
    resp = client.post(f"/api/parcels/{code}/supply", json=SUPPLY)
    assert resp.status_code == 409
    assert resp.get_json()["code"] == "supply_needs_cleared_land"
    assert "未启动" in resp.get_json()["error"]  # its stage, in Chinese by default
    early = cleared(db, 22, dt.date(2012, 3, 1))  # cleared after the supply date
    resp = client.post(f"/api/parcels/{early}/supply", json=SUPPLY)
    assert resp.status_code == 409 and resp.get_json()["code"] == "supply_needs_cleared_land"
    missing = client.post("/api/parcels/NO-SUCH-PARCEL/supply", json=SUPPLY)
    assert missing.status_code == 404


def test_state_land_in_hand_can_be_supplied(client, db):
    code = db.execute(
        text("""SELECT code FROM parcel p WHERE stage = 'state_owned' AND retired_on IS NULL
                  AND lm_supply_in_force(p.id, NULL) IS NULL ORDER BY code LIMIT 1""")
    ).scalar()
    if code is None:  # the demo has none: make one
        code = "430802003004GB99991"
        db.execute(
            text("""INSERT INTO parcel (code, stage, geom) SELECT :c, 'state_owned',
                    ST_Translate(geom, 5000, 5000) FROM parcel ORDER BY id LIMIT 1"""),
            {"c": code},
        )
    resp = client.post(f"/api/parcels/{code}/supply", json={**SUPPLY, "method": "allocation",
                                                             "way": ""})  # fmt: skip
    assert resp.status_code == 201, resp.get_json()


def test_a_second_supply_is_a_correction_which_replaces_the_one_in_force(
    client, db, enterprise, supplied
):
    first = detail(client, supplied)["supply"]
    again = client.post(f"/api/parcels/{supplied}/supply", json=SUPPLY)
    assert again.status_code == 409 and again.get_json()["code"] == "supply_already_supplied"
    other = enterprises.create_enterprise(db, {"name": "更正后的企业"})
    body = {**SUPPLY, "price_wan": 1300, "enterprise": other.id, "corrects": first["id"]}
    resp = client.post(f"/api/parcels/{supplied}/supply", json=body)
    assert resp.status_code == 201, resp.get_json()
    now = detail(client, supplied)["supply"]
    assert now["id"] != first["id"] and now["price_wan"] == 1300 and now["corrects"] == first["id"]
    assert land_user(db, supplied) == other.id
    twice = client.post(f"/api/parcels/{supplied}/supply", json=body)
    assert twice.status_code == 409 and twice.get_json()["code"] == "supply_already_corrected"
    history = client.get(f"/api/parcels/{supplied}/supply-history").get_json()["supply"]
    assert [h["id"] for h in history] == [first["id"], now["id"]]
    assert history[0]["corrected_by"] == now["id"]
    foreign = cleared(db, 23)
    resp = client.post(f"/api/parcels/{foreign}/supply", json=body)
    assert resp.status_code == 409 and resp.get_json()["code"] == "supply_not_of_parcel"


def test_the_database_refuses_to_alter_a_supply(db, supplied):
    with pytest.raises(DBAPIError), db.begin_nested():
        db.execute(text("UPDATE land_supply SET price_wan = 1 WHERE contract_no = :c"),
                   {"c": SUPPLY["contract_no"]})  # fmt: skip
    with pytest.raises(DBAPIError), db.begin_nested():
        db.execute(text("DELETE FROM land_supply WHERE contract_no = :c"),
                   {"c": SUPPLY["contract_no"]})  # fmt: skip


def event(client, code: str, what: str, day: str, note: str = "", **more):
    return client.post(
        f"/api/parcels/{code}/construction",
        json={"event": what, "date": day, "note": note, **more},
    )


def test_construction_before_the_supply_is_409(client, db, supplied):
    unsupplied = cleared(db, 24)
    resp = event(client, unsupplied, "started", "2012-05-01")
    assert resp.status_code == 409 and resp.get_json()["code"] == "construction_not_supplied"
    resp = event(client, supplied, "started", "2012-01-09")  # the day before its supply
    assert resp.status_code == 409 and resp.get_json()["code"] == "construction_not_supplied"


def test_a_corrected_supply_keeps_the_construction_recorded_under_it(client, supplied):
    """Correcting a mistyped price must not forget that building started."""
    assert event(client, supplied, "started", "2012-05-01").status_code == 201
    first = detail(client, supplied)["supply"]
    body = {**SUPPLY, "price_wan": 1299, "corrects": first["id"]}
    assert client.post(f"/api/parcels/{supplied}/supply", json=body).status_code == 201
    assert detail(client, supplied)["construction"]["event"] == "started"
    assert event(client, supplied, "completed", "2013-05-01").status_code == 201


def test_construction_goes_in_order(client, supplied):
    def refused(what, day, code, note="", status=409):
        resp = event(client, supplied, what, day, note)
        assert resp.status_code == status, resp.get_json()
        assert resp.get_json()["code"] == code

    refused("completed", "2012-03-01", "construction_needs_start")
    refused("stopped", "2012-03-01", "construction_needs_start", "资金未到位")
    assert event(client, supplied, "动工", "2012-03-01").status_code == 201  # a label
    refused("started", "2012-03-02", "construction_out_of_order")
    refused("commissioned", "2012-03-02", "construction_out_of_order")
    refused("stopped", "2012-04-01", "construction_stop_needs_reason", status=400)
    resp = event(client, supplied, "stopped", "2012-04-01", "资金未到位", developed_m2=100)
    assert resp.status_code == 201
    assert resp.get_json()["construction"]["developed_m2"] == 100
    refused("completed", "2012-05-01", "construction_out_of_order")  # not while stopped
    refused("resumed", "2012-03-15", "dated_before_last_change")  # back in time
    for what, day in [("resumed", "2012-05-01"), ("completed", "2013-06-01"),
                      ("commissioned", "2013-09-01")]:  # fmt: skip
        assert event(client, supplied, what, day).status_code == 201
    refused("stopped", "2013-10-01", "construction_out_of_order", "停产")
    last = detail(client, supplied)["construction"]
    assert (last["event"], last["event_zh"], last["date"]) == ("commissioned", "投产", "2013-09-01")
    assert detail(client, supplied, as_of="2012-04-15")["construction"]["event"] == "stopped"
    history = client.get(f"/api/parcels/{supplied}/supply-history").get_json()["construction"]
    assert [h["event"] for h in history] == [
        "started", "stopped", "resumed", "completed", "commissioned"]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"event": "built", "date": "2012-03-01"}, "unknown_choice"),
        ({"event": "started"}, "supply_field_required"),
        ({"event": "started", "date": "2012-03-01", "invested_wan": "Infinity"}, "not_a_number"),
        ({"event": 5, "date": "2012-03-01"}, "supply_not_a_choice"),
    ],
)
def test_bad_construction_events_are_400(client, supplied, body, code):
    resp = client.post(f"/api/parcels/{supplied}/construction", json=body)
    assert resp.status_code == 400 and resp.get_json()["code"] == code


def test_building_facts_as_of(client, supplied):
    resp = client.patch(
        f"/api/parcels/{supplied}/buildings",
        json={
            "floor_area_m2": 9000,
            "footprint_m2": 4000,
            "industrial_cover_m2": 5200,
            "date": "2013-07-01",
        },  # fmt: skip
    )
    assert resp.status_code == 200, resp.get_json()
    b = detail(client, supplied)["buildings"]
    assert (b["floor_area_m2"], b["footprint_m2"], b["industrial_cover_m2"], b["date"]) == (
        9000, 4000, 5200, "2013-07-01")  # fmt: skip
    assert detail(client, supplied, as_of="2013-06-30")["buildings"] is None
    resp = client.patch(f"/api/parcels/{supplied}/buildings",
                        json={"floor_area_m2": 9500, "footprint_m2": 4000})  # fmt: skip
    assert resp.status_code == 200
    assert resp.get_json()["buildings"]["date"] == today().isoformat()  # no date: today
    assert detail(client, supplied)["buildings"]["floor_area_m2"] == 9500
    bad = client.patch(
        f"/api/parcels/{supplied}/buildings",
        json={"floor_area_m2": 1, "footprint_m2": 40, "industrial_cover_m2": 30},
    )
    assert bad.status_code == 400 and bad.get_json()["code"] == "buildings_cover_below_footprint"
    missing = client.patch(f"/api/parcels/{supplied}/buildings", json={"footprint_m2": 1})
    assert missing.status_code == 400 and missing.get_json()["code"] == "supply_field_required"
    history = client.get(f"/api/parcels/{supplied}/supply-history").get_json()["buildings"]
    assert [h["floor_area_m2"] for h in history] == [9000, 9500]


def test_a_viewer_may_read_but_not_record(app, accounts, db, supplied):
    viewer = client_for(app, accounts["viewer"]["token"])
    for method, path, body in [
        ("POST", "supply", SUPPLY),
        ("POST", "construction", {"event": "started", "date": "2012-03-01"}),
        ("PATCH", "buildings", {"floor_area_m2": 1, "footprint_m2": 1}),
    ]:
        resp = viewer.open(f"/api/parcels/{supplied}/{path}", method=method, json=body)
        assert resp.status_code == 403, path
    assert viewer.get(f"/api/parcels/{supplied}/supply-history").status_code == 200
    assert detail(viewer, supplied)["construction"] is None


def test_an_officers_supply_is_audited_under_their_name(app, accounts, db, enterprise):
    code = cleared(db)
    officer = client_for(app, accounts["officer"]["token"])
    resp = officer.post(f"/api/parcels/{code}/supply", json={**SUPPLY, "contract_no": "审计-1"})
    assert resp.status_code == 201
    rows = db.execute(
        text("SELECT actor, action FROM audit_log WHERE entity = 'supply' AND key = '审计-1'")
    ).all()
    assert [r.actor for r in rows] == [accounts["officer"]["name"]]
    recorded = resp.get_json()["recorded"]
    assert recorded["recorded_by"] == accounts["officer"]["name"]


def test_the_project_page_lists_its_plots_supply_and_construction(client, db, enterprise, supplied):
    assert event(client, supplied, "started", "2012-08-01").status_code == 201
    project = db.execute(
        text("SELECT project_id FROM parcel WHERE code = :c"), {"c": supplied}
    ).scalar_one()
    page = client.get(f"/projects/{project}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="plots"' in html and f"parcel={supplied}" in html
    row = html.split(f'data-code="{supplied}"')[1].split("</tr>")[0]
    assert "出让" in row and enterprise["name"] in row and "2012-08-01" in row
    assert "61" in row  # started 61 days after the contracted start (2012-06-01)
    past = client.get(f"/projects/{project}", query_string={"as_of": "2011-12-31"})
    row = past.get_data(as_text=True).split(f'data-code="{supplied}"')[1].split("</tr>")[0]
    assert enterprise["name"] not in row
