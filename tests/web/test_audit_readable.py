"""The audit trail as people read it (issue 14): paged, only what changed, by label, rounded,
in China time, linked to its object; and the refusals of accounts and sign-in, translated."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest import client_for
from sqlalchemy import text
from test_security import csrf_from, sign_in

from landmap.domain import CHINA
from landmap.geo.units import mu2
from landmap.services import users

CHINESE = re.compile(r"[\u4e00-\u9fff]")
LONG_FLOAT = re.compile(r"\d+\.\d{3,}")


def fresh_parcel(db, offset: int = 11) -> str:
    return db.execute(
        text("""SELECT code FROM parcel WHERE stage = 'not_started' AND batch_id IS NOT NULL
                ORDER BY code LIMIT 1 OFFSET :o"""),
        {"o": offset},
    ).scalar_one()


def move(app, accounts, code: str, stage: str = "surveyed", day: str = "2011-12-03"):
    officer = client_for(app, accounts["officer"]["token"])
    resp = officer.post(f"/api/parcels/{code}/stage", json={"stage": stage, "date": day})
    assert resp.status_code == 201, resp.get_json()


def test_a_stage_move_names_the_stage_not_the_boundary(app, accounts, client, db):
    code = fresh_parcel(db)
    move(app, accounts, code)
    rows = client.get(f"/api/audit?entity=parcel&key={code}").get_json()
    newest = rows[0]
    assert newest["action"] == "stage" and newest["user"] == accounts["officer"]["name"]
    assert newest["changed"]["stage"] == ["not_started", "surveyed"]
    assert "geom" not in newest["changed"] and "geom_md5" not in newest["changed"]
    assert newest["changed"]["date"] == [None, "2011-12-03"]
    assert "阶段：未启动 → 调查登记" in newest["summary"][0], newest["summary"]
    assert newest["action_label"] == "阶段变更" and newest["entity_label"] == "宗地"
    assert newest["url"] == f"/?parcel={code}"
    en = client.get(f"/api/audit?entity=parcel&key={code}&lang=en").get_json()[0]
    assert en["summary"][0].startswith("Stage: ") and "Surveyed" in en["summary"][0]
    assert en["action_label"] == "stage moved"


def test_times_are_china_time_with_the_offset(app, accounts, client, db):
    code = fresh_parcel(db, 12)
    move(app, accounts, code)
    row = client.get(f"/api/audit?entity=parcel&key={code}").get_json()[0]
    assert row["at"].endswith("+08:00")
    stored = db.execute(text("SELECT at FROM audit_log WHERE id = :i"), {"i": row["id"]})
    at = stored.scalar_one()
    assert dt.datetime.fromisoformat(row["at"]) == at
    page = client.get(f"/audit?entity=parcel&key={code}").get_data(as_text=True)
    assert f"{at.astimezone(CHINA):%Y-%m-%d %H:%M:%S}" in page
    utc = at.astimezone(dt.UTC)
    assert f"{utc:%Y-%m-%d %H:%M:%S}" not in page  # 8 hours behind: not what is shown


def test_a_boundary_change_is_its_area_before_and_after_rounded(client, db):
    code = "2011-2"
    old = db.execute(text("SELECT area_mu FROM parcel WHERE code = :c"), {"c": code}).scalar()
    db.execute(
        text("UPDATE parcel SET geom = ST_Multi(ST_Buffer(geom, -1)) WHERE code = :c"), {"c": code}
    )
    new = db.execute(text("SELECT area_mu FROM parcel WHERE code = :c"), {"c": code}).scalar()
    row = client.get(f"/api/audit?entity=parcel&key={code}").get_json()[0]
    assert row["action"] == "update" and row["action_label"] == "修改"
    assert row["changed"] == {"geom": [mu2(old), mu2(new)]}
    a, b = f"{mu2(old):.2f}", f"{mu2(new):.2f}"
    assert row["summary"] == [f"边界已修改 (面积 {a} → {b} 亩)"]
    en = client.get(f"/api/audit?entity=parcel&key={code}&lang=en").get_json()[0]
    assert en["summary"] == [f"boundary changed (area {a} → {b} mu)"]
    page = client.get(f"/audit?entity=parcel&key={code}&lang=zh_CN").get_data(as_text=True)
    assert f"边界已修改 (面积 {a} → {b} 亩)" in page
    assert not LONG_FLOAT.search(page) and "geom_md5" not in page


def test_limit_and_offset_page_the_api_with_a_next_link(client):
    five = client.get("/api/audit?entity=parcel&limit=5")
    rows = five.get_json()
    assert five.status_code == 200 and len(rows) == 5
    assert 'rel="next"' in five.headers["Link"]
    nxt = re.search(r"<([^>]+)>", five.headers["Link"]).group(1)
    assert "entity=parcel" in nxt and "offset=5" in nxt and "limit=5" in nxt
    following = client.get(nxt).get_json()
    assert len(following) == 5 and not {r["id"] for r in rows} & {r["id"] for r in following}
    assert following[0]["id"] < rows[-1]["id"]
    assert len(client.get("/api/audit").get_json()) == 50  # the default
    assert len(client.get("/api/audit?limit=500").get_json()) <= 500


def test_the_last_page_has_no_next_link(app, accounts, client, db):
    code = fresh_parcel(db, 13)
    move(app, accounts, code)
    resp = client.get(f"/api/audit?entity=parcel&key={code}&limit=500")
    assert resp.status_code == 200 and "Link" not in resp.headers


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "limit=abc", "offset=-1", "offset=x", "limit=5.5"]
)
def test_a_bad_limit_or_offset_is_a_translated_400(client, query):
    zh = client.get(f"/api/audit?{query}")
    assert zh.status_code == 400 and zh.get_json()["code"]
    assert CHINESE.search(zh.get_json()["error"]), zh.get_json()
    en = client.get(f"/api/audit?{query}&lang=en")
    assert en.status_code == 400 and not CHINESE.search(en.get_json()["error"])
    assert en.get_json()["code"] == zh.get_json()["code"]


def test_the_page_shows_fifty_rows_and_keeps_the_filters_in_its_links(client):
    first = client.get("/audit?entity=parcel").get_data(as_text=True)
    assert first.count("<tr data-id=") == 50
    nxt = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "entity=parcel" in nxt and "page=2" in nxt
    second = client.get(nxt).get_data(as_text=True)
    ids = set(re.findall(r'data-id="(\d+)"', first))
    assert ids and not ids & set(re.findall(r'data-id="(\d+)"', second))
    prev = re.search(r'rel="prev" href="([^"]+)"', second).group(1).replace("&amp;", "&")
    assert "entity=parcel" in prev and "page=1" in prev
    assert "第 51 至" in second
    assert client.get("/audit?page=0").status_code == 400


def test_the_page_reads_like_a_register_not_like_json(app, accounts, client, db):
    code = fresh_parcel(db, 14)
    move(app, accounts, code)
    page = client.get(f"/audit?entity=parcel&key={code}").get_data(as_text=True)
    changes = " ".join(re.findall(r'<td class="lm-changes">(.*?)</td>', page, re.S))
    assert "{" not in changes and '"' not in changes and not LONG_FLOAT.search(page)
    assert "新增" in page and "阶段变更" in page and "宗地" in page
    assert "阶段：未启动 → 调查登记" in page
    assert f'href="/?parcel={code}"' in page
    assert "insert" not in re.sub(r"<[^>]+>", "", page.split('id="audit"')[1])
    en = client.get(f"/audit?entity=parcel&key={code}&lang=en").get_data(as_text=True)
    assert "added" in en and "Stage: Not started → Surveyed" in en


def test_projects_and_quota_entries_are_linked_to_their_pages(client, db):
    project = db.execute(
        text("SELECT id, name, description FROM project ORDER BY id LIMIT 1")
    ).one()
    db.execute(text("UPDATE project SET description = '审计说明' WHERE id = :i"), {"i": project.id})
    entry = client.post(
        "/api/quota/entries", json={"year": 2036, "kind": "grant", "mu": 12.345, "ref": "审计链接"}
    )
    assert entry.status_code == 201, entry.get_json()
    row = client.get(f"/api/audit?entity=project&key={project.name}").get_json()[0]
    assert row["url"] == f"/projects/{project.id}" and row["entity_label"] == "项目"
    assert row["changed"] == {"description": [project.description, "审计说明"]}
    assert row["summary"] == [f"说明：{project.description or '—'} → 审计说明"]
    quota = client.get(f"/api/audit?entity=quota_entry&key={entry.get_json()['id']}")
    (added,) = quota.get_json()
    assert added["url"] == "/quota?year=2036" and added["action_label"] == "新增"
    assert added["changed"]["mu"] == [None, 12.35]  # rounded once, half up
    assert "亩：12.35" in added["summary"] and "grant" not in " ".join(added["summary"])
    page = client.get("/audit?entity=quota_entry").get_data(as_text=True)
    assert 'href="/quota?year=2036"' in page and "：下达" in page


def test_a_user_change_is_shown_by_its_role_label(client, db, accounts):
    name = accounts["viewer"]["name"]
    db.execute(text("UPDATE app_user SET role = 'officer' WHERE name = :n"), {"n": name})
    row = client.get(f"/api/audit?entity=user&key={name}").get_json()[0]
    assert row["changed"] == {"role": ["viewer", "officer"]}
    assert row["summary"] == ["角色：浏览 → 征拆专员"] and row["url"] is None


# --- accounts and sign-in: coded, translated refusals ----------------------------------------


@pytest.mark.parametrize(
    ("call", "code", "zh", "en"),
    [
        (
            lambda db: users.add(db, "shorty", "viewer", "short"),
            "password_too_short",
            "密码至少",
            "at least 10",
        ),
        (
            lambda db: users.add(db, "bad name!", "viewer", "long enough pw"),
            "bad_user_name",
            "用户名",
            "a user name is",
        ),
        (
            lambda db: users.add(db, "nobody_x", "boss", "long enough pw"),
            "unknown_choice",
            "管理员",
            "Administrator",
        ),
        (
            lambda db: users.add(db, "t_admin", "admin", "long enough pw"),
            "user_exists",
            "已有用户",
            "already a user",
        ),
        (
            lambda db: users.add(db, "okname", "viewer", "long enough pw", "x\x01"),
            "bad_display_name",
            "显示名称",
            "display name",
        ),
        (
            lambda db: users.set_password(db, "nobody_y", "long enough pw"),
            "no_such_user",
            "没有用户",
            "no user",
        ),
        (lambda db: users.disable(db, "nobody_z"), "no_such_user", "没有用户", "no user"),
        (lambda db: users.new_token(db, "nobody_w"), "no_active_user", "没有启用", "no active"),
    ],
)
def test_account_refusals_are_coded_in_both_languages(db, accounts, call, code, zh, en):
    with pytest.raises(users.UserError) as caught:
        call(db)
    assert caught.value.code == code
    assert zh in caught.value.render("zh_CN") and en in caught.value.render("en")
    assert "viewer" not in caught.value.render("zh_CN")


def test_a_wrong_password_is_told_in_the_locale(anonymous, accounts):
    token = csrf_from(anonymous.get("/login").get_data(as_text=True))
    form = {"username": accounts["viewer"]["name"], "password": "wrong", "csrf_token": token}
    zh = anonymous.post("/login", data=form).get_data(as_text=True)
    assert "用户名或密码错误" in zh
    en = anonymous.post("/login?lang=en", data=form).get_data(as_text=True)
    assert "Wrong user name or password" in en


def test_sign_in_and_role_refusals_are_coded_and_translated(app, anonymous, accounts):
    resp = anonymous.get("/api/audit")
    assert resp.status_code == 401 and resp.get_json()["code"] == "not_signed_in"
    assert CHINESE.search(resp.get_json()["error"])
    officer = client_for(app, accounts["officer"]["token"])
    resp = officer.get("/api/audit?lang=en")
    assert resp.status_code == 403 and resp.get_json()["code"] == "forbidden"
    assert not CHINESE.search(resp.get_json()["error"])
    page = officer.get("/audit")
    assert page.status_code == 403 and CHINESE.search(page.get_data(as_text=True))


def test_a_missing_csrf_token_is_coded_and_translated(anonymous, accounts):
    sign_in(anonymous, accounts["admin"])
    body = {"year": 2040, "kind": "grant", "mu": 1}
    zh = anonymous.post("/api/quota/entries", json=body)
    assert zh.status_code == 400 and zh.get_json()["code"] == "csrf_failed"
    assert "CSRF" in zh.get_json()["error"] and CHINESE.search(zh.get_json()["error"])
    en = anonymous.post("/api/quota/entries?lang=en", json=body)
    assert "security token" in en.get_json()["error"]
