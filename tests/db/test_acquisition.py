"""The acquisition workflow, its history and the progress it adds up to (real PostGIS)."""

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from landmap.domain import Stage
from landmap.services import acquisition, reports
from landmap.services.acquisition import (
    ClearedOn,
    Move,
    MoveRefused,
    allowed_moves,
    check_move,
)

D = dt.date


def not_started(db, n=1):
    """Codes of second-batch parcels with no history yet."""
    return list(db.execute(text("""
        SELECT p.code FROM parcel p JOIN acquisition_batch b ON b.id = p.batch_id
        WHERE b.name = '第二批' AND p.stage = 'not_started'
          AND NOT EXISTS (SELECT 1 FROM stage_change c WHERE c.parcel_id = p.id)
        ORDER BY p.code LIMIT :n"""), {"n": n}).scalars())  # fmt: skip


def stage_of(db, code, as_of=None):
    if as_of is None:
        return db.execute(text("SELECT stage FROM parcel WHERE code = :c"), {"c": code}).scalar()
    return db.execute(
        text("SELECT lm_stage_as_of(id, stage, :d) FROM parcel WHERE code = :c"),
        {"c": code, "d": as_of},
    ).scalar()


def changes(db):
    return db.execute(text("SELECT count(*) FROM stage_change")).scalar_one()


# --- the rule ----------------------------------------------------------------------------


def test_allowed_moves_follow_the_workflow_order():
    moves = allowed_moves(Stage.AGREEMENT_SIGNED)
    assert moves["forward"] == [Stage.COMPENSATED, Stage.DEMOLISHED, Stage.CLEARED]
    assert moves["correction"][0] is Stage.NOT_STARTED
    assert Stage.STATE_OWNED not in moves["forward"] + moves["correction"]
    assert allowed_moves(Stage.STATE_OWNED) == {"forward": [], "correction": []}


@pytest.mark.parametrize(
    ("current", "move", "refused"),
    [
        (Stage.NOT_STARTED, Move(Stage.PRE_ANNOUNCED, D(2011, 5, 1)), None),
        (Stage.NOT_STARTED, Move(Stage.CLEARED, D(2011, 5, 1)), None),  # several stages at once
        (Stage.SURVEYED, Move(Stage.NOT_STARTED, D(2011, 5, 1)), "tick correction"),
        (Stage.SURVEYED, Move(Stage.NOT_STARTED, D(2011, 5, 1), correction=True), "reason"),
        (
            Stage.SURVEYED,
            Move(Stage.NOT_STARTED, D(2011, 5, 1), correction=True, reason="测量有误"),
            None,
        ),  # fmt: skip
        (Stage.SURVEYED, Move(Stage.SURVEYED, D(2011, 5, 1)), "allowed: forward to"),
        (Stage.SURVEYED, Move(Stage.STATE_OWNED, D(2011, 5, 1)), "allowed: forward to"),
        (Stage.STATE_OWNED, Move(Stage.CLEARED, D(2011, 5, 1)), "state land"),
    ],
)
def test_check_move(current, move, refused):
    why = check_move(current, move)
    if refused is None:
        assert why is None
    else:
        assert refused in why


# --- moves, all or none -----------------------------------------------------------------


def test_a_move_adds_one_history_row_and_moves_the_parcel(db):
    (code,) = not_started(db)
    before = changes(db)
    result = acquisition.move(db, [code], Move(Stage.SURVEYED, D(2011, 12, 1), "丈量完成"), "李四")
    assert result["parcels"] == [code]
    assert changes(db) == before + 1
    assert stage_of(db, code) == "surveyed"
    (entry,) = acquisition.history(db, code)
    assert (entry["from_stage"], entry["stage"], entry["date"], entry["user"], entry["note"]) == (
        "not_started", "surveyed", "2011-12-01", "李四", "丈量完成")  # fmt: skip


def test_a_batch_with_one_unknown_code_changes_nothing(db):
    codes = not_started(db, 3)
    before = changes(db)
    with pytest.raises(MoveRefused) as info:
        acquisition.move(db, [*codes, "NO-SUCH-PARCEL"], Move(Stage.SURVEYED, D(2011, 12, 1)), "u")
    assert info.value.status == 404 and "NO-SUCH-PARCEL" in info.value.message
    assert info.value.code == "unknown_parcel_codes"
    assert changes(db) == before
    assert {stage_of(db, c) for c in codes} == {"not_started"}


def test_a_batch_with_one_forbidden_move_changes_nothing(db):
    codes = not_started(db, 2)
    acquisition.move(db, [codes[0]], Move(Stage.AGREEMENT_SIGNED, D(2011, 11, 1)), "u")
    before = changes(db)
    with pytest.raises(MoveRefused) as info:
        acquisition.move(db, codes, Move(Stage.SURVEYED, D(2011, 12, 1)), "u")
    assert codes[0] in info.value.message and "correction" in info.value.message
    assert "从 协议签订 退回 调查登记 属于更正" in info.value.render("zh_CN")
    assert changes(db) == before and stage_of(db, codes[1]) == "not_started"


def test_dates_in_the_future_or_before_the_last_change_are_refused(db):
    (code,) = not_started(db)
    with pytest.raises(MoveRefused, match="in the future"):
        acquisition.move(db, [code], Move(Stage.SURVEYED, acquisition.today()
                                          + dt.timedelta(days=1)), "u")  # fmt: skip
    acquisition.move(db, [code], Move(Stage.SURVEYED, D(2011, 9, 1)), "u")
    with pytest.raises(MoveRefused, match="before its last recorded change"):
        acquisition.move(db, [code], Move(Stage.PLAN_PUBLISHED, D(2011, 8, 1)), "u")


def test_history_order_and_as_of_between_changes(db):
    (code,) = not_started(db)
    acquisition.move(db, [code], Move(Stage.PRE_ANNOUNCED, D(2011, 3, 1)), "u")
    acquisition.move(db, [code], Move(Stage.AGREEMENT_SIGNED, D(2011, 5, 1)), "u")
    acquisition.move(db, [code], Move(Stage.SURVEYED, D(2011, 6, 1), correction=True,
                                      reason="协议未经户主签字，作废"), "u")  # fmt: skip
    acquisition.move(db, [code], Move(Stage.CLEARED, D(2011, 9, 1)), "u")
    assert [h["stage"] for h in acquisition.history(db, code)] == [
        "pre_announced", "agreement_signed", "surveyed", "cleared"]  # fmt: skip
    expected = {D(2011, 2, 28): "not_started", D(2011, 3, 1): "pre_announced",
                D(2011, 4, 15): "pre_announced", D(2011, 5, 20): "agreement_signed",
                D(2011, 6, 1): "surveyed", D(2011, 8, 31): "surveyed",
                D(2011, 9, 1): "cleared", D(2026, 1, 1): "cleared"}  # fmt: skip
    assert {d: stage_of(db, code, d) for d in expected} == expected


def test_disputes_show_and_are_dated(db):
    (code,) = not_started(db)
    acquisition.set_dispute(db, code, True, D(2011, 10, 1), "钉子户：拒绝搬迁", "u")
    row = db.execute(text("SELECT dispute, dispute_reason, stage FROM parcel WHERE code = :c"),
                     {"c": code}).one()  # fmt: skip
    assert tuple(row) == (True, "钉子户：拒绝搬迁", "not_started")
    as_of = "SELECT lm_dispute_as_of(id, dispute, :d) FROM parcel WHERE code = :c"
    assert db.execute(text(as_of), {"c": code, "d": D(2011, 9, 30)}).scalar() is False
    acquisition.set_dispute(db, code, False, D(2011, 11, 1), "", "u")
    assert db.execute(text(as_of), {"c": code, "d": D(2011, 10, 15)}).scalar() is True
    assert db.execute(text(as_of), {"c": code, "d": D(2011, 11, 2)}).scalar() is False
    with pytest.raises(MoveRefused, match="needs a reason"):
        acquisition.set_dispute(db, code, True, D(2011, 11, 5), " ", "u")


# --- the database guards the history ------------------------------------------------------


def test_history_rows_cannot_be_changed_or_deleted(db):
    (code,) = not_started(db)
    acquisition.move(db, [code], Move(Stage.SURVEYED, D(2011, 9, 1)), "u")
    for sql in ("UPDATE stage_change SET note = 'x'", "DELETE FROM stage_change"):
        with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
            db.execute(text(sql))


def test_the_stage_cannot_be_set_around_the_history(db):
    (code,) = not_started(db)
    with pytest.raises(DBAPIError, match="only through its history"), db.begin_nested():
        db.execute(text("UPDATE parcel SET stage = 'cleared' WHERE code = :c"), {"c": code})


def test_a_stale_from_stage_is_refused_by_the_database(db):
    (code,) = not_started(db)
    with pytest.raises(DBAPIError, match="not at stage surveyed"), db.begin_nested():
        db.execute(text("""
            INSERT INTO stage_change (parcel_id, change_set, kind, from_stage, to_stage,
                happened_on, recorded_by)
            SELECT id, gen_random_uuid(), 'stage', 'surveyed', 'cleared', '2011-09-01', 'x'
            FROM parcel WHERE code = :c"""), {"c": code})  # fmt: skip


# --- progress ------------------------------------------------------------------------------


def batch_ids(db):
    return dict(db.execute(text("""
        SELECT b.name, b.id FROM acquisition_batch b JOIN project p ON p.id = b.project_id
        WHERE p.name = 'C区1000亩土地开发项目'""")).all())  # fmt: skip


def project_id(db):
    return db.execute(text("SELECT id FROM project WHERE name = 'C区1000亩土地开发项目'")).scalar()


def test_progress_of_the_first_batch_adds_up_to_its_parcels(db):
    day = D(2011, 11, 30)
    pr = acquisition.progress(db, project_id(db), batch_ids(db)["第一批"], day)
    assert pr.target_mu == 315 and pr.due == D(2011, 12, 31)
    cleared = db.execute(text("""
        SELECT sum(area_mu) FROM parcel p WHERE batch_id = :b
        AND lm_stage_as_of(p.id, p.stage, :d) = 'cleared'"""),
        {"b": batch_ids(db)["第一批"], "d": day}).scalar()  # fmt: skip
    assert pr.cleared_mu == pytest.approx(cleared, abs=0.01)
    assert sum(pr.mu_by_stage.values()) == pytest.approx(315, abs=0.1)
    assert pr.series[-1] == ClearedOn(D(2011, 11, 30), pr.cleared_mu)


def test_projected_completion_on_a_constructed_history(db):
    """Batch 2 (685 mu): clear 137 mu at an even pace over the 90 days before the as-of day;
    the rest follows at 137/90 mu a day."""
    bid = batch_ids(db)["第二批"]
    rows = db.execute(
        text("""SELECT code, area_mu FROM parcel WHERE batch_id = :b
                              AND stage = 'not_started' ORDER BY code"""),
        {"b": bid},
    ).all()
    chosen, total = [], 0.0
    for code, mu in rows:
        if total + mu > 140:
            break
        chosen.append(code)
        total += mu
    as_of = D(2012, 6, 30)
    start = as_of - dt.timedelta(days=89)
    for i, code in enumerate(chosen):
        day = start + dt.timedelta(days=round(i * 89 / max(len(chosen) - 1, 1)))
        acquisition.move(db, [code], Move(Stage.CLEARED, day), "u")
    pr = acquisition.progress(db, project_id(db), bid, as_of)
    pace = total / 90
    assert pr.cleared_mu == pytest.approx(total, abs=0.01)
    assert pr.pace_mu_per_day == pytest.approx(pace, abs=0.001)
    expected = as_of + dt.timedelta(days=-(-(685 - total) // pace))
    projected = pr.projected_completion
    assert abs((projected - expected).days) <= 1
    assert pr.on_track is (expected <= D(2012, 12, 31))


def test_nothing_cleared_means_no_projection(db):
    pr = acquisition.progress(db, project_id(db), batch_ids(db)["第二批"], D(2011, 11, 30))
    assert pr.cleared_mu == 0 and pr.projected_completion is None and not pr.on_track


def test_the_ledger_workbook_matches_the_progress(db):
    day = D(2011, 11, 30)
    data = reports.acquisition_ledger(db, project_id(db), day)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["说明", "汇总", "第一批", "第二批"]
    head = [c.value for c in wb["汇总"][1]]
    summary = {r[0]: dict(zip(head, r, strict=True))
               for r in wb["汇总"].iter_rows(min_row=2, values_only=True)}  # fmt: skip
    pr = acquisition.progress(db, project_id(db), batch_ids(db)["第一批"], day)
    first = summary["第一批"]
    assert first["目标（亩）"] == 315 and first["已整理到位（亩）"] == pr.cleared_mu
    assert first["整理到位（亩）"] == pr.cleared_mu
    sheet = list(wb["第一批"].iter_rows(values_only=True))
    parcels = [r for r in sheet[1:] if r[0] and r[0].startswith("4308")]
    assert len(parcels) == 44
    total_row = next(r for r in sheet if r[0] == "合计")
    assert total_row[4] == pytest.approx(315, abs=0.05)
    cleared = sum(r[4] for r in parcels if r[5] == "整理到位")
    assert cleared == pytest.approx(pr.cleared_mu, abs=0.05)
