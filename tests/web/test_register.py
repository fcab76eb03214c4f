"""Keeping the register through the web (issue 15): projects, batches, targets, enterprises and
the parcels assigned to them, through the API and the pages, with the roles that may."""

from __future__ import annotations

import re

import pytest
from conftest import client_for
from sqlalchemy import text

VALID_CODE = "91350100M000100Y43"  # GB 32100-2015's check character is 3


def new_project(client, **fields):
    body = {"name": "康师傅食品项目", "kind": "industrial", "stage": "前期", "zone": "B", **fields}
    return client.post("/api/projects", json=body)


def free_codes(db, n: int, offset: int = 0) -> list[str]:
    """Parcels in no project."""
    return list(
        db.execute(
            text(
                "SELECT code FROM parcel WHERE project_id IS NULL ORDER BY code LIMIT :n OFFSET :o"
            ),
            {"n": n, "o": offset},
        ).scalars()
    )


def project_of(db, code: str):
    return db.execute(
        text("SELECT project_id, batch_id FROM parcel WHERE code = :c"), {"c": code}
    ).one()


def test_a_new_project_with_a_batch_of_120_mu_and_three_parcels_shows_its_progress(client, db):
    created = new_project(client, financing="bot", partner="康师傅控股", description="洽谈落地")
    assert created.status_code == 201, created.get_json()
    project = created.get_json()
    assert (project["kind"], project["stage"], project["zone"]) == ("industrial", "pre_stage", "B")
    assert project["financing"] == "BOT" and project["closed_on"] is None
    batch = client.post(
        f"/api/projects/{project['id']}/batches",
        json={"name": "第一批", "target_mu": 120, "due": "2027-06-30", "note": "首期供地"},
    )
    assert batch.status_code == 201, batch.get_json()
    batch = batch.get_json()
    assert (batch["target_mu"], batch["due"], batch["note"]) == (120.0, "2027-06-30", "首期供地")
    codes = free_codes(db, 3)
    assigned = client.post(
        f"/api/projects/{project['id']}/parcels", json={"codes": codes, "batch": batch["id"]}
    )
    assert assigned.status_code == 200, assigned.get_json()
    assert assigned.get_json()["count"] == 3
    mu = db.execute(
        text("SELECT sum(area_mu) FROM parcel WHERE code = ANY(:c)"), {"c": codes}
    ).scalar_one()
    progress = client.get(f"/api/projects/{project['id']}/progress?batch={batch['id']}")
    assert progress.status_code == 200
    body = progress.get_json()
    assert body["target_mu"] == 120.0
    assert sum(body["mu_by_stage"].values()) == pytest.approx(mu, abs=0.02)
    assert assigned.get_json()["mu"] == pytest.approx(mu, abs=0.01)
    audit = db.execute(
        text(
            "SELECT count(*) FROM audit_log WHERE entity = 'parcel' AND key = ANY(:c) "
            "AND action = 'update' AND (after ->> 'batch_id')::int = :b"
        ),
        {"c": codes, "b": batch["id"]},
    ).scalar_one()
    assert audit == 3  # each assignment audited


def test_a_viewer_and_an_officer_cannot_register_a_project_but_a_planner_can(app, accounts):
    for role, status in (("viewer", 403), ("officer", 403), ("planner", 201)):
        resp = new_project(client_for(app, accounts[role]["token"]), name=f"{role}的项目")
        assert resp.status_code == status, role


def test_a_viewer_cannot_assign_parcels_but_an_officer_can(app, accounts, db):
    code = free_codes(db, 1)
    project = db.execute(text("SELECT id FROM project WHERE name = '新外滩'")).scalar_one()
    body = {"codes": code, "batch": None}
    viewer = client_for(app, accounts["viewer"]["token"])
    assert viewer.post(f"/api/projects/{project}/parcels", json=body).status_code == 403
    planner = client_for(app, accounts["planner"]["token"])
    assert planner.post(f"/api/projects/{project}/parcels", json=body).status_code == 403
    officer = client_for(app, accounts["officer"]["token"])
    assert officer.post(f"/api/projects/{project}/parcels", json=body).status_code == 200
    assert project_of(db, code[0]).project_id == project


def test_assignment_is_all_or_none(client, db):
    project = new_project(client).get_json()["id"]
    codes = free_codes(db, 2)
    resp = client.post(
        f"/api/projects/{project}/parcels?lang=en",
        json={"codes": [*codes, "NO-SUCH-1", "NO-SUCH-2"], "batch": None},
    )
    assert resp.status_code == 404
    body = resp.get_json()
    assert body["unknown"] == ["NO-SUCH-1", "NO-SUCH-2"] and "NO-SUCH-1" in body["error"]
    assert all(project_of(db, c).project_id is None for c in codes)
    # a batch of another project: 400, nothing assigned
    other = db.execute(
        text(
            "SELECT b.id FROM acquisition_batch b JOIN project p ON p.id = b.project_id "
            "WHERE p.name = 'C区1000亩土地开发项目' AND b.name = '第一批'"
        )
    ).scalar_one()
    url = f"/api/projects/{project}/parcels?lang=zh_CN"
    resp = client.post(url, json={"codes": codes, "batch": other})
    assert resp.status_code == 400 and resp.get_json()["code"] == "batch_of_another_project"
    assert "另一个项目" in resp.get_json()["error"]
    assert all(project_of(db, c).project_id is None for c in codes)


def test_unassigning_is_all_or_none_and_clears_project_and_batch(client, db):
    c_project, first = db.execute(
        text(
            "SELECT b.project_id, b.id FROM acquisition_batch b JOIN project p "
            "ON p.id = b.project_id WHERE p.name = 'C区1000亩土地开发项目' AND b.name = '第一批'"
        )
    ).one()
    mine = list(
        db.execute(
            text("SELECT code FROM parcel WHERE batch_id = :b ORDER BY code LIMIT 2"), {"b": first}
        ).scalars()
    )
    outsider = free_codes(db, 1)
    url = f"/api/projects/{c_project}/parcels"
    refused = client.delete(url, json={"codes": [*mine, *outsider]})
    assert refused.status_code == 400 and refused.get_json()["not_in_project"] == outsider
    assert all(project_of(db, c).batch_id == first for c in mine)
    done = client.delete(url, json={"codes": mine})
    assert done.status_code == 200 and done.get_json()["count"] == 2
    assert all(tuple(project_of(db, c)) == (None, None) for c in mine)


def test_editing_and_closing_a_project(client, db):
    project = new_project(client).get_json()["id"]
    resp = client.patch(f"/api/projects/{project}", json={"stage": "在建", "zone": "C"})
    assert resp.status_code == 200
    assert (resp.get_json()["stage"], resp.get_json()["zone"]) == ("under_construction", "C")
    closed = client.patch(f"/api/projects/{project}", json={"closed": True})
    assert closed.status_code == 200 and closed.get_json()["closed_on"]
    # kept, shown as closed; no new batch or parcels for it
    assert client.get(f"/api/projects/{project}").get_json()["closed_on"]
    batch = client.post(
        f"/api/projects/{project}/batches", json={"name": "一", "target_mu": 5, "due": "2027-01-01"}
    )
    assert batch.status_code == 409 and batch.get_json()["code"] == "project_closed"
    code = free_codes(db, 1)
    assert client.post(f"/api/projects/{project}/parcels", json={"codes": code}).status_code == 409
    reopened = client.patch(f"/api/projects/{project}", json={"closed": False})
    assert reopened.get_json()["closed_on"] is None
    assert client.patch(f"/api/projects/{project}", json={"closed": "yes"}).status_code == 400


def test_a_project_cannot_be_deleted_while_parcels_refer_to_it(db):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(text("DELETE FROM project WHERE name = 'C区1000亩土地开发项目'"))


def test_project_refusals_are_translated(client):
    zh = new_project(client, name="新外滩")
    assert zh.status_code == 409 and "已有" in zh.get_json()["error"]
    en = new_project(client, kind="farm", name="x")
    assert en.status_code == 400 and en.get_json()["code"] == "unknown_choice"
    bad = client.post(
        "/api/projects?lang=en",
        json={"name": "y", "kind": "industrial", "financing": "PPP"},
    )
    assert bad.status_code == 400 and "BT, BOT" in bad.get_json()["error"]
    assert client.post("/api/projects", json={"kind": "industrial"}).status_code == 400


def test_batches_are_edited_and_bounded(client):
    project = new_project(client).get_json()["id"]
    url = f"/api/projects/{project}/batches"
    batch = client.post(url, json={"name": "一", "target_mu": 10, "due": "2026-12-31"}).get_json()
    edited = client.patch(f"/api/batches/{batch['id']}", json={"target_mu": "12.5", "note": "调整"})
    assert edited.status_code == 200 and edited.get_json()["target_mu"] == 12.5
    for body in ({"target_mu": 0}, {"target_mu": "NaN"}, {"due": "2200-01-01"}, {"name": " "}):
        assert client.patch(f"/api/batches/{batch['id']}", json=body).status_code == 400, body
    again = client.post(url, json={"name": "一", "target_mu": 3, "due": "2026-12-31"})
    assert again.status_code == 409
    assert client.patch("/api/batches/999999", json={}).status_code == 404


def test_targets_are_added_then_changed_by_label(client):
    project = new_project(client).get_json()["id"]
    url = f"/api/projects/{project}/targets"
    added = client.post(url, json={"label": "开工", "due": "2027-03-01"})
    assert added.status_code == 201 and added.get_json()["target_mu"] is None
    changed = client.post(url, json={"label": "开工", "due": "2027-04-01", "target_mu": 50})
    assert changed.status_code == 200 and changed.get_json()["due"] == "2027-04-01"
    targets = client.get(f"/api/projects/{project}").get_json()["targets"]
    assert [(t["label"], t["target_mu"]) for t in targets] == [("开工", 50.0)]


def test_enterprises_with_a_credit_code_checked_by_its_check_character(client):
    ok = client.post(
        "/api/enterprises",
        json={
            "name": "测试企业",
            "credit_code": VALID_CODE,
            "industry": "食品",
            "contact": "王",
            "phone": "0744-1",
        },
    )
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["credit_code"] == VALID_CODE
    wrong = VALID_CODE[:-1] + "4"
    zh = client.post("/api/enterprises", json={"name": "测试企业二", "credit_code": wrong})
    assert zh.status_code == 400 and zh.get_json()["code"] == "credit_code_check_digit"
    assert "统一社会信用代码" in zh.get_json()["error"]
    en = client.post(
        "/api/enterprises?lang=en",
        json={"name": "测试企业二", "credit_code": wrong},
    )
    assert "check character" in en.get_json()["error"]
    assert client.post("/api/enterprises", json={"name": "测试企业"}).status_code == 409
    eid = ok.get_json()["id"]
    assert client.patch(f"/api/enterprises/{eid}", json={"credit_code": ""}).status_code == 200
    listed = {e["name"]: e for e in client.get("/api/enterprises").get_json()}
    assert listed["测试企业"]["credit_code"] is None
    project = new_project(client, enterprise="测试企业").get_json()
    assert project["enterprise_id"] == eid


def test_the_demo_enterprises_are_linked_to_their_projects(client):
    listed = {e["name"]: e for e in client.get("/api/enterprises").get_json()}
    for name in ("奥威科技", "永兴玻璃", "鑫彤飞碳酸钙", "雨润集团", "湖南省公路投资有限公司"):
        assert listed[name]["projects"] >= 1, name
    projects = {p["name"]: p for p in client.get("/api/projects").get_json()}
    assert projects["C区1000亩土地开发项目"]["enterprise"] == "湖南省公路投资有限公司"


# --- the pages ------------------------------------------------------------------------------


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_an_administrator_sees_the_forms_and_a_viewer_does_not(app, accounts, client, db):
    project = db.execute(text("SELECT id FROM project WHERE name = '新外滩'")).scalar_one()
    viewer = client_for(app, accounts["viewer"]["token"])
    for url, marker in (
        ("/projects", 'id="new-project"'),
        (f"/projects/{project}", 'id="batch-form"'),
        ("/enterprises", 'id="new-enterprise"'),
    ):
        assert marker in client.get(url).get_data(as_text=True), url
        page = viewer.get(url)
        assert page.status_code == 200 and marker not in page.get_data(as_text=True), url
    for url in ("/projects/new", f"/projects/{project}/edit", "/enterprises/new"):
        assert client.get(url).status_code == 200, url
        assert viewer.get(url).status_code == 403, url
    assert 'id="project-form"' in client.get("/projects/new").get_data(as_text=True)


def test_the_forms_save_and_show_refusals_beside_them_in_chinese(client, db):
    page = client.post("/projects/new", data={"name": "", "kind": "industrial", "zone": "B"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "lm-refusal" in html and "必填" in html
    saved = client.post(
        "/projects/new",
        data={"name": "表单项目", "kind": "industrial", "stage": "pre_stage", "zone": "B"},
    )
    assert saved.status_code == 302
    project = db.execute(text("SELECT id FROM project WHERE name = '表单项目'")).scalar_one()
    bad_batch = client.post(
        f"/projects/{project}/batches", data={"name": "一", "target_mu": "-1", "due": "2027-06-30"}
    )
    assert bad_batch.status_code == 400 and "lm-refusal" in bad_batch.get_data(as_text=True)
    batch = client.post(
        f"/projects/{project}/batches", data={"name": "一", "target_mu": "120", "due": "2027-06-30"}
    )
    assert batch.status_code == 302
    shown = client.get(f"/projects/{project}").get_data(as_text=True)
    assert "120.00" in shown
    closed = client.post(f"/projects/{project}/close", data={"closed": "1"})
    assert closed.status_code == 302
    assert 'id="closed-badge"' in client.get(f"/projects/{project}").get_data(as_text=True)
    wrong = client.post(
        "/enterprises/new", data={"name": "表单企业", "credit_code": "91350100M000100Y44"}
    )
    assert wrong.status_code == 400 and "统一社会信用代码" in wrong.get_data(as_text=True)
    assert client.post("/enterprises/new", data={"name": "表单企业"}).status_code == 302


def test_a_cookie_form_needs_the_csrf_token(anonymous, accounts):
    from test_security import sign_in

    sign_in(anonymous, accounts["planner"])
    refused = anonymous.post("/enterprises/new", data={"name": "无令牌企业"})
    assert refused.status_code == 400
    token = csrf_from(anonymous.get("/enterprises/new").get_data(as_text=True))
    ok = anonymous.post("/enterprises/new", data={"name": "有令牌企业", "csrf_token": token})
    assert ok.status_code == 302
