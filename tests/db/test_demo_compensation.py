"""The demo's compensation (data/demo/compensation.json): a 2011 standard, households on the
parcels the history surveyed, agreements and payments consistent with the stages, and the
budget of batch 1 of zone C; on the session's fresh demo, through the API where a user would
look."""

from __future__ import annotations

import importlib.util
import json
from decimal import Decimal

import pytest
from conftest import client_for
from sqlalchemy import text

from landmap.config import PROJECT_ROOT
from landmap.demo import DEMO_DIR, load_demo
from landmap.services.personal import id_number_problem

C_PROJECT = "C区1000亩土地开发项目"
AFTER_PAYMENT = ("compensated", "demolished", "cleared")


def yuan(v) -> Decimal:
    return Decimal(str(v)).quantize(Decimal("0.01"))


def codes_at(db, *stages: str) -> list[str]:
    return list(
        db.execute(
            text("SELECT code FROM parcel WHERE stage = ANY(:s) ORDER BY code"),
            {"s": list(stages)},
        ).scalars()
    )


def first_day_at(db, code: str, stages: tuple[str, ...]):
    """The day the history first moved the parcel to one of ``stages``."""
    return db.execute(
        text("""SELECT min(c.happened_on) FROM stage_change c JOIN parcel p ON p.id = c.parcel_id
                WHERE p.code = :c AND c.to_stage = ANY(:s)"""),
        {"c": code, "s": list(stages)},
    ).scalar_one()


@pytest.fixture
def viewer(app, accounts):
    return client_for(app, accounts["viewer"]["token"])


def test_every_parcel_compensated_or_later_has_its_households_paid_in_full(db, viewer):
    codes = codes_at(db, *AFTER_PAYMENT)
    assert len(codes) >= 40
    for code in codes:
        households = viewer.get(f"/api/parcels/{code}/households").get_json()["households"]
        assert 1 <= len(households) <= 3, code
        for h in households:
            assert h["status"] == "paid", (code, h["head"], h["status"])
            assert h["agreed_yuan"] > 0 and h["paid_yuan"] == h["agreed_yuan"]
            assert h["outstanding_yuan"] == 0
    # paid by the day the parcel moved to 补偿兑付, signed by its 协议签订 day (the ledgers
    # themselves, not the status)
    late = db.execute(
        text("""SELECT p.code FROM parcel p JOIN household_parcel hp ON hp.parcel_id = p.id
                JOIN compensation_payment pay ON pay.household_id = hp.household_id
                WHERE pay.paid_on > (SELECT min(c.happened_on) FROM stage_change c
                                     WHERE c.parcel_id = p.id AND c.to_stage = 'compensated')
                UNION ALL
                SELECT p.code FROM parcel p JOIN household_parcel hp ON hp.parcel_id = p.id
                JOIN compensation_agreement a ON a.household_id = hp.household_id
                WHERE a.signed_on > (SELECT min(c.happened_on) FROM stage_change c
                                     WHERE c.parcel_id = p.id
                                       AND c.to_stage = 'agreement_signed')""")
    ).all()
    assert late == []


def test_every_parcel_at_agreement_signed_has_all_its_households_signed(db, viewer):
    codes = codes_at(db, "agreement_signed")
    assert len(codes) >= 10
    statuses = []
    for code in codes:
        households = viewer.get(f"/api/parcels/{code}/households").get_json()["households"]
        assert households, code
        signed_by = first_day_at(db, code, ("agreement_signed",))
        for h in households:
            assert h["status"] != "unsigned", (code, h["head"])
            assert h["agreement"]["date"] <= signed_by.isoformat()
            statuses.append(h["status"])
    # not paid yet, or partly: the office still owes them
    assert statuses.count("signed") >= 3 and statuses.count("part_paid") >= 3
    assert "paid" not in statuses


def test_households_are_where_the_history_surveyed_and_nowhere_else(db):
    per_parcel = dict(
        db.execute(
            text("""SELECT p.code, count(hp.household_id) FROM parcel p
                    LEFT JOIN household_parcel hp ON hp.parcel_id = p.id
                    GROUP BY p.code""")
        ).all()
    )
    surveyed = set(
        db.execute(
            text("""SELECT DISTINCT p.code FROM parcel p JOIN stage_change c
                    ON c.parcel_id = p.id WHERE c.to_stage = 'surveyed'""")
        ).scalars()
    )
    assert len(surveyed) > 100
    assert {c for c, n in per_parcel.items() if n} == surveyed
    assert all(1 <= per_parcel[c] <= 3 for c in surveyed)
    # before 协议签订 nobody has signed
    unsigned = db.execute(
        text("""SELECT count(*) FROM household_status s
                JOIN household_parcel hp ON hp.household_id = s.household_id
                JOIN parcel p ON p.id = hp.parcel_id
                WHERE p.stage IN ('surveyed', 'plan_published')
                  AND s.status <> 'unsigned'""")
    ).scalar_one()
    assert unsigned == 0


def test_the_demo_households_hold_what_the_brief_asks(db, viewer):
    """Several house structures, unregistered houses, attachments, flats with their areas,
    members 1-7, a few adjustments with their reasons; ID numbers valid but shown masked."""
    structures = set(db.execute(text("SELECT DISTINCT structure FROM household_house")).scalars())
    assert structures == {"frame", "brick_concrete", "brick_wood", "earth_wood", "simple"}
    assert db.execute(text("SELECT count(*) FROM household_house WHERE NOT legal")).scalar() > 0
    items = set(db.execute(text("SELECT DISTINCT item FROM household_attachment")).scalars())
    assert {"果树", "水井", "坟墓"} <= items
    members = db.execute(text("SELECT min(members), max(members) FROM household")).one()
    assert members[0] >= 1 and members[1] <= 7
    flats = db.execute(
        text("SELECT count(*) FROM household WHERE resettlement = 'flat' AND flat_area_m2 > 0")
    ).scalar()
    assert flats > 0
    adjusted = db.execute(
        text("""SELECT adjustments FROM compensation_agreement
                WHERE jsonb_array_length(adjustments) > 0""")
    ).scalars()
    adjusted = list(adjusted)
    assert len(adjusted) >= 3
    assert all(a["reason"] and a["amount_yuan"] for adj in adjusted for a in adj)
    book = json.loads((DEMO_DIR / "compensation.json").read_text(encoding="utf-8"))
    for h in book["households"]:
        assert id_number_problem(h["id_number"]) is None, h["id_number"]
    code = book["households"][0]["parcel"]
    shown = viewer.get(f"/api/parcels/{code}/households").get_json()["households"]
    assert all("********" in h["id_number"] for h in shown)
    assert book["households"][0]["id_number"] not in json.dumps(shown)


def test_each_agreement_is_the_computed_total_under_the_2011_standard_plus_adjustments(db, viewer):
    standards = viewer.get("/api/compensation/standards?date=2011-06-01").get_json()
    (standard,) = [s for s in standards["standards"] if s["area"] == ""]
    assert (standard["year"], standard["effective_from"]) == (2011, "2011-01-01")
    before = viewer.get("/api/compensation/standards?date=2010-12-31").get_json()
    assert before["standards"] == []
    rows = db.execute(
        text("""SELECT household_id, signed_on, standard_id, computed_yuan, amount_yuan,
                       adjustments FROM compensation_agreement ORDER BY id""")
    ).all()
    assert len(rows) > 60
    for r in rows[::7]:
        comp = viewer.get(
            f"/api/households/{r.household_id}/compensation?date={r.signed_on}"
        ).get_json()
        assert comp["standard"] == standard["id"] == r.standard_id
        assert yuan(comp["total_yuan"]) == r.computed_yuan
        extra = sum((yuan(a["amount_yuan"]) for a in r.adjustments), Decimal(0))
        assert r.amount_yuan == r.computed_yuan + extra
        kinds = {i["kind"] for i in comp["items"]}
        assert {"land", "relocation", "transition"} <= kinds
    # the early-signing award went to those who signed by its day, and only to them
    award = {i["until"] for i in standard["items"] if i["kind"] == "early_award"}
    assert award == {"2011-06-30"}
    early = [r for r in rows if r.signed_on.isoformat() <= "2011-06-30"]
    late = [r for r in rows if r.signed_on.isoformat() > "2011-06-30"]
    assert early and late


def test_batch_1_of_zone_c_has_a_budget_and_real_figures(db, viewer):
    project, batch = db.execute(
        text("""SELECT p.id, b.id FROM acquisition_batch b JOIN project p ON p.id = b.project_id
                WHERE p.name = :n AND b.name = '第一批'"""),
        {"n": C_PROJECT},
    ).one()
    r = viewer.get(f"/api/projects/{project}/compensation?batch={batch}")
    assert r.status_code == 200, r.get_json()
    money = r.get_json()
    for key in ("computed_yuan", "agreed_yuan", "paid_yuan"):
        assert money[key] > 0, key
    assert yuan(money["outstanding_yuan"]) == yuan(money["agreed_yuan"]) - yuan(money["paid_yuan"])
    assert yuan(money["outstanding_yuan"]) > 0
    # a bit more than the batch will cost, rounded
    assert money["computed_yuan"] < money["budget_yuan"] <= money["computed_yuan"] * 1.1
    assert money["budget_yuan"] % 100000 == 0
    assert money["flats_planned"] >= money["flats_needed"] > 0
    counts = money["households"]
    assert counts["total"] == sum(counts[s] for s in ("unsigned", "signed", "part_paid", "paid"))
    assert min(counts[s] for s in ("unsigned", "signed", "part_paid", "paid")) > 0
    # the second batch has no budget: the demo sets only the first's
    other = db.execute(
        text("SELECT budget_yuan FROM acquisition_batch WHERE project_id = :p AND id <> :b"),
        {"p": project, "b": batch},
    ).scalars()
    assert set(other) == {None}


def compensation_counts(db) -> dict[str, int]:
    tables = ["compensation_standard", "compensation_rate", "household", "household_parcel",
              "household_house", "household_attachment", "compensation_agreement",
              "compensation_payment", "stage_change", "audit_log"]  # fmt: skip
    return {t: db.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def test_a_second_load_changes_nothing(db, settings):
    before = compensation_counts(db)
    budgets = db.execute(text("SELECT id, budget_yuan FROM acquisition_batch ORDER BY id")).all()
    result = load_demo(db, settings)
    assert (result.compensation, result.changed) == (0, False)
    assert compensation_counts(db) == before
    assert db.execute(text("SELECT id, budget_yuan FROM acquisition_batch ORDER BY id")).all() == (
        budgets
    )


def test_the_json_is_what_the_script_makes():
    """compensation.json is committed as scripts/make_demo_compensation.py makes it."""
    path = PROJECT_ROOT / "scripts" / "make_demo_compensation.py"
    spec = importlib.util.spec_from_file_location("make_demo_compensation", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    made = json.loads(json.dumps(script.build(), ensure_ascii=False))
    assert made == json.loads((DEMO_DIR / "compensation.json").read_text(encoding="utf-8"))
