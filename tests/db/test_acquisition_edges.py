"""Moves and disputes at their edges: what a refusal says and with which status, what a move
returns, the same day as the last change, and the register's last day with data."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from conftest import free_parcels

from landmap.domain import Stage
from landmap.services import acquisition
from landmap.services.acquisition import Move, MoveRefused

D = dt.date


def refusal(call, *args) -> MoveRefused:
    with pytest.raises(MoveRefused) as info:
        call(*args)
    return info.value


def test_a_move_returns_its_change_set_and_the_history_keeps_it(db):
    codes = free_parcels(db, 2)
    move = Move(Stage.SURVEYED, D(2011, 12, 1))
    result = acquisition.move(db, [*codes, f" {codes[0]} ", ""], move, "u")
    assert set(result) == {"change_set", "stage", "date", "parcels"}
    assert (result["stage"], result["date"], result["parcels"]) == ("surveyed", "2011-12-01",
                                                                     sorted(codes))  # fmt: skip
    uuid.UUID(result["change_set"])
    for code in codes:
        assert acquisition.history(db, code)[-1]["change_set"] == result["change_set"]


def test_two_stages_may_be_reached_on_one_day(db):
    (code,) = free_parcels(db)
    acquisition.move(db, [code], Move(Stage.PRE_ANNOUNCED, D(2011, 12, 1)), "u")
    acquisition.move(db, [code], Move(Stage.SURVEYED, D(2011, 12, 1)), "u")
    assert [h["stage"] for h in acquisition.history(db, code)] == ["pre_announced", "surveyed"]


def test_refused_moves_say_why_with_their_status(db):
    codes = free_parcels(db, 2)
    acquisition.move(db, [codes[0]], Move(Stage.AGREEMENT_SIGNED, D(2011, 12, 5)), "u")
    day = Move(Stage.SURVEYED, D(1949, 9, 30))
    bad_day = refusal(acquisition.move, db, codes, day, "u")
    assert (bad_day.status, bad_day.message) == (
        400, "1949-09-30 is before 1949-10-01, the earliest date the register accepts")  # fmt: skip
    none = refusal(acquisition.move, db, [" ", ""], Move(Stage.SURVEYED, D(2011, 12, 6)), "u")
    assert (none.status, none.message) == (400, "no parcel codes given")
    unknown = refusal(acquisition.move, db, [*codes, "NO-1", "NO-2"],
                      Move(Stage.SURVEYED, D(2011, 12, 6)), "u")  # fmt: skip
    assert (unknown.status, unknown.problems) == (404, ["NO-1", "NO-2"])
    assert unknown.message == "unknown parcel code(s): NO-1, NO-2; nothing was changed"
    back = refusal(acquisition.move, db, codes, Move(Stage.SURVEYED, D(2011, 12, 6)), "u")
    why = ("moving back from agreement_signed to surveyed is a correction: it needs "
           "correction=true and a reason")  # fmt: skip
    assert (back.status, back.problems) == (409, [f"{codes[0]}: {why}"])
    assert back.message == f"{codes[0]}: {why}; nothing was changed"


def test_a_move_dated_before_the_last_change_is_refused_by_the_rule_not_the_database(db):
    codes = free_parcels(db, 2)
    acquisition.move(db, codes, Move(Stage.SURVEYED, D(2011, 12, 5)), "u")
    late = refusal(acquisition.move, db, codes, Move(Stage.CLEARED, D(2011, 12, 4)), "u")
    assert late.status == 409
    assert late.problems == [
        f"{c}: 2011-12-04 is before its last recorded change (2011-12-05)" for c in codes
    ]
    assert late.message == "; ".join(late.problems) + "; nothing was changed"  # fmt: skip


def test_disputes_refused_with_their_status_and_message(db):
    (code,) = free_parcels(db)
    acquisition.move(db, [code], Move(Stage.SURVEYED, D(2011, 12, 5)), "u")
    cases = [
        ((code, True, D(2011, 12, 6), "  ", "u"), 400, "a dispute needs a reason"),
        ((code, False, D(2011, 12, 6), "", "u"), 409, f"{code} is not disputed"),
        ((code, True, D(2011, 12, 4), "r", "u"), 409,
         f"{code}: 2011-12-04 is before its last recorded change (2011-12-05)"),
        ((code, True, D(1900, 1, 1), "r", "u"), 400,
         "1900-01-01 is before 1949-10-01, the earliest date the register accepts"),
    ]  # fmt: skip
    got = [refusal(acquisition.set_dispute, db, *args) for args, _, _ in cases]
    assert [(r.status, r.message) for r in got] == [(s, m) for _, s, m in cases]
    result = acquisition.set_dispute(db, code, True, D(2011, 12, 6), " 钉子户 ", "u")
    assert set(result) == {"change_set", "parcel", "dispute"}
    assert (result["parcel"], result["dispute"]) == (code, True)
    uuid.UUID(result["change_set"])
    again = refusal(acquisition.set_dispute, db, code, True, D(2011, 12, 7), "r", "u")
    assert (again.status, again.message) == (409, f"{code} is already disputed")
    entry = acquisition.history(db, code)[-1]
    assert (entry["kind"], entry["reason"], entry["note"], entry["stage"]) == (
        "dispute", "钉子户", "", None)  # fmt: skip


def test_an_empty_registers_last_day_with_data_is_today(scratch):
    from sqlalchemy.orm import Session

    from landmap.db.engine import make_app_engine
    from landmap.domain import today

    engine = make_app_engine(scratch)
    try:
        with Session(engine) as session:
            assert acquisition.last_day_with_data(session) == today()
    finally:
        engine.dispose()


def test_the_last_day_with_data_is_the_latest_change_of_the_register(db):
    assert acquisition.last_day_with_data(db) == D(2011, 11, 25)  # the demo's last
    (code,) = free_parcels(db)
    acquisition.move(db, [code], Move(Stage.SURVEYED, D(2012, 1, 5)), "u")
    assert acquisition.last_day_with_data(db) == D(2012, 1, 5)
