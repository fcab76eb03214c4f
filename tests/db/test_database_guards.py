"""The database keeps the ledger's and the zones' rules by itself, for a path that bypasses
the services (a script, psql as the app): each guard refuses what the service would."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from landmap.services import quota
from landmap.services.quota import Entry

Y = 2028  # a year of these tests' own

INSERT = """
    INSERT INTO quota_entry (year, source, kind, mu, d_granted, d_reserved, d_consumed,
        project_id, batch_id, reverses, entry_date, recorded_by)
    VALUES (:y, 'plan', :kind, :mu, :g, :r, :c, :p, :b, :rev, '2020-01-01', 'script')
    RETURNING id"""


@pytest.fixture
def batches(db) -> tuple[int, int, int]:
    """Project C and its two batches; the year granted 100 mu, 30 reserved for each batch."""
    pid, first, second = db.execute(text("""
        SELECT p.id, min(b.id), max(b.id) FROM project p JOIN acquisition_batch b
            ON b.project_id = p.id WHERE p.name = 'C区1000亩土地开发项目'
        GROUP BY p.id""")).one()  # fmt: skip
    quota.record(db, Entry(Y, "grant", "plan", Decimal(100)), "tester")
    for batch in (first, second):
        quota.record(db, Entry(Y, "reserve", "plan", Decimal(30), pid, batch), "tester")
    return pid, first, second


def insert(db, kind, mu, g=0, r=0, c=0, p=None, b=None, rev=None):
    return db.execute(text(INSERT), {"y": Y, "kind": kind, "mu": mu, "g": g, "r": r, "c": c,
                                     "p": p, "b": b, "rev": rev}).scalar_one()  # fmt: skip


def refused(db, match, *args, **kw):
    with pytest.raises(DBAPIError, match=match), db.begin_nested():
        insert(db, *args, **kw)


def test_a_release_of_more_than_was_reserved_is_refused(db, batches):
    pid, first, _ = batches
    refused(db, "more released or consumed than was reserved for it \\(10.00 mu short\\)",
            "release", 40, r=-40, p=pid, b=first)  # fmt: skip
    insert(db, "release", 30, r=-30, p=pid, b=first)  # exactly what was reserved


def test_what_was_reserved_for_the_batches_is_not_released_for_the_project(db, batches):
    pid, _, _ = batches
    refused(db, "more released or consumed than was reserved", "release", 10, r=-10, p=pid)
    refused(db, "more released or consumed than was reserved", "consume", 10, r=-10, c=10,
            p=pid)  # fmt: skip


def test_a_correction_is_the_exact_reversal_of_a_plain_entry(db, batches):
    pid, first, _ = batches
    grant = insert(db, "grant", 5, g=5)
    refused(db, "is not an exact reversal of entry", "correct", 5, g=-4, rev=grant)
    refused(db, "is not an exact reversal of entry", "correct", 5, g=-5, p=pid, rev=grant)
    fix = insert(db, "correct", 5, g=-5, rev=grant)
    again = insert(db, "grant", 7, g=7)  # the correction of a correction is refused
    insert(db, "correct", 7, g=-7, rev=again)
    refused(db, "is not an exact reversal of entry", "correct", 5, g=5, rev=fix)
    used = insert(db, "consume", 10, r=-10, c=10, p=pid, b=first)
    refused(db, "is not an exact reversal of entry", "correct", 10, r=10, c=-5, p=pid, b=first,
            rev=used)  # fmt: skip
    refused(db, "is not an exact reversal of entry", "correct", 10, r=5, c=-10, p=pid, b=first,
            rev=used)  # fmt: skip
    insert(db, "correct", 10, r=10, c=-10, p=pid, b=first, rev=used)


def test_only_the_boundaries_in_force_place_a_parcel_in_a_zone(db):
    """A boundary superseded by a smaller one no longer holds what it gave up."""
    zone, old = db.execute(text("""SELECT z.id, zb.id FROM zone z JOIN zone_boundary zb
        ON zb.zone_id = z.id AND zb.status = 'current' WHERE z.code = 'C'""")).one()  # fmt: skip
    db.execute(text("""SELECT lm_set_current_boundary(:z,
        (SELECT ST_Multi(ST_Buffer(geom, -150)) FROM zone_boundary WHERE id = :old),
        DATE '2020-01-01', 'tester', 'shrunk')"""), {"z": zone, "old": old})  # fmt: skip
    given_up = db.execute(text("""
        SELECT ST_Buffer(ST_PointOnSurface(ST_Difference(o.geom, n.geom)), 2)
        FROM zone_boundary o, zone_boundary n
        WHERE o.id = :old AND n.zone_id = :z AND n.status = 'current'"""),
        {"old": old, "z": zone}).scalar_one()  # fmt: skip
    status = db.execute(text("SELECT status FROM zone_boundary WHERE id = :i"), {"i": old})
    assert status.scalar_one() == "superseded"
    placed = db.execute(text("SELECT lm_zone_of(CAST(:g AS geometry))"), {"g": given_up})
    assert placed.scalar() != zone
