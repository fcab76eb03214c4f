"""Rules decided in one place (migration 0012): replacing a zone's boundary, by a load or by
an approval, and where a batch stands in the quota ledger of a year."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from landmap.services import quota
from landmap.services.quota import Entry

X0, Y0 = 470000.0, 3222000.0  # a square test zone U, away from the demo's parcels


def square(x0, y0, x1, y1) -> str:
    geom = shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)
    return f"ST_Multi(ST_GeomFromText('{geom.wkt}', lm_storage_srid()))"


@pytest.fixture
def zone_u(db):
    """Zone U: boundary (0,0)-(1000,1000) from 2020-01-01; a parcel east of it."""
    zone_id = db.execute(
        text("INSERT INTO zone (code, name) VALUES ('U', 'U区') RETURNING id")
    ).scalar_one()
    db.execute(
        text(
            f"SELECT lm_set_current_boundary(:z, {square(0, 0, 1000, 1000)}, '2020-01-01', 't', '')"
        ),
        {"z": zone_id},
    )
    db.execute(
        text(f"INSERT INTO parcel (code, geom) VALUES ('U-EAST', {square(1100, 0, 1200, 100)})")
    )
    return zone_id


def zone_of(db, code: str) -> str | None:
    return db.execute(
        text("SELECT z.code FROM parcel p LEFT JOIN zone z ON z.id = p.zone_id WHERE p.code = :c"),
        {"c": code},
    ).scalar()


def boundaries(db, zone_id: int) -> list[tuple]:
    return db.execute(
        text("""SELECT status, valid_from, valid_to FROM zone_boundary
                WHERE zone_id = :z AND status <> 'draft' ORDER BY valid_from"""),
        {"z": zone_id},
    ).all()


def test_a_loaded_boundary_supersedes_the_current_one_and_rezones(db, zone_u):
    assert zone_of(db, "U-EAST") is None
    db.execute(
        text(
            f"SELECT lm_set_current_boundary(:z, {square(0, 0, 1300, 1000)}, '2021-01-01', "
            "'t', 'grown')"
        ),
        {"z": zone_u},
    )
    assert boundaries(db, zone_u) == [
        ("superseded", dt.date(2020, 1, 1), dt.date(2021, 1, 1)),
        ("current", dt.date(2021, 1, 1), None),
    ]
    assert zone_of(db, "U-EAST") == "U"


def test_an_approved_draft_supersedes_the_current_one_and_rezones(db, zone_u):
    draft = db.execute(
        text(f"""INSERT INTO zone_boundary (zone_id, status, geom)
                 VALUES (:z, 'draft', {square(0, 0, 1300, 1000)}) RETURNING id"""),
        {"z": zone_u},
    ).scalar_one()
    db.execute(text("SELECT lm_approve_draft(:d, '2021-01-01', 'admin')"), {"d": draft})
    assert boundaries(db, zone_u)[-1] == ("current", dt.date(2021, 1, 1), None)
    assert zone_of(db, "U-EAST") == "U"


@pytest.mark.parametrize("by", ["load", "approval"])
def test_both_ways_refuse_a_start_not_after_the_current_one_alike(db, zone_u, by):
    if by == "load":
        sql = f"SELECT lm_set_current_boundary(:z, {square(0, 0, 900, 900)}, '2020-01-01', 't', '')"
        params = {"z": zone_u}
    else:
        draft = db.execute(
            text(f"""INSERT INTO zone_boundary (zone_id, status, geom)
                     VALUES (:z, 'draft', {square(0, 0, 900, 900)}) RETURNING id"""),
            {"z": zone_u},
        ).scalar_one()
        sql, params = "SELECT lm_approve_draft(:d, '2020-01-01', 'admin')", {"d": draft}
    refusal = "in force from 2020-01-01; a new one must start after"
    with pytest.raises(DBAPIError, match=refusal), db.begin_nested():
        db.execute(text(sql), params)


def test_a_batch_quota_status_is_of_the_year_asked_for(db):
    """Reserved in 2030, consumed in 2031: each year's status is its own, the map's legend
    (demand_vs_reserved) says the same as the tiles' SQL, and without a year every year
    counts."""
    project_id, batch_id = db.execute(
        text("SELECT project_id, id FROM acquisition_batch ORDER BY id LIMIT 1")
    ).one()
    for year, kind in ((2030, "grant"), (2031, "grant")):
        quota.record(db, Entry(year, kind, "plan", Decimal(100)), "t")
    quota.record(db, Entry(2030, "reserve", "plan", Decimal(5), project_id, batch_id), "t")
    quota.record(db, Entry(2031, "consume", "plan", Decimal(5), project_id, batch_id), "t")

    def status(year):
        return db.execute(
            text("SELECT lm_quota_status(:p, :b, CAST(:y AS integer))"),
            {"p": project_id, "b": batch_id, "y": year},
        ).scalar()

    assert (status(2030), status(2031), status(2032), status(None)) == (
        "reserved",
        "consumed",
        "none",
        "consumed",
    )
    for year in (2030, 2031, 2032):
        (row,) = [b for b in quota.demand_vs_reserved(db, year) if b.id == batch_id]
        assert row.status == status(year) and row.year == year
