"""Compensation and resettlement through the API (issue 19's "What it must show"), on the
demo database, in the test's transaction."""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal

import pytest
from conftest import client_for, free_parcels
from sqlalchemy import text

from landmap import create_app
from landmap.domain import today
from landmap.services.personal import check_character

YEAR = today().year
ZH = {"Accept-Language": "zh-CN"}


def id_number(serial: int, born: str = "19800101") -> str:
    """A resident ID number with its right check digit."""
    base = f"430802{born}{serial:03d}"
    return base + check_character(base)


STANDARD = {
    "year": YEAR,
    "effective_from": f"{YEAR}-01-01",
    "items": [
        {"kind": "land", "class": "cultivated", "rate_yuan": 48000},
        {"kind": "land", "class": "耕地" if False else "garden", "rate_yuan": 36000},
        {"kind": "land", "class": "forest", "rate_yuan": 21000},
        {"kind": "land", "class": "other_agricultural", "rate_yuan": 18000},
        {"kind": "land", "class": "construction", "rate_yuan": 30000},
        {"kind": "land", "class": "unused", "rate_yuan": 9000},
        {"kind": "crops", "class": "cultivated", "rate_yuan": 1800},
        {"kind": "social_security", "rate_yuan": 22000},
        {"kind": "house", "class": "砖混", "unit": "元/m²", "rate_yuan": 850},
        {"kind": "house", "class": "frame", "rate_yuan": 1050},
        {"kind": "attachment", "class": "果树", "rate_yuan": 80},
        {"kind": "relocation", "rate_yuan": 3000},
        {"kind": "transition", "rate_yuan": 450, "months": 12},
        {"kind": "early_award", "rate_yuan": 5000, "until": f"{YEAR}-12-31"},
    ],
}


def household_body(serial: int, head: str = "张三", **extra):
    return {
        "head": head,
        "id_number": id_number(serial),
        "phone": "13907441234",
        "members": 4,
        "houses": [{"structure": "brick_concrete", "area_m2": 120}],
        "resettlement": "money",
        **extra,
    }


@pytest.fixture
def standard(client):
    r = client.post("/api/compensation/standards", json=STANDARD)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def yuan(v) -> Decimal:
    return Decimal(str(v)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def test_what_it_must_show(app, client, db, accounts, standard):
    code = free_parcels(db, 1)[0]
    r = client.post(f"/api/parcels/{code}/households", json=household_body(1))
    assert r.status_code == 201, r.get_json()
    hid = r.get_json()["id"]

    # computed item by item: the total is an independent sum of rate x quantity over the
    # items the standard names
    comp = client.get(f"/api/households/{hid}/compensation").get_json()
    assert comp["standard"] == standard["id"]
    rates = {(i["kind"], i["class"]): Decimal(str(i["rate_yuan"])) for i in standard["items"]}
    independent = Decimal(0)
    for item in comp["items"]:
        rate = rates[(item["kind"], item["class"])]
        assert Decimal(str(item["rate_yuan"])) == rate
        independent += (rate * Decimal(str(item["quantity"]))).quantize(Decimal("0.01"))
    assert yuan(comp["total_yuan"]) == independent
    kinds = {(i["kind"], i["class"]): i for i in comp["items"]}
    assert kinds[("house", "brick_concrete")]["quantity"] == 120
    assert kinds[("house", "brick_concrete")]["amount_yuan"] == 102000
    assert kinds[("transition", "")]["quantity"] == 48  # 4 members x 12 months
    assert kinds[("relocation", "")]["amount_yuan"] == 3000
    assert kinds[("early_award", "")]["amount_yuan"] == 5000
    # the land: the parcel's whole area, in its classes
    area = db.execute(text("SELECT area_mu FROM parcel WHERE code = :c"), {"c": code}).scalar()
    land = sum(i["quantity"] for i in comp["items"] if i["kind"] == "land")
    assert land == pytest.approx(float(area), abs=0.001 * len(comp["items"]))
    total = comp["total_yuan"]

    # an agreement for that total
    r = client.post(
        f"/api/households/{hid}/agreement",
        json={"number": "C1-2026-001", "date": today().isoformat(), "amount_yuan": total},
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["amount_yuan"] == total

    # a payment above it: 409
    r = client.post(
        f"/api/households/{hid}/payments",
        json={"date": today().isoformat(), "amount_yuan": total + 0.01, "voucher": "PZ-1"},
    )
    assert r.status_code == 409, r.get_json()

    # agreement signed: the parcel may move to 协议签订 ...
    day = today().isoformat()
    r = client.post(f"/api/parcels/{code}/stage", json={"stage": "agreement_signed", "date": day})
    assert r.status_code == 201, r.get_json()
    # ... but not to 补偿兑付 before it is paid: 409 naming the household
    half = float(yuan(Decimal(str(total)) / 2))
    r = client.post(
        f"/api/households/{hid}/payments",
        json={"date": day, "amount_yuan": half, "voucher": "PZ-2"},
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["status"] == "part_paid"
    r = client.post(
        f"/api/parcels/{code}/stage", json={"stage": "compensated", "date": day}, headers=ZH
    )
    assert r.status_code == 409, r.get_json()
    assert "张三" in r.get_json()["error"]
    assert "补偿兑付" in r.get_json()["error"]
    # after two payments that sum to the agreement: accepted
    rest = float(yuan(Decimal(str(total)) - Decimal(str(half))))
    r = client.post(
        f"/api/households/{hid}/payments",
        json={"date": day, "amount_yuan": rest, "voucher": "PZ-3"},
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["outstanding_yuan"] == 0
    assert r.get_json()["status"] == "paid"
    r = client.post(f"/api/parcels/{code}/stage", json={"stage": "compensated", "date": day})
    assert r.status_code == 201, r.get_json()

    # the ID number reads masked for a viewer, in full for an officer (and that is audited)
    viewer = client_for(app, accounts["viewer"]["token"])
    seen = viewer.get(f"/api/households/{hid}").get_json()
    number = id_number(1)
    assert seen["masked"] is True
    assert seen["id_number"] == number[:6] + "********" + number[-4:]
    assert seen["phone"] == "139****1234"
    officer = client_for(app, accounts["officer"]["token"])
    assert officer.get(f"/api/households/{hid}").get_json()["id_number"] == number

    # the project's figures are the sums of its households'
    project = db.execute(
        text("SELECT project_id FROM parcel WHERE code = :c"), {"c": code}
    ).scalar()
    summary = client.get(f"/api/projects/{project}/compensation").get_json()
    listed = client.get(f"/api/projects/{project}/compensation/households").get_json()
    households = listed["households"]
    assert hid in [h["id"] for h in households]
    for key in ("computed_yuan", "agreed_yuan", "paid_yuan", "outstanding_yuan"):
        assert yuan(summary[key]) == sum((yuan(h[key] or 0) for h in households), Decimal(0))
    assert summary["households"]["total"] == len(households)
    for h in households:
        if h["id"] == hid:
            assert h["computed_yuan"] == total
            assert h["agreed_yuan"] == total and h["paid_yuan"] == total


def test_the_id_number_is_not_in_the_database(client, db, standard):
    code = free_parcels(db, 1)[0]
    number = id_number(7)
    r = client.post(f"/api/parcels/{code}/households", json=household_body(7))
    assert r.status_code == 201
    found = db.execute(
        text("""SELECT count(*) FROM household h WHERE h::text LIKE '%' || :n || '%'
                OR h::text LIKE '%13907441234%'"""),
        {"n": number[6:14]},
    ).scalar()
    assert found == 0
    audit = db.execute(
        text("SELECT count(*) FROM audit_log WHERE entity = 'household' AND after::text LIKE :n"),
        {"n": f"%{number}%"},
    ).scalar()
    assert audit == 0
    # nor the sealed numbers: the audit keeps them out as it does passwords
    kept = db.execute(
        text("SELECT after FROM audit_log WHERE entity = 'household' ORDER BY id DESC LIMIT 1")
    ).scalar()
    assert kept["head"] == "张三" and not {"id_sealed", "phone_sealed", "id_digest"} & set(kept)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"id_number": "430802198001010010"}, 400, "compensation_field_invalid"),
        ({"id_number": "43080219801301001X"}, 400, "compensation_field_invalid"),
        ({"members": 0}, 400, "compensation_field_invalid"),
        ({"members": "4"}, 400, "compensation_field_invalid"),
        ({"houses": [{"structure": "castle", "area_m2": 10}]}, 400, "compensation_field_invalid"),
        ({"houses": [{"structure": "frame", "area_m2": -1}]}, 400, "compensation_field_invalid"),
        ({"houses": [{"structure": "frame", "area_m2": "1e400"}]}, 400, None),
        ({"resettlement": "flat"}, 400, "flat_needs_area"),
        ({"parcels": ["NO-SUCH"]}, 404, "compensation_parcels_unknown"),
        ({"surprise": 1}, 400, "unknown_fields"),
        ({"head": ""}, 400, "compensation_field_required"),
    ],
)
def test_bad_households_are_refused_with_a_translated_message(client, db, change, status, code):
    parcel = free_parcels(db, 1)[0]
    body = {**household_body(11), **change}
    r = client.post(f"/api/parcels/{parcel}/households", json=body, headers=ZH)
    assert r.status_code == status, r.get_json()
    if code:
        assert r.get_json()["code"] == code
    assert not any("a" <= ch <= "z" for ch in r.get_json()["error"].split("：")[0][:2])
    assert (
        db.execute(text("SELECT count(*) FROM household")).scalar()
        == db.execute(text("SELECT count(*) FROM household")).scalar()
    )


def test_one_household_per_person_and_one_agreement_per_household(client, db, standard):
    a, b = free_parcels(db, 2)
    assert client.post(f"/api/parcels/{a}/households", json=household_body(21)).status_code == 201
    r = client.post(f"/api/parcels/{b}/households", json=household_body(21, head="李四"))
    assert r.status_code == 409
    hid = client.post(
        f"/api/parcels/{b}/households", json=household_body(22, head="李四")
    ).get_json()["id"]
    total = client.get(f"/api/households/{hid}/compensation").get_json()["total_yuan"]
    day = today().isoformat()
    first = client.post(
        f"/api/households/{hid}/agreement",
        json={"number": "X-1", "date": day, "amount_yuan": total},
    )
    assert first.status_code == 201
    # a second agreement that does not name the first: 409
    again = client.post(
        f"/api/households/{hid}/agreement",
        json={"number": "X-1", "date": day, "amount_yuan": total},
    )
    assert again.status_code == 409
    # an amount that is not the total plus its adjustments: 409
    wrong = client.post(
        f"/api/households/{hid}/agreement",
        json={"number": "X-1", "date": day, "amount_yuan": total + 500,
              "supersedes": first.get_json()["id"], "note": "复核"},
    )  # fmt: skip
    assert wrong.status_code == 409
    assert wrong.get_json()["code"] == "agreement_amount_unexplained"
    # a correction with the adjustment and its reason: version 2
    fixed = client.post(
        f"/api/households/{hid}/agreement",
        json={"number": "X-1", "date": day, "amount_yuan": total + 500,
              "adjustments": [{"reason": "漏登猪圈", "amount_yuan": 500}],
              "supersedes": first.get_json()["id"], "note": "复核"},
    )  # fmt: skip
    assert fixed.status_code == 201, fixed.get_json()
    assert fixed.get_json()["version"] == 2
    seen = client.get(f"/api/households/{hid}").get_json()
    assert seen["agreed_yuan"] == total + 500
    assert [a["version"] for a in seen["agreements"]] == [1, 2]


def test_the_database_refuses_an_overpayment_and_a_stage_without_agreements(db, client, standard):
    """The guards hold without the service: straight SQL is refused too."""
    code = free_parcels(db, 1)[0]
    hid = client.post(f"/api/parcels/{code}/households", json=household_body(31)).get_json()["id"]
    with pytest.raises(Exception, match="cannot move to agreement_signed"), db.begin_nested():
        db.execute(
            text("""INSERT INTO stage_change (parcel_id, change_set, kind, from_stage,
                            to_stage, happened_on, recorded_by)
                        SELECT id, gen_random_uuid(), 'stage', stage, 'agreement_signed',
                               current_date - 1, 'sql' FROM parcel WHERE code = :c"""),
            {"c": code},
        )
    total = client.get(f"/api/households/{hid}/compensation").get_json()["total_yuan"]
    client.post(
        f"/api/households/{hid}/agreement",
        json={"number": "S-1", "date": today().isoformat(), "amount_yuan": total},
    )
    with pytest.raises(Exception, match="compensation_never_overpaid"), db.begin_nested():
        db.execute(
            text("""INSERT INTO compensation_payment (household_id, agreement_id, paid_on,
                            amount_yuan, voucher, recorded_by)
                        VALUES (:h, 0, current_date, :a, 'SQL-1', 'sql')"""),
            {"h": hid, "a": total + 1},
        )


def test_without_a_standard_the_computation_is_refused(client, db):
    code = free_parcels(db, 1)[0]
    db.execute(text("SELECT 1"))
    hid = client.post(f"/api/parcels/{code}/households", json=household_body(41)).get_json()["id"]
    r = client.get(f"/api/households/{hid}/compensation?date=1999-01-01", headers=ZH)
    assert r.status_code == 409
    assert "补偿标准" in r.get_json()["error"]


def test_a_standard_is_never_edited_and_the_one_in_force_is_used(client, db, standard):
    again = client.post("/api/compensation/standards", json=STANDARD)
    assert again.status_code == 409
    later = {**STANDARD, "effective_from": f"{YEAR}-06-01" if today().month >= 6 else
             f"{YEAR}-01-02"}  # fmt: skip
    later["items"] = [dict(i) for i in STANDARD["items"]]
    later["items"][8] = {"kind": "house", "class": "brick_concrete", "rate_yuan": 900}
    r = client.post("/api/compensation/standards", json=later)
    assert r.status_code == 201, r.get_json()
    day = dt.date.fromisoformat(later["effective_from"])
    in_force = client.get(f"/api/compensation/standards?date={day}").get_json()["standards"]
    assert [s["id"] for s in in_force if s["area"] == ""] == [r.get_json()["id"]]
    before = client.get(
        f"/api/compensation/standards?date={day - dt.timedelta(days=1)}"
    ).get_json()["standards"]
    assert [s["id"] for s in before if s["area"] == ""] == [standard["id"]]
    with pytest.raises(Exception, match="append-only"), db.begin_nested():
        db.execute(text("UPDATE compensation_rate SET rate_yuan = 1"))


def test_every_unmasked_read_is_in_the_audit_trail(live_settings, live_accounts, live_engine):
    """Committed for real (the live schema): the officer's unmasked read leaves an audit row
    naming them; the viewer's masked one leaves none."""
    app = create_app(live_settings)
    admin = client_for(app, live_accounts["admin"]["token"])
    with live_engine.connect() as conn:
        code = conn.execute(
            text("""SELECT code FROM parcel p WHERE batch_id IS NULL AND retired_on IS NULL
                    AND NOT EXISTS (SELECT 1 FROM household_parcel h WHERE h.parcel_id = p.id)
                    ORDER BY code DESC LIMIT 1""")
        ).scalar()
    # an ID number of its own: the live schema keeps every household other tests committed
    born = (dt.date(1950, 1, 1) + dt.timedelta(days=random.randrange(20000))).strftime("%Y%m%d")
    number = id_number(random.randrange(1000), born)
    body = {**household_body(0, head="王五"), "id_number": number}
    r = admin.post(f"/api/parcels/{code}/households", json=body)
    assert r.status_code == 201, r.get_json()
    hid = r.get_json()["id"]
    client_for(app, live_accounts["viewer"]["token"]).get(f"/api/households/{hid}")
    officer = client_for(app, live_accounts["officer"]["token"])
    assert officer.get(f"/api/households/{hid}").get_json()["id_number"] == number
    with live_engine.connect() as conn:
        views = conn.execute(
            text("""SELECT actor FROM audit_log WHERE entity = 'household' AND key = :k
                    AND action = 'view_personal'"""),
            {"k": str(hid)},
        ).scalars()
        assert list(views) == [live_accounts["officer"]["name"]]


def test_the_database_and_the_domain_name_the_same_stages(client, db, standard):
    """lm_households_blocking (the database's guard) and domain.NEEDS_AGREEMENT/NEEDS_PAYMENT
    (what the service asks about) agree on every stage."""
    from landmap.domain import NEEDS_AGREEMENT, NEEDS_PAYMENT, Stage

    a, b = free_parcels(db, 2)
    unsigned = client.post(f"/api/parcels/{a}/households", json=household_body(51)).get_json()
    signed = client.post(f"/api/parcels/{b}/households", json=household_body(52)).get_json()
    total = client.get(f"/api/households/{signed['id']}/compensation").get_json()["total_yuan"]
    r = client.post(
        f"/api/households/{signed['id']}/agreement",
        json={"number": "D-1", "date": today().isoformat(), "amount_yuan": total},
    )
    assert r.status_code == 201
    for stage in Stage:
        for code, needs in ((a, NEEDS_AGREEMENT), (b, NEEDS_PAYMENT)):
            blocked = db.execute(
                text("""SELECT count(*) FROM parcel p,
                        lm_households_blocking(p.id, :s, current_date) WHERE p.code = :c"""),
                {"s": stage.value, "c": code},
            ).scalar()
            assert bool(blocked) == (stage in needs), (stage, code)
    assert unsigned["id"] != signed["id"]


def test_a_batch_gets_its_budget_through_the_api_and_the_form(client, db):
    batch, project = db.execute(
        text("""SELECT b.id, b.project_id FROM acquisition_batch b JOIN project p
                ON p.id = b.project_id WHERE p.closed_on IS NULL ORDER BY b.id LIMIT 1""")
    ).one()
    r = client.patch(f"/api/batches/{batch}", json={"budget_yuan": 12345678.9, "flats_planned": 40})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["budget_yuan"] == 12345678.9 and r.get_json()["flats_planned"] == 40
    summary = client.get(f"/api/projects/{project}/compensation?batch={batch}").get_json()
    assert summary["budget_yuan"] == 12345678.9 and summary["flats_planned"] == 40
    bad = client.patch(f"/api/batches/{batch}", json={"budget_yuan": "很多"}, headers=ZH)
    assert bad.status_code == 400 and "预算" in bad.get_json()["error"]
    # the batch form (its fields as text) keeps and changes them
    form = client.get(f"/batches/{batch}/edit").get_data(as_text=True)
    assert 'name="budget_yuan"' in form and "12345678.90" in form
    saved = client.post(
        f"/batches/{batch}/edit",
        data={"name": db.execute(text("SELECT name FROM acquisition_batch WHERE id = :b"),
                                 {"b": batch}).scalar(),
              "target_mu": "100", "due": "2030-12-31", "note": "", "budget_yuan": "500000",
              "flats_planned": "12"},
    )  # fmt: skip
    assert saved.status_code in (302, 303), saved.get_data(as_text=True)[:500]
    row = db.execute(
        text("SELECT budget_yuan, flats_planned FROM acquisition_batch WHERE id = :b"),
        {"b": batch},
    ).one()
    assert (float(row.budget_yuan), row.flats_planned) == (500000.0, 12)
