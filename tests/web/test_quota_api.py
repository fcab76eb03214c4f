"""The quota API: entries, refusals, demand, workbooks, and concurrent reservations."""

import io
import json
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from landmap.services import quota


def project_id(db, name="雨润集团"):
    return db.execute(text("SELECT id FROM project WHERE name = :n"), {"n": name}).scalar_one()


def test_the_demo_ledger_for_2011(client):
    book = client.get("/api/quota?year=2011").get_json()
    assert set(book) >= {"year", "target_mu", "granted_mu", "reserved_mu", "consumed_mu",
                         "remaining_mu", "entries"}  # fmt: skip
    assert book["target_mu"] == 600 and book["granted_mu"] == 530
    assert book["remaining_mu"] == pytest.approx(
        book["granted_mu"] - book["reserved_mu"] - book["consumed_mu"], abs=0.01
    )
    assert len(book["entries"]) == 6


def test_a_grant_entered_as_one_hectare_reads_back_as_15_mu(client):
    resp = client.post("/api/quota/entries", json={"year": 2032, "kind": "grant", "ha": 1,
                                                   "source": "plan", "ref": "示例"})  # fmt: skip
    assert resp.status_code == 201 and resp.get_json()["mu"] == 15
    assert client.get("/api/quota?year=2032").get_json()["granted_mu"] == 15


def test_over_allocation_is_409_with_the_remaining_figure(client, db):
    client.post("/api/quota/entries", json={"year": 2033, "kind": "grant", "mu": 20})
    resp = client.post(
        "/api/quota/entries",
        json={"year": 2033, "kind": "reserve", "mu": 25, "project": project_id(db)},
    )
    body = resp.get_json()
    assert resp.status_code == 409 and body["code"] == "quota_reserve_over_remaining"
    assert body["error"] == "无法预留 25.00 亩：2033 年的年度计划指标仅剩 20.00 亩"
    en = client.post(
        "/api/quota/entries?lang=en",
        json={"year": 2033, "kind": "reserve", "mu": 25, "project": project_id(db)},
    ).get_json()
    assert (
        en["error"] == "cannot reserve 25.00 mu: only 20.00 mu of the 2033 Annual plan quota remain"
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"year": 2033, "kind": "grant"}, 400),
        ({"year": 2033, "kind": "grant", "mu": 1, "ha": 1}, 400),
        ({"year": 2033, "kind": "grant", "mu": -3}, 400),
        ({"year": 2033, "kind": "gift", "mu": 3}, 400),
        ({"year": "soon", "kind": "grant", "mu": 3}, 400),
        ({"year": 2033, "kind": "reserve", "mu": 3}, 400),
        ({"year": 2033, "kind": "reserve", "mu": 3, "project": 999999}, 404),
        ({"year": 2033, "kind": "reserve", "mu": 3, "batch": 999999}, 404),
        ({"kind": "correct", "reverses": 999999}, 404),
        ({"year": 2033, "kind": "grant", "mu": 3, "date": "31/12/2033"}, 400),
    ],
)
def test_bad_entries_get_4xx(client, body, status):
    resp = client.post("/api/quota/entries", json=body)
    answer = resp.get_json()
    assert resp.status_code == status and answer["code"], answer
    assert re.search(r"[\u4e00-\u9fff]", answer["error"]), answer
    for internal in ("grant", "reserve", "correct", "kind", "source"):
        assert internal not in answer["error"], answer
    english = client.post("/api/quota/entries?lang=en", json=body).get_json()
    assert english["code"] == answer["code"] and not re.search(r"[\u4e00-\u9fff]", english["error"])


def test_demand_by_project_batch_and_parcels(client, db):
    batch = db.execute(text("SELECT id FROM acquisition_batch WHERE name = '第一批'")).scalar()
    by_batch = client.get(f"/api/quota/demand?batch={batch}").get_json()
    assert set(by_batch) >= {"agricultural_mu", "cultivated_mu", "construction_mu",
                             "unknown_codes"}  # fmt: skip
    codes = db.execute(text("SELECT string_agg(code, ',') FROM parcel WHERE batch_id = :b"),
                       {"b": batch}).scalar()  # fmt: skip
    by_codes = client.get(f"/api/quota/demand?parcels={codes}").get_json()
    assert by_codes["agricultural_mu"] == by_batch["agricultural_mu"]
    assert client.get("/api/quota/demand").status_code == 400
    assert client.get("/api/quota/demand?parcels=NOPE").status_code == 404


def test_reserving_the_demand_in_one_step(client, db):
    client.post("/api/quota/entries", json={"year": 2034, "kind": "grant", "mu": 1000})
    batch = db.execute(text("SELECT id FROM acquisition_batch WHERE name = '第二批'")).scalar()
    need = client.get(f"/api/quota/demand?batch={batch}").get_json()
    resp = client.post("/api/quota/reserve-demand", json={"year": 2034, "batch": batch})
    assert resp.status_code == 201 and resp.get_json()["mu"] == need["agricultural_mu"]


def test_year_target(client):
    resp = client.put("/api/quota/years/2035", json={"target_mu": 700, "note": "目标"})
    assert resp.status_code == 200 and resp.get_json()["target_mu"] == 700
    assert client.put("/api/quota/years/2035", json={"target_mu": "many"}).status_code == 400


def test_the_ledger_page_and_workbooks_match_the_api(client):
    page = client.get("/quota?year=2011").get_data(as_text=True)
    for part in ('id="balance"', 'id="demand"', 'id="entries"', "<svg"):
        assert part in page
    book = client.get("/api/quota?year=2011").get_json()
    resp = client.get("/reports/monthly.xlsx?month=2011-09")
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames == [
        *("说明", "用地指标", "指标变动", "征拆进度", "项目", "分区地类"),
        *("企业统计", "亩均效益", "补偿安置"),
    ]
    movements = list(wb["指标变动"].iter_rows(min_row=2, values_only=True))
    assert sorted(r[4] for r in movements) == [7.5, 52.5]  # September: consumed, released
    total = next(r for r in wb["用地指标"].iter_rows(values_only=True) if r[0] == "合计")
    assert list(total[1:5]) == [book["granted_mu"], book["reserved_mu"], book["consumed_mu"],
                                book["remaining_mu"]]  # fmt: skip
    q = load_workbook(io.BytesIO(client.get("/reports/quarterly.xlsx?quarter=2011-Q3").data))
    progress = {r[1]: r for r in q["征拆进度"].iter_rows(min_row=2, values_only=True)}
    assert progress["第一批"][2] == 315
    bad_month = client.get("/reports/monthly.xlsx?month=2011-13")
    assert bad_month.status_code == 400
    assert "月份格式须为 YYYY-MM" in bad_month.get_data(as_text=True)


def test_50_concurrent_reservations_of_10_mu_against_100(live_server, live_engine, live_accounts):
    """Through a live server, each request its own connection and transaction, committed: in
    the live schema, so the shared one never sees year 2031's grant and reservations."""
    year = 2031
    with Session(live_engine) as s:
        pid = project_id(s)
        quota.record(s, quota.Entry(year, "grant", "plan", Decimal(100)), "tester")
        s.commit()

    def reserve(_):
        req = urllib.request.Request(
            f"{live_server}/api/quota/entries", method="POST",
            data=json.dumps({"year": year, "kind": "reserve", "mu": 10,
                             "project": pid}).encode(),
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {live_accounts['admin']['token']}"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(reserve, range(50)))
    statuses = sorted(s for s, _ in results)
    assert statuses.count(201) == 10 and statuses.count(409) == 40, statuses
    refused = {body["code"] for s, body in results if s == 409}
    assert refused <= {"quota_reserve_over_remaining", "quota_refused_by_database"}, refused
    assert all(
        "仅剩" in body["error"] or "剩余" in body["error"] for s, body in results if s == 409
    )
    with live_engine.connect() as conn:
        row = conn.execute(
            text("SELECT reserved_mu, remaining_mu FROM quota_balance "
                 "WHERE year = :y AND source = 'plan'"), {"y": year},
        ).one()  # fmt: skip
    assert (row.reserved_mu, row.remaining_mu) == (100, 0)
