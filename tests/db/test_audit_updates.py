"""Every UPDATE of an audited row writes one audit row, with the row before and after: users,
tokens, quota years, commercial plots. An UPDATE that changes nothing the audit keeps writes
none; secrets never appear."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from landmap.messages import gettext
from landmap.services import audit, quota, users


@pytest.fixture
def since(db) -> int:
    """The last audit row before the test's own."""
    return db.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()


def audit_after(db, since: int) -> list:
    return db.execute(
        text("""SELECT entity, key, action, before, after, actor FROM audit_log
                WHERE id > :i ORDER BY id"""),
        {"i": since},
    ).all()


def changed(row) -> dict:
    """The keys whose value differs between before and after."""
    return {
        k: (row.before.get(k), row.after.get(k))
        for k in row.before.keys() | row.after.keys()
        if row.before.get(k) != row.after.get(k)
    }


def test_a_users_role_change_is_one_row_with_before_and_after(db, accounts, since):
    name = accounts["viewer"]["name"]
    db.execute(
        text("UPDATE app_user SET role = 'officer', display_name = '王五' WHERE name = :n"),
        {"n": name},
    )
    (row,) = audit_after(db, since)
    assert (row.entity, row.key, row.action) == ("user", name, "update")
    assert changed(row) == {"role": ("viewer", "officer"), "display_name": ("", "王五")}
    assert row.before["name"] == row.after["name"] == name
    assert "password_hash" not in row.before | row.after and row.actor


def test_disabling_a_user_is_audited_with_its_tokens(db, accounts, since):
    name = accounts["planner"]["name"]
    users.disable(db, name)
    rows = audit_after(db, since)
    assert [(r.entity, r.action) for r in rows] == [("user", "update"), ("token", "update")]
    assert changed(rows[0]) == {"active": (True, False)}
    assert rows[1].key.startswith(f"{name}#")
    assert set(changed(rows[1])) == {"revoked_at"} and rows[1].before["revoked_at"] is None


def test_an_update_of_several_rows_is_one_audit_row_each_matched_to_its_own(db, accounts, since):
    names = sorted(accounts[r]["name"] for r in ("viewer", "officer", "planner"))
    db.execute(
        text("UPDATE app_user SET display_name = 'x-' || name WHERE name = ANY(:n)"), {"n": names}
    )
    rows = audit_after(db, since)
    assert sorted(r.key for r in rows) == names
    for r in rows:
        assert r.before["name"] == r.after["name"] == r.key
        assert changed(r) == {"display_name": ("", f"x-{r.key}")}


def test_an_update_that_changes_nothing_kept_writes_nothing(db, accounts, since):
    db.execute(text("UPDATE app_user SET role = role"))
    db.execute(text("UPDATE api_token SET last_used_at = now()"))  # not kept by the audit
    db.execute(text("UPDATE quota_year SET note = note"))
    assert audit_after(db, since) == []


@pytest.mark.xfail(
    strict=True,
    reason="since 0008 lm_audit leaves password_hash out before comparing the rows, so a "
    "password change (that column only) writes no audit row; 0005 recorded it",
)
def test_a_password_change_is_audited_without_the_hash(db, accounts, since):
    name = accounts["officer"]["name"]
    users.set_password(db, name, "another long enough password")
    rows = [r for r in audit_after(db, since) if r.entity == "user"]
    assert [(r.key, r.action) for r in rows] == [(name, "update")]
    assert "password_hash" not in rows[0].before | rows[0].after


def test_revoking_a_token_is_one_row_without_the_hash(db, accounts):
    token = users.new_token(db, accounts["viewer"]["name"], "to revoke")
    since = db.execute(text("SELECT max(id) FROM audit_log")).scalar_one()
    assert users.revoke_token(db, token)
    (row,) = audit_after(db, since)
    assert (row.entity, row.action) == ("token", "update")
    assert row.key == f"{accounts['viewer']['name']}#{row.after['id']}"
    assert set(changed(row)) == {"revoked_at"} and row.after["revoked_at"] is not None
    assert row.after["label"] == "to revoke"
    assert "token_hash" not in row.before | row.after


def test_a_quota_years_target_insert_then_update(db, since):
    quota.set_target(db, 2035, Decimal("100"), "计划")
    quota.set_target(db, 2035, Decimal("120.5"), "调整")
    rows = audit_after(db, since)
    assert [(r.entity, r.key, r.action) for r in rows] == [
        ("quota_year", "2035", "insert"),
        ("quota_year", "2035", "update"),
    ]
    assert rows[0].before is None and rows[0].after["target_mu"] == 100
    assert changed(rows[1]) == {"target_mu": (100, 120.5), "note": ("计划", "调整")}


def test_a_commercial_plots_update_is_one_row_keyed_by_its_parcel(db, since):
    plot = db.execute(
        text("""SELECT c.parcel_id, p.code, c.transfer_status FROM commercial_plot c
                              JOIN parcel p ON p.id = c.parcel_id
                              WHERE c.transfer_status = 'planned' ORDER BY p.code LIMIT 1""")
    ).one()
    db.execute(
        text("""UPDATE commercial_plot SET transfer_status = 'listed',
                       reserve_price_wan = 1234.5 WHERE parcel_id = :p"""),
        {"p": plot.parcel_id},
    )
    (row,) = audit_after(db, since)
    assert (row.entity, row.key, row.action) == ("commercial_plot", plot.code, "update")
    assert changed(row)["transfer_status"] == ("planned", "listed")
    assert changed(row)["reserve_price_wan"][1] == 1234.5
    assert row.before["parcel_id"] == row.after["parcel_id"] == plot.parcel_id


def test_the_service_reads_an_update_as_its_changed_fields_by_label(db, since):
    quota.set_target(db, 2034, Decimal("100"), "计划")
    quota.set_target(db, 2034, Decimal("120.456"), "调整")
    entries = audit.entries(db, audit.AuditFilter(entity="quota_year", key="2034"))
    assert [e.action for e in entries] == ["update", "insert"]  # newest first
    newest = entries[0]
    assert {c.field: (c.before, c.after) for c in newest.changes} == {
        "target_mu": (100.0, 120.46),
        "note": ("计划", "调整"),
    }
    target = gettext("target (mu)", "zh_CN")  # the catalogue's word for it
    assert set(newest.summary("zh_CN")) == {f"{target}：100.00 → 120.46", "备注：计划 → 调整"}
    assert set(newest.summary("en")) == {"Target (mu): 100.00 → 120.46", "Note: 计划 → 调整"}
    assert newest.action_label("zh_CN") == "修改" and entries[1].action_label("zh_CN") == "新增"
    assert newest.at.utcoffset().total_seconds() == 8 * 3600
    assert newest.target() == ("quota", {"year": 2034})
    later = audit.entries(db, audit.AuditFilter(entity="quota_year", key="2034", offset=1))
    assert [e.id for e in later] == [entries[1].id]
