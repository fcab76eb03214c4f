"""Enterprises in the database: the credit code's check character verified by the database
as by Python (GB 32100-2015), and the helpers an import uses to create projects and batches."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from landmap.services import Refused, enterprises, projects
from landmap.services.enterprises import CREDIT_ALPHABET, credit_check_character

VALID = "91350100M000100Y43"


def sql_ok(db, code: str) -> bool:
    return db.execute(text("SELECT lm_credit_code_ok(:c)"), {"c": code}).scalar_one()


def test_the_database_and_python_agree_on_every_check_character(db):
    rng = random.Random(15)
    for _ in range(200):
        body = "".join(rng.choice(CREDIT_ALPHABET) for _ in range(17))
        right = credit_check_character(body)
        assert sql_ok(db, body + right), body
        wrong = CREDIT_ALPHABET[(CREDIT_ALPHABET.index(right) + 1) % 31]
        assert not sql_ok(db, body + wrong), body
        assert enterprises.credit_code_problem(body + right) is None
        assert enterprises.credit_code_problem(body + wrong).code == "credit_code_check_digit"
    for bad in ("", VALID[:17], VALID + "0", VALID.replace("M", "I"), VALID.lower()):
        assert not sql_ok(db, bad), bad


def test_a_wrong_code_cannot_get_in_by_sql_either(db):
    db.execute(text("INSERT INTO enterprise (name, credit_code) VALUES ('甲', :c)"), {"c": VALID})
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(
            text("INSERT INTO enterprise (name, credit_code) VALUES ('乙', '91350100M000100Y44')")
        )
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(
            text("INSERT INTO enterprise (name, credit_code) VALUES ('丙', :c)"), {"c": VALID}
        )


def test_an_enterprise_in_use_cannot_be_deleted_and_changes_are_audited(db):
    eid, created = enterprises.ensure_enterprise(db, "审计企业", industry="建材")
    assert created
    projects.create_project(db, {"name": "审计项目", "kind": "industrial", "enterprise": eid})
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(text("DELETE FROM enterprise WHERE id = :e"), {"e": eid})
    enterprises.update_enterprise(db, eid, {"phone": "0744-8200000"})
    rows = db.execute(
        text(
            "SELECT action FROM audit_log WHERE entity = 'enterprise' AND key = '审计企业' "
            "ORDER BY id"
        )
    ).scalars()
    assert list(rows) == ["insert", "update"]
    assert enterprises.ensure_enterprise(db, "审计企业", industry="建材") == (eid, False)


def test_ensure_project_and_batch_create_once(db):
    pid, created = projects.ensure_project(db, "文件里的项目", zone="C")
    assert created and projects.ensure_project(db, "文件里的项目") == (pid, False)
    with pytest.raises(Refused):
        projects.ensure_batch(db, pid, "第一批")  # a new batch needs its target
    bid, created = projects.ensure_batch(db, pid, "第一批", Decimal("42.5"))
    assert created and projects.ensure_batch(db, pid, "第一批") == (bid, False)
    assert projects.project_of_batch(db, bid) == pid
