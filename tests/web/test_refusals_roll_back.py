"""A refused request leaves the database as it was, as seen through the request's own session
once its answer is made (after the error handler, before the session is closed): whatever the
request wrote before it was refused is rolled back there, not only when the session closes."""

from __future__ import annotations

import pytest
from conftest import free_parcels
from sqlalchemy import text

from landmap.web.db import get_session


@pytest.fixture
def after(app):
    """``after(sql, **params)``: a list that gets what ``sql`` returns in each request's own
    session once the request has been answered (call it before the test's first request)."""

    def watch(sql: str, **params) -> list:
        seen: list = []

        @app.after_request
        def look(response):
            seen.append([tuple(r) for r in get_session().execute(text(sql), params)])
            return response

        return seen

    return watch


def test_a_refused_reservation_leaves_no_balance_row(client, db, after):
    """Reserving opens the year's balance (a row) before it finds nothing to reserve."""
    sql = "SELECT year, reserved_mu FROM quota_balance WHERE year = 2034"
    seen = after(sql)
    project = db.execute(text("SELECT min(id) FROM project")).scalar_one()
    resp = client.post(
        "/api/quota/entries", json={"year": 2034, "kind": "reserve", "mu": 10, "project": project}
    )
    assert resp.status_code == 409 and resp.get_json()["code"] == "quota_reserve_over_remaining"
    assert "仅剩" in resp.get_json()["error"]
    assert seen == [[]]
    assert db.execute(text(sql)).all() == []


def test_a_batch_move_whose_last_code_is_bad_leaves_every_parcel_as_it_was(client, db, after):
    codes = free_parcels(db, 3)
    sql = """SELECT (SELECT count(*) FROM stage_change),
                    (SELECT array_agg(DISTINCT stage) FROM parcel WHERE code = ANY(:c))"""
    before = [tuple(db.execute(text(sql), {"c": codes}).one())]
    seen = after(sql, c=codes)
    resp = client.post(
        "/api/stage-changes",
        json={"codes": [*codes, "NO-SUCH-PARCEL"], "stage": "surveyed", "date": "2011-12-01"},
    )
    assert resp.status_code == 404
    assert seen == [before] and before[0][1] == ["not_started"]
    assert [tuple(db.execute(text(sql), {"c": codes}).one())] == before


def test_a_refused_dispute_after_a_move_keeps_the_move(client, db, after):
    """Only the refused request is undone: what an earlier request committed stays."""
    (code,) = free_parcels(db)
    seen = after("SELECT stage, dispute FROM parcel WHERE code = :c", c=code)
    ok = client.post(f"/api/parcels/{code}/stage", json={"stage": "surveyed", "date": "2011-12-01"})
    assert ok.status_code == 201
    resp = client.post(
        f"/api/parcels/{code}/dispute",
        json={"dispute": True, "date": "2011-11-01", "reason": "早于上次变更"},
    )
    assert resp.status_code == 409 and resp.get_json()["code"] == "dated_before_last_change"
    assert seen == [[("surveyed", False)], [("surveyed", False)]]
