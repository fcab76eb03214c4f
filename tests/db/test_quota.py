"""The quota ledger's arithmetic and guards, and the demand computed from the land."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from landmap.geo.units import mu_to_m2
from landmap.services import quota
from landmap.services.quota import Entry, QuotaRefused

Y = 2030  # a year of the tests' own: the demo's ledger is 2011


def project(db, name="雨润集团"):
    return db.execute(text("SELECT id FROM project WHERE name = :n"), {"n": name}).scalar_one()


def book(db):
    b = quota.ledger(db, Y)
    return (b.granted_mu, b.reserved_mu, b.consumed_mu, b.remaining_mu)


def rec(db, kind, mu=None, **kw):
    amount = Decimal(str(mu)) if mu is not None else None
    return quota.record(db, Entry(Y, kind, kw.pop("source", "plan"), amount, **kw), "tester")


def test_every_kind_moves_the_right_bucket(db):
    p = project(db)
    rec(db, "grant", 100)
    assert book(db) == (100, 0, 0, 100)
    rec(db, "reserve", 30, project_id=p)
    assert book(db) == (100, 30, 0, 70)
    rec(db, "consume", 20, project_id=p)  # from the reservation
    assert book(db) == (100, 10, 20, 70)
    rec(db, "release", 10, project_id=p)
    assert book(db) == (100, 0, 20, 80)
    rec(db, "consume", 5, project_id=p)  # nothing reserved left: taken from what remains
    assert book(db) == (100, 0, 25, 75)


def test_a_reversal_restores_the_balance(db):
    p = project(db)
    rec(db, "grant", 100)
    before = book(db)
    wrong = rec(db, "reserve", 40, project_id=p, ref="误录")
    fix = quota.record(db, Entry(Y, "correct", reverses=wrong.id, note="冲正"), "tester")
    assert book(db) == before
    assert fix.reverses == wrong.id and fix.reserved == -40
    with pytest.raises(QuotaRefused, match="cannot itself be reversed"):
        quota.record(db, Entry(Y, "correct", reverses=fix.id), "tester")
    with pytest.raises(QuotaRefused, match="already reversed"):
        quota.record(db, Entry(Y, "correct", reverses=wrong.id), "tester")
    with pytest.raises(DBAPIError, match="quota_entry_reverses_key"), db.begin_nested():
        db.execute(text("""
            INSERT INTO quota_entry (year, source, kind, mu, d_granted, d_reserved, d_consumed,
                project_id, reverses, entry_date, recorded_by)
            VALUES (:y, 'plan', 'correct', 40, 0, -40, 0, :p, :r, '2020-01-01', 'x')"""),
            {"y": Y, "p": p, "r": wrong.id})  # fmt: skip


def test_hectares_are_fifteen_mu():
    assert quota.to_mu(ha=1) == Decimal(15)
    assert quota.to_mu(mu="2.5") == Decimal("2.5")
    for bad in ({"mu": 1, "ha": 1}, {}, {"mu": -1}, {"ha": "x"}, {"mu": "NaN"}):
        with pytest.raises(QuotaRefused):
            quota.to_mu(**bad)


def test_overdrafts_are_refused_naming_what_remains(db):
    p = project(db)
    rec(db, "grant", 100)
    rec(db, "reserve", 95, project_id=p)
    with pytest.raises(QuotaRefused, match="only 5.00 mu"):
        rec(db, "reserve", 10, project_id=p)
    with pytest.raises(QuotaRefused, match="only 95.00 mu are reserved"):
        rec(db, "release", 96, project_id=p)
    with pytest.raises(QuotaRefused, match="only 5.00 mu .* remain"):
        rec(db, "consume", 101, project_id=p)
    assert book(db) == (100, 95, 0, 5)


def test_reversing_a_grant_that_is_already_reserved_is_refused(db):
    p = project(db)
    grant = rec(db, "grant", 50)
    rec(db, "reserve", 40, project_id=p)
    with pytest.raises(QuotaRefused, match="quota_never_overdrawn"):
        quota.record(db, Entry(Y, "correct", reverses=grant.id), "tester")
    assert book(db) == (50, 40, 0, 10)


def test_the_database_refuses_an_overdraft_that_bypasses_the_service(db):
    rec(db, "grant", 10)
    with pytest.raises(DBAPIError, match="quota_never_overdrawn"), db.begin_nested():
        db.execute(text("""
            INSERT INTO quota_entry (year, source, kind, mu, d_granted, d_reserved, d_consumed,
                project_id, entry_date, recorded_by)
            VALUES (:y, 'plan', 'reserve', 11, 0, 11, 0, :p, '2020-01-01', 'x')"""),
            {"y": Y, "p": project(db)})  # fmt: skip


def test_entries_are_append_only(db):
    rec(db, "grant", 10)
    for sql in ("UPDATE quota_entry SET mu = 1", "DELETE FROM quota_entry"):
        with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
            db.execute(text(sql))


def test_entries_need_what_they_are_for(db):
    with pytest.raises(QuotaRefused, match="names the project"):
        rec(db, "reserve", 5)
    with pytest.raises(QuotaRefused, match="unknown quota entry kind 'borrow'; one of: Grant"):
        rec(db, "borrow", 5)
    with pytest.raises(QuotaRefused, match="unknown quota source 'province'"):
        rec(db, "grant", 5, source="province")
    with pytest.raises(QuotaRefused, match="has no batch"):
        rec(db, "reserve", 5, project_id=project(db), batch_id=999999)
    with pytest.raises(QuotaRefused, match="in the future"):
        rec(db, "grant", 5, day=dt.date(2999, 1, 1))


# --- demand from the land ----------------------------------------------------------------


@pytest.fixture
def square_site(db):
    """A 100 m x 100 m parcel (15 mu) over three patches whose overlaps are known exactly:
    west 40 m paddy (0101, 6 mu), middle 30 m orchard (0201, 4.5 mu), east 30 m a working code
    of the survey (05H1, 4.5 mu)."""
    x0, y0 = 460000, 3215000

    def box(a, b):
        return (f"ST_GeomFromText('MULTIPOLYGON((({x0 + a} {y0}, {x0 + b} {y0}, {x0 + b} "
                f"{y0 + 100}, {x0 + a} {y0 + 100}, {x0 + a} {y0})))', 4546)")  # fmt: skip

    db.execute(text(f"INSERT INTO parcel (code, geom) VALUES ('Q-SITE-1', {box(0, 100)})"))
    for code, use, a, b in (("Q-P1", "0101", -20, 40), ("Q-P2", "0201", 40, 70),
                            ("Q-P3", "05H1", 70, 130)):  # fmt: skip
        db.execute(text(f"INSERT INTO landuse_patch (code, land_use_code, geom) "
                        f"VALUES ('{code}', '{use}', {box(a, b)})"))  # fmt: skip
    return "Q-SITE-1"


def test_demand_on_hand_made_parcels_and_patches(db, square_site):
    need = quota.demand(db, codes=[square_site])
    assert need["parcels_mu"] == pytest.approx(15, abs=1e-6)
    assert need["agricultural_mu"] == pytest.approx(10.5, abs=1e-6)  # paddy + orchard
    assert need["cultivated_mu"] == pytest.approx(6, abs=1e-6)
    assert need["construction_mu"] == 0
    assert need["unknown_codes"] == [{"code": "05H1", "mu": 4.5}]
    assert need["not_surveyed_mu"] == pytest.approx(0, abs=0.01)


def test_demand_matches_an_independent_postgis_intersection(db):
    codes = list(db.execute(text("SELECT code FROM parcel WHERE zone_id IS NOT NULL "
                                 "ORDER BY code LIMIT 60")).scalars())  # fmt: skip
    need = quota.demand(db, codes=codes)
    independent = db.execute(text("""
        SELECT sum(ST_Area(ST_Intersection(p.geom, l.geom))) FILTER (WHERE l.land_use_code
                   IN ('0101', '0102', '0103')),
               sum(ST_Area(ST_Intersection(p.geom, l.geom))) FILTER (WHERE left(l.land_use_code, 2)
                   IN ('01', '02', '03', '04') OR l.land_use_code IN
                   ('1006', '1103', '1104', '1107', '1202', '1203'))
        FROM parcel p JOIN landuse_patch l ON ST_Intersects(p.geom, l.geom)
        WHERE p.code = ANY(:c)"""), {"c": codes}).one()  # fmt: skip
    assert need["cultivated_mu"] == pytest.approx(independent[0] / mu_to_m2(1), abs=0.01)
    assert need["agricultural_mu"] == pytest.approx(independent[1] / mu_to_m2(1), abs=0.01)


def test_a_reservation_from_demand_in_one_step(db, square_site):
    pid = project(db)
    db.execute(text("UPDATE parcel SET project_id = :p WHERE code = :c"),
               {"p": pid, "c": square_site})  # fmt: skip
    rec(db, "grant", 500)
    need = quota.demand(db, project_id=pid)
    entry = quota.reserve_demand(db, Y, "plan", pid, None, "tester")
    assert entry.kind == "reserve" and entry.mu == need["agricultural_mu"]
    assert book(db)[1] == pytest.approx(need["agricultural_mu"])


def test_demand_of_unknown_codes_is_refused(db):
    with pytest.raises(QuotaRefused, match="NOPE"):
        quota.demand(db, codes=["NOPE"])
