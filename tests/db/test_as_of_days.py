"""The state of the register ON the day of a change and on the day before: the change counts
from its own day. lm_stage_as_of, lm_dispute_as_of, the ledger's stage-reached dates and the
progress figures all say the same."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from conftest import free_parcels
from openpyxl import load_workbook
from sqlalchemy import text

from landmap.domain import Stage
from landmap.services import acquisition, reports
from landmap.services.acquisition import Move

D = dt.date
DAY = dt.timedelta(days=1)
ANNOUNCED, SURVEYED = D(2011, 12, 5), D(2011, 12, 9)
DISPUTED, RESOLVED = D(2011, 12, 12), D(2011, 12, 20)


@pytest.fixture
def history(db) -> str:
    """A parcel pre-announced on 12-05, surveyed on 12-09, disputed on 12-12, resolved on
    12-20 (2011)."""
    (code,) = free_parcels(db)
    acquisition.move(db, [code], Move(Stage.PRE_ANNOUNCED, ANNOUNCED), "u")
    acquisition.move(db, [code], Move(Stage.SURVEYED, SURVEYED), "u")
    acquisition.set_dispute(db, code, True, DISPUTED, "钉子户：拒绝丈量", "u")
    acquisition.set_dispute(db, code, False, RESOLVED, "", "u")
    return code


def as_of(db, code: str, day: dt.date) -> tuple[str, bool]:
    return tuple(
        db.execute(
            text("""SELECT lm_stage_as_of(id, stage, :d), lm_dispute_as_of(id, dispute, :d)
                FROM parcel WHERE code = :c"""),
            {"c": code, "d": day},
        ).one()
    )


def test_the_stage_and_the_dispute_change_on_their_own_day(db, history):
    expected = {
        ANNOUNCED - DAY: ("not_started", False),
        ANNOUNCED: ("pre_announced", False),
        SURVEYED - DAY: ("pre_announced", False),
        SURVEYED: ("surveyed", False),
        DISPUTED - DAY: ("surveyed", False),
        DISPUTED: ("surveyed", True),
        RESOLVED - DAY: ("surveyed", True),
        RESOLVED: ("surveyed", False),
    }
    assert {day: as_of(db, history, day) for day in expected} == expected


def test_a_dispute_raised_and_resolved_on_the_same_day_is_over_by_its_end(db):
    (code,) = free_parcels(db)
    acquisition.set_dispute(db, code, True, DISPUTED, "待核实", "u")
    acquisition.set_dispute(db, code, False, DISPUTED, "", "u")
    assert as_of(db, code, DISPUTED - DAY) == ("not_started", False)
    assert as_of(db, code, DISPUTED) == ("not_started", False)


def test_the_parcels_api_as_of_the_day_and_the_day_before(client, history):
    def props(day):
        return client.get(f"/api/parcels/{history}?as_of={day}").get_json()["properties"]

    assert (props(DISPUTED)["dispute"], props(DISPUTED - DAY)["dispute"]) == (True, False)
    assert props(DISPUTED)["dispute_reason"] == "钉子户：拒绝丈量"
    assert (props(RESOLVED)["dispute"], props(RESOLVED - DAY)["dispute"]) == (False, True)
    assert (props(SURVEYED)["stage"], props(SURVEYED - DAY)["stage"]) == (
        "surveyed",
        "pre_announced",
    )


def _batch_of(db, code) -> tuple[int, int]:
    return tuple(
        db.execute(
            text("SELECT project_id, batch_id FROM parcel WHERE code = :c"), {"c": code}
        ).one()
    )


def test_progress_counts_the_dispute_from_its_day(db, history):
    project, batch = _batch_of(db, history)

    def disputes(day):
        return acquisition.progress(db, project, batch, day).disputes.parcels

    base = disputes(DISPUTED - DAY)
    assert disputes(DISPUTED) == base + 1
    assert disputes(RESOLVED - DAY) == base + 1 and disputes(RESOLVED) == base


def ledger_row(db, code: str, day: dt.date) -> dict:
    project, batch = _batch_of(db, code)
    name = db.execute(
        text("SELECT name FROM acquisition_batch WHERE id = :b"), {"b": batch}
    ).scalar_one()
    wb = load_workbook(io.BytesIO(reports.acquisition_ledger(db, project, day)))
    rows = list(wb[name].iter_rows(values_only=True))
    return dict(zip(rows[0], next(r for r in rows if r[0] == code), strict=True))


def _day(value):
    return value.date() if isinstance(value, dt.datetime) else value


def test_the_ledger_dates_each_stage_from_the_day_it_was_reached(db, history):
    before = ledger_row(db, history, ANNOUNCED - DAY)
    assert before["所处阶段"] == "未启动" and _day(before["征收预公告日期"]) is None
    on = ledger_row(db, history, ANNOUNCED)
    assert on["所处阶段"] == "征收预公告" and _day(on["征收预公告日期"]) == ANNOUNCED
    assert _day(on["调查登记日期"]) is None
    surveyed = ledger_row(db, history, SURVEYED)
    assert surveyed["所处阶段"] == "调查登记"
    assert (_day(surveyed["征收预公告日期"]), _day(surveyed["调查登记日期"])) == (
        ANNOUNCED,
        SURVEYED,
    )
    assert _day(ledger_row(db, history, SURVEYED - DAY)["调查登记日期"]) is None


def test_the_ledger_shows_the_dispute_from_its_day_to_the_day_it_ends(db, history):
    assert ledger_row(db, history, DISPUTED - DAY)["争议"] in ("", None)
    assert ledger_row(db, history, DISPUTED)["争议"]
    assert ledger_row(db, history, RESOLVED - DAY)["争议"]
    assert ledger_row(db, history, RESOLVED)["争议"] in ("", None)
