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


def test_refusals_say_why_with_their_status_code_and_chinese(db, c_project):
    project, batch = c_project
    grant = rec(db, "grant", 10)
    fix = quota.record(db, Entry(Y, "correct", reverses=grant.id), "tester")
    last = quota.last_year()
    cases = [
        (Entry(Y, "correct"), 400, "quota_correction_needs_entry", "冲正须注明所冲正的记录"),
        (Entry(Y, "grant"), 400, "quota_amount_missing", "未填写面积"),
        (
            Entry(1989, "grant", mu=Decimal(1)),
            400,
            "quota_year_out_of_range",
            f"年度须在 1990 至 {last} 年之间",
        ),
        (
            Entry(Y, "reserve", mu=Decimal(1)),
            400,
            "quota_entry_needs_project",
            "“预留”记录须注明所用于的项目（及批次）",
        ),
        (
            Entry(Y, "reserve", mu=Decimal(1), project_id=999999),
            404,
            "quota_unknown_project",
            "项目 999999 不存在",
        ),
        (
            Entry(Y, "reserve", mu=Decimal(1), project_id=project, batch_id=999999),
            404,
            "quota_project_has_no_batch",
            f"项目 {project} 没有批次 999999",
        ),
        (Entry(Y, "correct", reverses=999999), 404, "quota_no_entry", "要冲正的记录 999999 不存在"),
        (
            Entry(Y, "correct", reverses=fix.id),
            409,
            "quota_correction_not_reversible",
            "冲正记录本身不能再冲正，请另行录入一条新记录",
        ),
        (
            Entry(Y, "correct", reverses=grant.id),
            409,
            "quota_entry_already_reversed",
            f"记录 {grant.id} 已由记录 {fix.id} 冲正",
        ),
        (
            Entry(Y, "gift", mu=Decimal(1)),
            400,
            "unknown_choice",
            "未知的台账条目类型 'gift'；可选：下达、预留、报批使用、释放、冲正",
        ),
        (
            Entry(Y, "grant", "bank", Decimal(1)),
            400,
            "unknown_choice",
            "未知的指标来源 'bank'；可选：年度计划指标、增减挂钩节余、其他",
        ),
        (
            Entry(Y, "reserve", mu=Decimal(11), project_id=project),
            409,
            "quota_reserve_over_remaining",
            "无法预留 11.00 亩：2029 年的年度计划指标仅剩 0.00 亩",
        ),
    ]
    got = []
    for entry, _status, _code, _zh in cases:
        with pytest.raises(QuotaRefused) as info:
            quota.record(db, entry, "tester")
        got.append((info.value.status, info.value.code, info.value.render("zh_CN")))
    assert got == [(status, code, zh) for _, status, code, zh in cases]


def test_refusals_read_in_english_with_labels_not_ids(db, c_project):
    project, _ = c_project
    rec(db, "grant", 10, source="linkage")
    with pytest.raises(QuotaRefused) as info:
        rec(db, "consume", 12, source="linkage", project_id=project)
    assert (
        str(info.value)
        == info.value.render("en")
        == (
            "cannot consume 12.00 mu: 0.00 mu were reserved for it and only 10.00 mu of the "
            "2029 Linkage savings remain"
        )
    )
    assert "增减挂钩节余" in info.value.render("zh_CN") and "linkage" not in info.value.render(
        "zh_CN"
    )
    with pytest.raises(QuotaRefused) as info:
        rec(db, "release", 1, source="linkage", project_id=project)
    assert info.value.code == "quota_release_over_reserved"
    assert info.value.render("zh_CN") == "无法释放 1.00 亩：为其预留的指标仅有 0.00 亩"


def test_an_entry_dated_tomorrow_is_refused(db):
    tomorrow = today() + dt.timedelta(days=1)
    with pytest.raises(QuotaRefused, match="future") as info:
        rec(db, "grant", 1, day=tomorrow)
    assert info.value.status == 400
