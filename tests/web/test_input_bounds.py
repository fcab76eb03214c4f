"""Bounds on what a request may carry (security issue 11): dates, numbers, sizes, parcel codes
with a slash, and documents kept only with a move that commits."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import re
from decimal import Decimal

import pytest
from conftest import free_parcels
from sqlalchemy import text

from landmap.domain import EARLIEST_DATE, Stage
from landmap.services import Refused, acquisition, adjustment, quota
from landmap.services.acquisition import SERIES_YEARS, Move, today
from landmap.services.quota import Entry

DAY_BEFORE = EARLIEST_DATE - dt.timedelta(days=1)


def strict_json(resp):
    """The body as JSON that a strict parser accepts (no NaN, no Infinity)."""
    return json.loads(resp.get_data(as_text=True), parse_constant=pytest.fail)


def circle(n: int, lon=110.53, lat=29.09, r=0.002) -> dict:
    """A valid polygon of n + 1 positions (the first repeated at the end)."""
    ring = [[round(lon + r * math.cos(2 * math.pi * i / n), 9),
             round(lat + r * math.sin(2 * math.pi * i / n), 9)] for i in range(n)]  # fmt: skip
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


# --- dates ----------------------------------------------------------------------------------


def test_event_dates_are_bounded_in_the_services(db, settings):
    (code,) = free_parcels(db, 1)
    for day in (dt.date(1, 1, 1), DAY_BEFORE, today() + dt.timedelta(days=1)):
        with pytest.raises(Refused) as move:
            acquisition.move(db, [code], Move(Stage.SURVEYED, day), "tester")
        with pytest.raises(Refused) as dispute:
            acquisition.set_dispute(db, code, True, day, "拒绝搬迁", "tester")
        with pytest.raises(Refused) as entry:
            quota.record(db, Entry(2011, "grant", "plan", Decimal(1), day=day), "tester")
        assert move.value.status == dispute.value.status == entry.value.status == 400
    draft = adjustment.create_draft(db, "C", circle(8), "", "tester", settings.region_bbox)
    with pytest.raises(Refused) as approval:
        adjustment.approve(db, "C", draft["id"], "tester", DAY_BEFORE)
    assert approval.value.status == 400 and "1949-10-01" in approval.value.message
    assert acquisition.move(db, [code], Move(Stage.SURVEYED, EARLIEST_DATE), "tester")


@pytest.mark.parametrize("day", ["0001-01-01", DAY_BEFORE.isoformat(), "9999-12-31"])
def test_event_dates_out_of_range_are_400_at_the_web_edge(client, db, day):
    (code,) = free_parcels(db, 1)
    for url, body in ((f"/api/parcels/{code}/dispute", {"dispute": True, "reason": "r"}),
                      ("/api/quota/entries", {"year": 2011, "kind": "grant", "mu": 1}),
                      (f"/api/parcels/{code}/stage", {"stage": "surveyed"})):  # fmt: skip
        resp = client.post(url, json={**body, "date": day})
        assert resp.status_code == 400 and day in resp.get_json()["error"], url
    resp = client.post("/api/zones/C/drafts", json={"geometry": circle(8)})
    approve = f"/api/zones/C/drafts/{resp.get_json()['id']}/approve"
    resp = client.post(approve, json={"valid_from": day})
    assert resp.status_code == 400 and day in resp.get_json()["error"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (f"as_of={DAY_BEFORE}", 400),
        (f"as_of={EARLIEST_DATE}", 200),
        (f"as_of={today()}", 200),
        (f"as_of={today() + dt.timedelta(days=1)}", 400),
        ("as_of=2011-02-30", 400),
        ("as_of=20111201", 400),  # a date is YYYY-MM-DD, nothing else ISO 8601 allows
    ],
)
def test_as_of_lies_from_the_earliest_date_to_today(client, query, status):
    assert client.get(f"/api/parcels?limit=1&{query}").status_code == status


def test_report_periods_lie_from_the_earliest_date_to_today(client):
    this_month, next_month = today().replace(day=1), (today().replace(day=28) + dt.timedelta(5))
    quarter = f"{today().year}-Q{(today().month + 2) // 3}"
    assert client.get(f"/reports/monthly.xlsx?month={this_month:%Y-%m}").status_code == 200
    assert client.get(f"/reports/monthly.xlsx?month={next_month:%Y-%m}").status_code == 400
    assert client.get("/reports/monthly.xlsx?month=1949-09").status_code == 400
    assert client.get(f"/reports/quarterly.xlsx?quarter={quarter}").status_code == 200
    assert client.get(f"/reports/quarterly.xlsx?quarter={today().year + 1}-Q1").status_code == 400
    assert client.get("/reports/quarterly.xlsx?quarter=1949-Q3").status_code == 400


def test_the_ledger_page_links_to_reports_that_have_begun(client):
    page = client.get("/quota").get_data(as_text=True)  # this year's: December is ahead
    links = re.findall(r'href="(/reports/[^"]+)"', page)
    assert len(links) == 2
    for link in links:
        assert client.get(link).status_code == 200, link


def test_quota_years_lie_in_the_stated_range(client, db):
    last = today().year + 15  # the plans' horizon
    assert client.get(f"/api/quota?year={last}").status_code == 200
    for year in (1989, last + 1, 10**12):
        assert client.get(f"/api/quota?year={year}").status_code == 400
        resp = client.post("/api/quota/entries", json={"year": year, "kind": "grant", "mu": 1})
        assert resp.status_code == 400 and "年度" in resp.get_json()["error"]
    with pytest.raises(Refused):
        quota.set_target(db, last + 1, Decimal(1))


def test_the_progress_series_is_bounded_whatever_the_data(client, db):
    """A stage move dated soon after the earliest date (allowed) made the series run month by
    month from then; it covers at most SERIES_YEARS, and a far-off completion is not projected
    (it would overflow the calendar)."""
    code = free_parcels(db, 1)[0]
    pid, batch = db.execute(text("SELECT project_id, batch_id FROM parcel WHERE code = :c"),
                            {"c": code}).one()  # fmt: skip
    db.execute(text("UPDATE acquisition_batch SET target_mu = 1000000 WHERE id = :b"),
               {"b": batch})  # fmt: skip
    acquisition.move(db, [code], Move(Stage.CLEARED, dt.date(1950, 1, 2)), "tester")
    body = client.get(f"/api/projects/{pid}/progress?batch={batch}").get_json()
    assert body["started"] == "1950-01-02"
    assert 12 * SERIES_YEARS <= len(body["series"]) <= 12 * SERIES_YEARS + 2
    assert body["projected_completion"] is None
    assert client.get(f"/projects/{pid}?batch={batch}").status_code == 200


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["Infinity", "NaN", "-Infinity", 1e308, 10**400, "1e308",
                                   -1, 1_000_001, True, "many", "1" * 400])  # fmt: skip
def test_a_target_is_a_finite_number_in_range_and_the_ledger_stays_json(client, value):
    before = strict_json(client.get("/api/quota?year=2011"))["target_mu"]
    resp = client.put("/api/quota/years/2011", json={"target_mu": value})
    assert resp.status_code == 400 and "年度目标" in resp.get_json()["error"]
    assert strict_json(client.get("/api/quota?year=2011"))["target_mu"] == before


@pytest.mark.parametrize("body", [{"mu": 1e308}, {"mu": "NaN"}, {"mu": "Infinity"},
                                  {"mu": 10**400}, {"mu": 1_000_001}, {"ha": 70_000},
                                  {"ha": "1e308"}, {"mu": [1]}])  # fmt: skip
def test_quota_amounts_are_finite_and_in_range(client, body):
    resp = client.post("/api/quota/entries", json={"year": 2011, "kind": "grant", **body})
    assert resp.status_code == 400, resp.get_json()


def test_the_services_refuse_amounts_out_of_range(db):
    for mu in ("Infinity", "NaN", "1e308", "1000000.01"):
        with pytest.raises(Refused):
            quota.to_mu(mu)
    for target in (Decimal("Infinity"), Decimal("NaN"), Decimal("1e308"), Decimal(-1)):
        with pytest.raises(Refused):
            quota.set_target(db, 2011, target)


def test_json_answers_never_carry_nan(app):
    with app.test_request_context(), pytest.raises(ValueError):
        app.json.response({"mu": float("nan")})


@pytest.mark.parametrize("body", ['{"note": NaN}', '{"mu": Infinity}', '{"mu": 1e999}'])
def test_json_bodies_with_non_finite_numbers_are_400(client, body):
    resp = client.post("/api/quota/entries", data=body, content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["error"]


# --- sizes ----------------------------------------------------------------------------------


def test_a_selection_polygon_has_at_most_10000_positions(client):
    assert client.post("/api/parcels/select", json={"geometry": circle(9999)}).status_code == 200
    resp = client.post("/api/parcels/select", json={"geometry": circle(10000)})
    assert resp.status_code == 400 and "10000" in resp.get_json()["error"]


def test_a_draft_has_at_most_100000_positions(client):
    resp = client.post("/api/zones/C/drafts", json={"geometry": circle(100_000)})
    assert resp.status_code == 400 and "100000" in resp.get_json()["error"]


def test_json_bodies_are_bounded_per_route(client):
    pad = " " * (2 * 1024 * 1024)  # JSON allows white space: the body is valid, only large
    resp = client.post("/api/parcels/select", data='{"geometry": null}' + pad,
                       content_type="application/json")  # fmt: skip
    assert resp.status_code == 413 and "2" in resp.get_json()["error"]
    resp = client.post("/api/zones/C/drafts", data='{"geometry": null}' + pad,
                       content_type="application/json")  # drafts may be larger  # fmt: skip
    assert resp.status_code == 400
    resp = client.post("/api/zones/C/drafts", data='{"geometry": null}' + pad * 4,
                       content_type="application/json")  # fmt: skip
    assert resp.status_code == 413 and "8" in resp.get_json()["error"]


# --- parcel codes with a slash --------------------------------------------------------------


def test_a_parcel_whose_code_has_a_slash_is_reachable(client, db):
    code = "430802/003/JA-9"
    db.execute(text("INSERT INTO parcel (code, geom) VALUES (:c, ST_Multi(ST_MakeEnvelope("
                    "457000, 3218300, 457010, 3218310, 4546)))"), {"c": code})  # fmt: skip
    for url in (f"/api/parcels/{code}", "/api/parcels/430802%2F003%2FJA-9"):
        resp = client.get(url)
        assert resp.status_code == 200 and resp.get_json()["id"] == code
    assert client.get(f"/api/parcels/{code}/history").get_json() == []
    resp = client.post(f"/api/parcels/{code}/stage", json={"stage": "surveyed",
                                                           "date": "2011-12-01"})  # fmt: skip
    assert resp.status_code == 201 and resp.get_json()["parcels"] == [code]
    resp = client.post(f"/api/parcels/{code}/dispute", json={"dispute": True, "reason": "r",
                                                             "date": "2011-12-02"})  # fmt: skip
    assert resp.status_code == 201
    assert [h["kind"] for h in client.get(f"/api/parcels/{code}/history").get_json()] == [
        "stage", "dispute"]  # fmt: skip
    assert client.get("/api/parcels/NO/SUCH/PARCEL").status_code == 404
    assert client.post("/api/parcels/select", json={"geometry": circle(8)}).status_code == 200


# --- documents only with a move that commits ------------------------------------------------


def files(folder) -> set[str]:
    return {str(p) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def kept(db, content: bytes) -> int:
    """How many times ``content`` is kept in the database."""
    found = "SELECT count(*) FROM document_content WHERE content = :c"
    return db.execute(text(found), {"c": content}).scalar_one()


def test_a_refused_move_leaves_no_document_behind(client, db, settings):
    (code,) = free_parcels(db, 1)
    moved = client.post(f"/api/parcels/{code}/stage", json={"stage": "cleared",
                                                            "date": "2011-12-02"})  # fmt: skip
    assert moved.status_code == 201
    pdf = b"%PDF-1.4\n" + os.urandom(32) + b"\n%%EOF\n"  # content of this test only
    before = files(settings.documents_dir)
    resp = client.post(
        f"/api/parcels/{code}/stage",
        data={
            "stage": "surveyed",
            "date": "2011-12-03",  # back without a reason: refused
            "documents": [(io.BytesIO(pdf), "协议.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 409
    assert files(settings.documents_dir) == before and kept(db, pdf) == 0
    resp = client.post(
        f"/api/parcels/{code}/stage",
        data={
            "stage": "surveyed",
            "date": "2011-12-03",
            "correction": "1",
            "reason": "误报",
            "documents": [(io.BytesIO(pdf), "协议.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201
    assert files(settings.documents_dir) == before and kept(db, pdf) == 1
