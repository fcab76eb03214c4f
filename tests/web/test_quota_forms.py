"""The quota ledger's forms on /quota: administrators record grants, reservations, consumptions,
releases and corrections and set the year's target through plain POST forms that meet the
API's refusals, shown beside the form in the user's language, with what they typed kept."""

from __future__ import annotations

import re

from conftest import client_for
from sqlalchemy import text
from test_security import csrf_from, sign_in

Y = 2038  # a year of these tests' own (each test rolls back)


def project_and_batch(db) -> tuple[int, int]:
    return tuple(
        db.execute(
            text("""
        SELECT p.id, b.id FROM project p JOIN acquisition_batch b ON b.project_id = p.id
        ORDER BY p.id, b.id LIMIT 1""")
        ).one()
    )


def book(client, year=Y) -> dict:
    return client.get(f"/api/quota?year={year}").get_json()


def entries(db) -> int:
    return db.execute(text("SELECT count(*) FROM quota_entry")).scalar_one()


def post_entry(client, lang: str = "", **fields):
    form = {"year": str(Y), "kind": "grant", "source": "plan", "unit": "mu", **fields}
    return client.post("/quota/entries" + (f"?lang={lang}" if lang else ""), data=form)


def refusal(html: str, form: str) -> str:
    found = re.search(rf'id="{form}-error"[^>]*>([^<]*)<', html)
    assert found, f"no refusal beside the {form} form"
    return found.group(1)


def test_an_administrator_sees_the_forms_with_projects_and_batches_to_choose(client, db):
    html = client.get(f"/quota?year={Y}").get_data(as_text=True)
    for part in (
        'id="entry-form"',
        'id="target-form"',
        'name="csrf_token"',
        'name="amount"',
        'value="ha"',
        "录入台账记录",
        "年度目标",
        "年度计划指标",
        "增减挂钩节余",
    ):
        assert part in html, part
    project, batch = project_and_batch(db)
    assert f'<option value="{project}"' in html and f'<option value="{batch}"' in html
    kinds = re.findall(r'<select[^>]*name="kind".*?</select>', html, re.S)[0]
    assert {"下达", "预留", "报批使用", "释放"} <= set(re.findall(r">([^<]+)</option>", kinds))
    assert 'value="correct"' not in kinds  # a correction is made from its entry's row


def test_a_viewer_sees_the_ledger_but_no_form_and_may_not_post(app, accounts):
    viewer = client_for(app, accounts["viewer"]["token"])
    html = viewer.get("/quota?year=2011").get_data(as_text=True)
    assert 'id="entries"' in html
    assert 'id="entry-form"' not in html and 'id="target-form"' not in html
    assert "lm-correct" not in html and "/quota/entries" not in html
    assert post_entry(viewer, amount="5").status_code == 403
    assert viewer.post("/quota/target", data={"year": Y, "target_mu": "5"}).status_code == 403


def test_a_grant_in_hectares_is_recorded_then_the_page_shows_it(client, db):
    before = entries(db)
    resp = post_entry(client, amount="2", unit="ha", ref="省自然资源厅〔2038〕1号", note="首批")
    assert resp.status_code == 302
    assert resp.location.endswith(f"/quota?year={Y}#entries")
    assert entries(db) == before + 1
    assert book(client)["granted_mu"] == 30
    html = client.get(resp.location).get_data(as_text=True)
    assert "已入账：下达 30.00 亩" in html
    row = re.search(r'<tr id="entry-\d+"[^>]*>(.*?)</tr>', html, re.S).group(1)
    assert "下达" in row and "年度计划指标" in row and "省自然资源厅〔2038〕1号" in row
    assert "grant" not in row and "plan" not in row


def test_a_reservation_for_a_batch_chosen_from_the_list(client, db):
    project, batch = project_and_batch(db)
    post_entry(client, amount="100")
    resp = post_entry(client, kind="reserve", amount="40", batch=str(batch), project="")
    assert resp.status_code == 302
    after = book(client)
    assert (after["reserved_mu"], after["remaining_mu"]) == (40, 60)
    assert after["entries"][-1]["project_id"] == project


def test_a_negative_amount_is_refused_beside_the_form_keeping_what_was_typed(client, db):
    before = entries(db)
    resp = post_entry(client, amount="-3", ref="文号-甲", note="打错了")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert refusal(html, "entry") == "面积须为正数"
    assert 'value="-3"' in html and 'value="文号-甲"' in html and 'value="打错了"' in html
    assert entries(db) == before


def test_a_reservation_over_the_balance_is_a_409_beside_the_form(client, db):
    project, _ = project_and_batch(db)
    post_entry(client, amount="20")
    before = entries(db)
    resp = post_entry(client, kind="reserve", amount="25", project=str(project))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert refusal(html, "entry") == "无法预留 25.00 亩：2038 年的年度计划指标仅剩 20.00 亩"
    assert re.search(rf'<option value="{project}" selected>', html)  # the choice is kept
    assert re.search(r'<option value="reserve" selected>', html)
    assert entries(db) == before and book(client)["reserved_mu"] == 0


def test_the_form_meets_the_same_refusals_as_the_api(client, db):
    project, _ = project_and_batch(db)
    cases = [
        ({"amount": ""}, "quota_amount_mu_or_ha"),
        ({"amount": "many"}, None),
        ({"kind": "reserve", "amount": "1"}, "quota_entry_needs_project"),
        ({"amount": "1", "year": "1800"}, None),
        ({"amount": "1", "date": "2999-01-01"}, None),
    ]
    for fields, code in cases:
        resp = post_entry(client, **fields)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400, fields
        text_ = refusal(html, "entry")
        assert re.search(r"[\u4e00-\u9fff]", text_), (fields, text_)
        if code:
            assert f'data-code="{code}"' in html, fields
    assert (
        refusal(post_entry(client, kind="reserve", amount="1").get_data(as_text=True), "entry")
        == "“预留”记录须注明所用于的项目（及批次）"
    )


def test_in_english_the_refusal_is_english(client):
    resp = post_entry(client, lang="en", amount="0")
    assert resp.status_code == 400
    assert refusal(resp.get_data(as_text=True), "entry") == "the amount must be a positive number"
    page = client.get(f"/quota?year={Y}").get_data(as_text=True)  # the cookie keeps English
    assert "Record an entry" in page


def test_a_correction_is_made_from_the_entry_row_and_reverses_it(client, db):
    post_entry(client, amount="12.5", ref="错录")
    wrong = book(client)["entries"][-1]
    html = client.get(f"/quota?year={Y}").get_data(as_text=True)
    button = f"/quota?year={Y}&amp;correct={wrong['id']}#correction"
    assert button in html
    form = client.get(f"/quota?year={Y}&correct={wrong['id']}").get_data(as_text=True)
    assert 'id="correction"' in form and f'name="reverses" value="{wrong["id"]}"' in form
    summary = re.search(r'id="correction-entry">([^<]*)', form).group(1)
    assert "年度计划指标" in summary and "下达 12.50 亩" in summary
    resp = client.post(
        "/quota/entries",
        data={"kind": "correct", "year": str(Y), "reverses": str(wrong["id"]), "note": "录错金额"},
    )
    assert resp.status_code == 302
    after = book(client)
    assert after["granted_mu"] == 0
    fix = after["entries"][-1]
    assert (fix["kind"], fix["reverses"], fix["mu"], fix["note"]) == (
        "correct",
        wrong["id"],
        12.5,
        "录错金额",
    )
    html = client.get(f"/quota?year={Y}").get_data(as_text=True)
    assert button not in html  # a reversed entry offers no second correction
    assert f"冲正 #{wrong['id']}" in html


def test_a_second_correction_is_refused_beside_the_correction_form(client, db):
    post_entry(client, amount="3")
    wrong = book(client)["entries"][-1]["id"]
    data = {"kind": "correct", "year": str(Y), "reverses": str(wrong), "ref": "更正-1"}
    assert client.post("/quota/entries", data=data).status_code == 302
    fix = book(client)["entries"][-1]["id"]
    before = entries(db)
    resp = client.post("/quota/entries", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert refusal(html, "correction") == f"记录 {wrong} 已由记录 {fix} 冲正"
    assert 'id="entry-error"' not in html and 'value="更正-1"' in html
    assert entries(db) == before


def test_the_years_target_is_set_from_the_page(client):
    resp = client.post("/quota/target", data={"year": str(Y), "target_mu": "750", "note": "目标"})
    assert resp.status_code == 302 and resp.location.endswith(f"/quota?year={Y}#target")
    assert book(client)["target_mu"] == 750
    bad = client.post("/quota/target", data={"year": str(Y), "target_mu": "many"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "年度目标（亩）" in refusal(html, "target")
    assert 'value="many"' in html and book(client)["target_mu"] == 750


def test_a_signed_in_administrators_form_needs_the_csrf_token(anonymous, accounts, db):
    sign_in(anonymous, accounts["admin"])
    before = entries(db)
    form = {"year": str(Y), "kind": "grant", "source": "plan", "amount": "4", "unit": "mu"}
    assert anonymous.post("/quota/entries", data=form).status_code == 400
    assert entries(db) == before
    token = csrf_from(anonymous.get(f"/quota?year={Y}").get_data(as_text=True))
    resp = anonymous.post("/quota/entries", data={**form, "csrf_token": token})
    assert resp.status_code == 302 and entries(db) == before + 1
