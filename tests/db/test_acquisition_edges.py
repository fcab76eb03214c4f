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


WHY_BACK = (
    "moving back from Agreement signed to Surveyed and registered is a correction: "
    "tick correction and give a reason"
)
BEFORE_LAST = "2011-12-04 is before its last recorded change (2011-12-05)"
BEFORE_LAST_ZH = "2011-12-04 早于该宗地最近一次记录的变更（2011-12-05）"


def test_refused_moves_say_why_with_their_status(db):
    codes = free_parcels(db, 2)
    acquisition.move(db, [codes[0]], Move(Stage.AGREEMENT_SIGNED, D(2011, 12, 5)), "u")
    bad_day = refusal(acquisition.move, db, codes, Move(Stage.SURVEYED, D(1949, 9, 30)), "u")
    assert (bad_day.status, bad_day.code) == (400, "date_before_earliest")
    assert bad_day.message == (
        "1949-09-30 is before 1949-10-01, the earliest date the register accepts"
    )
    none = refusal(acquisition.move, db, [" ", ""], Move(Stage.SURVEYED, D(2011, 12, 6)), "u")
    assert (none.status, none.code, none.message) == (
        400,
        "no_parcel_codes",
        "no parcel codes given",
    )
    assert none.render("zh_CN") == "未提供宗地代码"


def test_a_move_of_unknown_parcels_names_them(db):
    codes = free_parcels(db, 2)
    move = Move(Stage.SURVEYED, D(2011, 12, 6))
    unknown = refusal(acquisition.move, db, [*codes, "NO-1", "NO-2"], move, "u")
    assert (unknown.status, unknown.code) == (404, "unknown_parcel_codes")
    assert unknown.extra["unknown"] == ["NO-1", "NO-2"]
    assert unknown.problems == [f"{c}: no such parcel in the register" for c in ("NO-1", "NO-2")]
    assert unknown.message == "unknown parcel code(s): NO-1, NO-2; nothing was changed"
    assert unknown.render("zh_CN") == "宗地代码不存在：NO-1、NO-2；未作任何更改"


def test_a_move_back_without_a_correction_names_the_parcel_among_several(db):
    codes = free_parcels(db, 2)
    acquisition.move(db, [codes[0]], Move(Stage.AGREEMENT_SIGNED, D(2011, 12, 5)), "u")
    back = Move(Stage.SURVEYED, D(2011, 12, 6))
    among = refusal(acquisition.move, db, codes, back, "u")
    assert (among.status, among.code) == (409, "parcels_cannot_move")
    assert among.problems == [f"{codes[0]}: {WHY_BACK}"]
    assert among.message == (
        f"1 of the 2 parcels cannot move, so nothing was changed: {codes[0]}: {WHY_BACK}"
    )
    assert among.problems[0].render("zh_CN") == (
        f"宗地 {codes[0]}：从 协议签订 退回 调查登记 属于更正，需勾选更正并填写原因"
    )
    alone = refusal(acquisition.move, db, codes[:1], back, "u")
    assert (alone.status, alone.code, alone.message) == (
        409,
        "move_backwards_needs_reason",
        WHY_BACK,
    )


def test_a_move_dated_before_the_last_change_is_refused_by_the_rule_not_the_database(db):
    codes = free_parcels(db, 2)
    acquisition.move(db, codes, Move(Stage.SURVEYED, D(2011, 12, 5)), "u")
    late = refusal(acquisition.move, db, codes, Move(Stage.CLEARED, D(2011, 12, 4)), "u")
    assert (late.status, late.code) == (409, "parcels_cannot_move")
    assert late.problems == [f"{c}: {BEFORE_LAST}" for c in codes]
    zh_problems = "、".join(f"宗地 {c}：{BEFORE_LAST_ZH}" for c in codes)
    assert late.render("zh_CN") == f"2 宗地中有 2 宗不能变更，因此未作任何更改：{zh_problems}"
    alone = refusal(acquisition.move, db, codes[:1], Move(Stage.CLEARED, D(2011, 12, 4)), "u")
    assert (alone.code, alone.message) == ("dated_before_last_change", BEFORE_LAST)


def test_disputes_refused_with_their_status_and_message(db):
    (code,) = free_parcels(db)
    acquisition.move(db, [code], Move(Stage.SURVEYED, D(2011, 12, 5)), "u")
    cases = [
        (
            (code, True, D(2011, 12, 6), "  ", "u"),
            400,
            "dispute_needs_reason",
            "标记争议须填写原因",
        ),
        ((code, False, D(2011, 12, 6), "", "u"), 409, "not_disputed", f"{code} 未标记为争议"),
        (
            (code, True, D(2011, 12, 4), "r", "u"),
            409,
            "dated_before_last_change",
            BEFORE_LAST_ZH,
        ),
        (
            (code, True, D(1900, 1, 1), "r", "u"),
            400,
            "date_before_earliest",
            "1900-01-01 早于 1949-10-01，登记簿不接受早于该日的日期",
        ),
    ]
    got = [refusal(acquisition.set_dispute, db, *args) for args, *_ in cases]
    assert [(r.status, r.code, r.render("zh_CN")) for r in got] == [case[1:] for case in cases]
    assert [r.message for r in got[:3]] == [
        "a dispute needs a reason",
        f"{code} is not disputed",
        BEFORE_LAST,
    ]
    result = acquisition.set_dispute(db, code, True, D(2011, 12, 6), " 钉子户 ", "u")
    assert set(result) == {"change_set", "parcel", "dispute"}
    assert (result["parcel"], result["dispute"]) == (code, True)
    uuid.UUID(result["change_set"])
    again = refusal(acquisition.set_dispute, db, code, True, D(2011, 12, 7), "r", "u")
    assert (again.status, again.code) == (409, "already_disputed")
    assert again.message == f"{code} is already disputed"
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
