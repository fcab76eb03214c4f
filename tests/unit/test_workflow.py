"""The acquisition workflow rule, without a database: every pair of stages, every flag.

Forward one or more stages with a date; back only as a correction (the correction flag and a
reason); state land already in hand (STATE_OWNED) is outside the workflow."""

from __future__ import annotations

import datetime as dt

import pytest

from landmap.domain import EARLIEST_DATE, Stage
from landmap.services import Refused, acquisition
from landmap.services.acquisition import (
    Move,
    MoveRefused,
    allowed_moves,
    check_move,
    event_day_problem,
)

DAY = dt.date(2011, 5, 1)
FLOW = [
    Stage.NOT_STARTED,
    Stage.PRE_ANNOUNCED,
    Stage.SURVEYED,
    Stage.PLAN_PUBLISHED,
    Stage.AGREEMENT_SIGNED,
    Stage.COMPENSATED,
    Stage.DEMOLISHED,
    Stage.CLEARED,
]
PAIRS = [(a, b) for a in Stage for b in Stage]


def test_the_workflow_is_the_eight_stages_in_order():
    assert Stage.workflow() == FLOW


@pytest.mark.parametrize("current", FLOW)
def test_allowed_moves_are_every_later_stage_forward_and_every_earlier_one_back(current):
    at = FLOW.index(current)
    assert allowed_moves(current) == {"forward": FLOW[at + 1 :], "correction": FLOW[:at]}


def test_state_land_has_no_moves():
    assert allowed_moves(Stage.STATE_OWNED) == {"forward": [], "correction": []}


def _expected(current: Stage, target: Stage, correction: bool, reason: str) -> bool:
    """The rule, written out independently of the code under test."""
    if Stage.STATE_OWNED in (current, target) or current is target:
        return False
    if FLOW.index(target) > FLOW.index(current):
        return True
    return correction and bool(reason.strip())


@pytest.mark.parametrize(
    ("correction", "reason"),
    [(False, ""), (False, "测量有误"), (True, ""), (True, "  \t"), (True, "测量有误")],
)
def test_every_pair_of_stages(correction, reason):
    wrong = []
    for current, target in PAIRS:
        allowed = check_move(current, Move(target, DAY, correction=correction, reason=reason))
        if (allowed is None) is not _expected(current, target, correction, reason):
            wrong.append(f"{current} -> {target}: {allowed}")
    assert wrong == []


def test_a_backward_move_with_a_reason_but_no_correction_flag_is_refused():
    why = check_move(Stage.SURVEYED, Move(Stage.NOT_STARTED, DAY, reason="测量有误"))
    assert why.code == "move_backwards_needs_reason"
    assert why.render("zh_CN") == "从 调查登记 退回 未启动 属于更正，需勾选更正并填写原因"


def test_a_correction_without_a_reason_is_refused_naming_what_is_missing():
    why = check_move(Stage.CLEARED, Move(Stage.DEMOLISHED, DAY, correction=True, reason=" "))
    assert why.code == "move_backwards_needs_reason"
    assert why == (
        "moving back from Cleared and handed over to Houses demolished is a correction: "
        "tick correction and give a reason"
    )


def test_a_forward_move_needs_no_reason_even_when_flagged_as_a_correction():
    assert check_move(Stage.NOT_STARTED, Move(Stage.CLEARED, DAY)) is None
    assert check_move(Stage.NOT_STARTED, Move(Stage.CLEARED, DAY, correction=True)) is None


def test_a_move_to_the_same_stage_names_where_it_may_go():
    why = check_move(Stage.DEMOLISHED, Move(Stage.DEMOLISHED, DAY))
    assert why.code == "move_not_allowed"
    assert why.render("zh_CN") == (
        "不能从 房屋拆除 变更为 房屋拆除；可向前推进到：整理到位；"
        "可退回（作为更正，需填写原因）到："
        "未启动、征收预公告、调查登记、补偿方案公告、协议签订、补偿兑付"
    )
    assert why.render("en") == (
        "cannot move from Houses demolished to Houses demolished; allowed: forward to "
        "Cleared and handed over; back (a correction with a reason) to Not started, "
        "Pre-announced, Surveyed and registered, Compensation plan published, Agreement signed, "
        "Compensation paid"
    )


def test_the_last_and_first_stages_say_none_where_nothing_is_allowed():
    assert "forward to none;" in check_move(Stage.CLEARED, Move(Stage.STATE_OWNED, DAY))
    assert check_move(Stage.NOT_STARTED, Move(Stage.STATE_OWNED, DAY)).endswith("to none")
    zh = check_move(Stage.CLEARED, Move(Stage.STATE_OWNED, DAY)).render("zh_CN")
    assert "可向前推进到：无；" in zh


def test_no_refusal_of_the_rule_shows_a_stage_id_or_a_field_syntax():
    refusals = [check_move(current, Move(target, DAY)) for current, target in PAIRS]
    for why in filter(None, refusals):
        zh = why.render("zh_CN")
        assert not [stage for stage in Stage if stage.value in zh], zh
        assert "correction=" not in zh + why.render("en")


@pytest.mark.parametrize("target", list(Stage))
def test_state_land_refuses_every_move_even_a_correction(target):
    move = Move(target, DAY, correction=True, reason="r")
    why = check_move(Stage.STATE_OWNED, move)
    assert why.code == "state_land_has_no_stages"
    assert why == "state land already in hand needs no acquisition: it has no stages to move"
    assert why.render("zh_CN") == "已有国有土地无需征收，没有可变更的阶段"


def test_a_move_defaults_to_no_note_no_correction_no_reason():
    move = Move(Stage.SURVEYED, DAY)
    assert (move.note, move.correction, move.reason) == ("", False, "")


# --- the day an event may have ------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """Sets the clock to an instant (UTC) for everything that asks for the time."""

    def set_to(instant: dt.datetime) -> None:
        class Clock(dt.datetime):
            @classmethod
            def now(cls, tz=None):
                return instant.astimezone(tz)

        monkeypatch.setattr(dt, "datetime", Clock)

    return set_to


def test_events_lie_from_the_earliest_date_to_today(clock):
    clock(dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.UTC))
    assert event_day_problem(EARLIEST_DATE) is None
    assert event_day_problem(dt.date(2026, 11, 29)) is None
    early = event_day_problem(EARLIEST_DATE - dt.timedelta(days=1))
    assert early == "1949-09-30 is before 1949-10-01, the earliest date the register accepts"
    assert early.render("zh_CN") == "1949-09-30 早于 1949-10-01，登记簿不接受早于该日的日期"
    late = event_day_problem(dt.date(2026, 11, 30))
    assert (late.code, late) == (
        "date_in_future",
        "2026-11-30 is in the future (today is 2026-11-29)",
    )
    assert late.render("zh_CN") == "2026-11-30 是将来的日期（今天是 2026-11-29）"


def test_today_is_the_date_in_china(clock):
    clock(dt.datetime(2026, 11, 29, 15, 59, tzinfo=dt.UTC))  # 23:59 in China
    assert acquisition.today() == dt.date(2026, 11, 29)
    assert event_day_problem(dt.date(2026, 11, 30)) is not None
    clock(dt.datetime(2026, 11, 29, 16, 0, tzinfo=dt.UTC))  # already the 30th in China
    assert acquisition.today() == dt.date(2026, 11, 30)
    assert event_day_problem(dt.date(2026, 11, 30)) is None


def test_a_refused_move_is_a_409_refusal_carrying_its_problems():
    why = check_move(Stage.SURVEYED, Move(Stage.NOT_STARTED, DAY))
    problem = acquisition.parcel_problem("p1", why)
    exc = MoveRefused(why, problems=[problem])
    assert isinstance(exc, Refused)
    assert (exc.status, exc.code, exc.problems) == (409, "move_backwards_needs_reason", [problem])
    assert exc.message == str(exc)
    assert exc.problems[0].render("zh_CN") == "宗地 p1：" + why.render("zh_CN")
    assert MoveRefused(event_day_problem(dt.date(1900, 1, 1)), 400).status == 400
