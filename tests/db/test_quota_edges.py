"""The quota ledger at its edges: exactly what remains may be reserved or consumed, every
kind of entry can be reversed to the cent, and each refusal has its status and message."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text

from landmap.domain import today
from landmap.services import quota
from landmap.services.quota import Entry, QuotaRefused

Y = 2029  # a year of these tests' own


@pytest.fixture
def c_project(db) -> tuple[int, int]:
    """The 1000-mu project of zone C and its first batch."""
    return tuple(db.execute(text("""
        SELECT p.id, b.id FROM project p JOIN acquisition_batch b ON b.project_id = p.id
        WHERE p.name = 'C区1000亩土地开发项目' AND b.name = '第一批'""")).one())  # fmt: skip


def rec(db, kind, mu=None, **kw):
    amount = Decimal(str(mu)) if mu is not None else None
    return quota.record(db, Entry(Y, kind, kw.pop("source", "plan"), amount, **kw), "tester")


def book(db, year=Y):
    b = quota.ledger(db, year)
    return (b.granted_mu, b.reserved_mu, b.consumed_mu, b.remaining_mu)


def test_exactly_what_remains_can_be_reserved_and_no_cent_more(db, c_project):
    project, _ = c_project
    rec(db, "grant", "100.25")
    rec(db, "reserve", "60.25", project_id=project)
    rec(db, "reserve", 40, project_id=project)
    assert book(db) == (100.25, 100.25, 0, 0)
    with pytest.raises(QuotaRefused, match="only 0.00 mu"):
        rec(db, "reserve", "0.01", project_id=project)


def test_consuming_what_was_reserved_and_exactly_what_remains(db, c_project):
    project, batch = c_project
    rec(db, "grant", 100)
    rec(db, "reserve", 40, project_id=project, batch_id=batch)
    rec(db, "consume", 100, project_id=project, batch_id=batch)  # 40 reserved + 60 remaining
    assert book(db) == (100, 0, 100, 0)


@pytest.mark.parametrize("kind", ["grant", "reserve", "consume", "release"])
def test_every_kind_of_entry_for_a_batch_reverses_to_the_cent(db, c_project, kind):
    project, batch = c_project
    rec(db, "grant", 500, source="linkage")
    if kind == "release":
        rec(db, "reserve", 50, project_id=project, batch_id=batch, source="linkage")
    before = book(db)
    on = {} if kind == "grant" else {"project_id": project, "batch_id": batch}
    wrong = rec(db, kind, "12.34", source="linkage", **on)
    assert wrong.source == "linkage" and wrong.batch_id == on.get("batch_id")
    day = dt.date(2020, 3, 4)
    fix = quota.record(db, Entry(Y, "correct", reverses=wrong.id, day=day, ref="冲正"), "tester")
    assert book(db) == before
    assert (fix.source, fix.batch_id, fix.project_id, fix.date, fix.ref) == (
        "linkage", wrong.batch_id, wrong.project_id, day, "冲正")  # fmt: skip
    assert (fix.granted, fix.reserved, fix.consumed) == (
        -wrong.granted, -wrong.reserved, -wrong.consumed)  # fmt: skip


def test_refusals_say_why_with_their_status(db, c_project):
    project, batch = c_project
    grant = rec(db, "grant", 10)
    fix = quota.record(db, Entry(Y, "correct", reverses=grant.id), "tester")
    tomorrow = today() + dt.timedelta(days=1)
    cases = [
        (Entry(Y, "correct"), 400, "a correction names the entry it reverses"),
        (Entry(Y, "grant"), 400, "the amount is missing"),
        (Entry(1989, "grant", mu=Decimal(1)), 400, f"year must be from 1990 to "
                                                   f"{quota.last_year()}"),
        (Entry(Y, "reserve", mu=Decimal(1)), 400,
         "a reserve entry names the project (and batch) it is for"),
        (Entry(Y, "reserve", mu=Decimal(1), project_id=999999), 404, "unknown project 999999"),
        (Entry(Y, "reserve", mu=Decimal(1), project_id=project, batch_id=999999), 404,
         f"project {project} has no batch 999999"),
        (Entry(Y, "correct", reverses=999999), 404, "there is no entry 999999 to reverse"),
        (Entry(Y, "correct", reverses=fix.id), 409,
         "a correction cannot itself be reversed; record a new entry"),
        (Entry(Y, "correct", reverses=grant.id), 409,
         f"entry {grant.id} was already reversed by entry {fix.id}"),
        (Entry(Y, "grant", mu=Decimal(1), day=tomorrow), 400,
         f"{tomorrow} is in the future (today is {today()})"),
        (Entry(Y, "gift", mu=Decimal(1)), 400,
         "kind must be one of grant, reserve, consume, release, correct"),
        (Entry(Y, "grant", "bank", Decimal(1)), 400, "source must be one of plan, linkage, other"),
    ]  # fmt: skip
    got = []
    for entry, _status, _message in cases:
        with pytest.raises(QuotaRefused) as info:
            quota.record(db, entry, "tester")
        got.append((info.value.status, info.value.message))
    assert got == [(status, message) for _, status, message in cases]
