"""Who may do what, on every route; sessions, tokens, CSRF, rate limits, headers, audit."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from urllib.parse import quote, unquote

import pytest
from conftest import client_for
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from test_tiles import where

from landmap import create_app
from landmap.db import make_engine
from landmap.domain import PERMISSIONS, Role
from landmap.services import users
from landmap.web.auth import GIS_PATHS
from landmap.web.db import get_session
from landmap.web.errors import DOWNLOADS
from landmap.web.security import safe_next

SAMPLE = {"code": "2011-2", "project_id": 1, "year": 2011, "doc_id": 1, "lang": "en", "draft_id": 1,
          "layer": "parcels", "z": 10, "x": 826, "y": 431}  # fmt: skip
SAMPLE |= {"import_id": 1, "pending": "0" * 32}  # an import, an upload waiting to be confirmed
SAMPLE |= {"batch_id": 1, "enterprise_id": 1, "household_id": 1}  # a batch, ..., a household
SAMPLE |= {"collection_id": "parcels", "item_id": "2011-2"}  # OGC API Features
ROLES = [None, "viewer", "officer", "planner", "admin"]


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_declares_a_known_permission(app):
    for rule, _method in routes(app):
        permission = getattr(app.view_functions[rule.endpoint], "landmap_permission", None)
        assert permission == "public" or permission in PERMISSIONS, rule.rule


@pytest.mark.parametrize("role", ROLES)
def test_the_role_route_method_matrix(app, accounts, role):
    client = client_for(app, accounts[role]["token"] if role else None)
    adapter = app.url_map.bind("localhost")
    checked = 0
    for rule, method in routes(app):
        url = adapter.build(rule.endpoint, {a: SAMPLE[a] for a in rule.arguments}, method=method)
        resp = client.open(url, method=method, json={} if method != "GET" else None)
        resp.close()
        permission = app.view_functions[rule.endpoint].landmap_permission
        where = f"{method} {url} as {role}: {resp.status_code}"
        # a server error is neither a refusal nor an answer: it fails whoever asked
        assert resp.status_code < 500, where
        if permission == "public":
            assert resp.status_code not in (401, 403), where
        elif role is None:
            program = url.startswith(("/api/", *GIS_PATHS)) or url.endswith(DOWNLOADS)
            if program:  # programs (and GIS): 401 in JSON
                assert resp.status_code == 401 and resp.is_json, where
            if url.startswith(GIS_PATHS):  # tiles and exports: a Basic challenge, for GIS
                assert "WWW-Authenticate" in resp.headers, where
            elif url.endswith(DOWNLOADS):  # a browser following a download link: the login
                page = client.open(url, method=method, headers={"Accept": "text/html"})
                assert page.status_code == 302 and "/login" in page.location, where
            if not program:
                assert resp.status_code == 302 and "/login" in resp.location, where
        elif Role(role).can(permission):
            assert resp.status_code not in (401, 403), where
        else:
            assert resp.status_code == 403, where
        checked += 1
    assert checked > 30


def test_anonymous_api_is_401(anonymous):
    resp = anonymous.get("/api/parcels")
    assert resp.status_code == 401 and resp.get_json()["error"]


def test_viewer_cannot_move_a_stage_but_an_officer_can(app, accounts, db):
    code = db.execute(
        text("""SELECT code FROM parcel WHERE stage = 'not_started'
                              AND batch_id IS NOT NULL ORDER BY code LIMIT 1""")
    ).scalar()
    body = {"stage": "pre_announced", "date": "2011-12-01"}
    viewer = client_for(app, accounts["viewer"]["token"])
    assert viewer.post(f"/api/parcels/{code}/stage", json=body).status_code == 403
    officer = client_for(app, accounts["officer"]["token"])
    assert officer.post(f"/api/parcels/{code}/stage", json=body).status_code == 201
    history = officer.get(f"/api/parcels/{code}/history").get_json()
    assert history[-1]["user"] == accounts["officer"]["name"]


def test_an_officer_cannot_write_the_quota_ledger(app, accounts):
    officer = client_for(app, accounts["officer"]["token"])
    resp = officer.post("/api/quota/entries", json={"year": 2036, "kind": "grant", "mu": 5})
    assert resp.status_code == 403


# --- sessions and CSRF ----------------------------------------------------------------------


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def sign_in(client, account) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login",
        data={"username": account["name"], "password": account["password"], "csrf_token": token},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]


def test_login_renews_the_session_and_logout_ends_it(anonymous, accounts):
    anonymous.get("/login")
    before = anonymous.get_cookie("session").value
    sign_in(anonymous, accounts["viewer"])
    assert anonymous.get_cookie("session").value != before
    cookie = anonymous.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"
    assert anonymous.get("/").status_code == 200
    page = anonymous.get("/").get_data(as_text=True)
    anonymous.post("/logout", data={"csrf_token": csrf_from(page)})
    assert anonymous.get("/").status_code == 302


def test_wrong_password_and_disabled_accounts(anonymous, accounts, db):
    token = csrf_from(anonymous.get("/login").get_data(as_text=True))
    resp = anonymous.post(
        "/login",
        data={
            "username": accounts["viewer"]["name"],
            "password": "wrong password!",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 200 and "login-error" in resp.get_data(as_text=True)
    sign_in(anonymous, accounts["planner"])
    assert anonymous.get("/").status_code == 200
    users.disable(db, accounts["planner"]["name"])  # the session ends at once
    assert anonymous.get("/").status_code == 302


def test_a_cookie_write_without_the_csrf_token_is_refused(anonymous, accounts, db):
    sign_in(anonymous, accounts["officer"])
    code = db.execute(
        text("""SELECT code FROM parcel WHERE stage = 'not_started'
                              AND batch_id IS NOT NULL ORDER BY code DESC LIMIT 1""")
    ).scalar()
    body = {"stage": "pre_announced", "date": "2011-12-01"}
    refused = anonymous.post(f"/api/parcels/{code}/stage", json=body)
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]
    token = csrf_from(anonymous.get("/").get_data(as_text=True))
    ok = anonymous.post(f"/api/parcels/{code}/stage", json=body, headers={"X-CSRFToken": token})
    assert ok.status_code == 201


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str):
    """A client of an attacker's that holds only a copied session cookie."""
    c = app.test_client()
    c.set_cookie("session", cookie)
    return c


def test_a_copied_session_cookie_is_dead_after_logout(app, anonymous, accounts):
    sign_in(anonymous, accounts["admin"])
    copied = session_cookie(anonymous)
    assert replay(app, copied).get("/api/audit").status_code == 200
    anonymous.post("/logout", data={"csrf_token": csrf_from(anonymous.get("/").get_data(True))})
    thief = replay(app, copied)
    resp = thief.get("/api/audit")
    assert resp.status_code == 401 and resp.is_json
    page = thief.get("/audit")
    assert page.status_code == 302 and page.location.startswith("/login")


def session_hash(app, client) -> str:
    """The stored hash of the session id that the client's (signed) cookie holds."""
    data = app.session_interface.get_signing_serializer(app).loads(session_cookie(client))
    return hashlib.sha256(data["_user_id"].encode()).hexdigest()


def test_sessions_are_kept_hashed_and_end_when_idle_or_the_password_changes(
    app, anonymous, accounts, db
):
    sign_in(anonymous, accounts["admin"])
    copied = session_cookie(anonymous)
    h = session_hash(app, anonymous)
    row = db.execute(text("SELECT address FROM user_session WHERE id_hash = :h"), {"h": h}).one()
    assert row.address == "127.0.0.1" and h not in copied
    idle = app.extensions["landmap.settings"].session_idle_minutes
    last_seen = text("UPDATE user_session SET last_seen_at = now() - make_interval(mins => :m) "
                     "WHERE id_hash = :h")  # fmt: skip
    db.execute(last_seen, {"m": idle - 1, "h": h})
    assert anonymous.get("/api/audit").status_code == 200  # still in time
    db.execute(last_seen, {"m": idle + 1, "h": h})
    assert anonymous.get("/api/audit").status_code == 401
    assert replay(app, copied).get("/").status_code == 302
    sign_in(anonymous, accounts["admin"])
    assert anonymous.get("/api/audit").status_code == 200
    users.set_password(db, accounts["admin"]["name"], accounts["admin"]["password"])
    assert anonymous.get("/api/audit").status_code == 401


def test_a_session_in_use_does_not_idle_out_and_reads_seldom_write(live_settings, live_accounts):
    """With the engines a server uses (a request's reads cannot write): a request marks the
    session seen only when it was last seen more than a few minutes ago. The sign-in commits,
    so the test works in the schema for tests that commit."""
    settings, accounts = live_settings, live_accounts
    app = create_app(settings)
    client = app.test_client()
    sign_in(client, accounts["viewer"])
    h = session_hash(app, client)
    owner = make_engine(settings.with_(db_role=""))
    seen = text("SELECT now() - last_seen_at FROM user_session WHERE id_hash = :h")
    set_seen = text("UPDATE user_session SET last_seen_at = now() - make_interval(mins => :m) "
                    "WHERE id_hash = :h")  # fmt: skip
    idle = settings.session_idle_minutes
    kept = app.extensions["landmap.cache.auth"]  # keeps a session for a minute at most

    def a_minute_later():
        kept.reset()

    try:
        with owner.begin() as conn:
            conn.execute(set_seen, {"m": 2, "h": h})
        a_minute_later()
        assert client.get("/api/zones").status_code == 200
        with owner.connect() as conn:  # seen 2 minutes ago: not written again
            assert conn.execute(seen, {"h": h}).scalar_one() >= dt.timedelta(minutes=2)
        with owner.begin() as conn:
            conn.execute(set_seen, {"m": idle - 1, "h": h})
        a_minute_later()
        assert client.get("/api/zones").status_code == 200
        with owner.connect() as conn:
            assert conn.execute(seen, {"h": h}).scalar_one() < dt.timedelta(minutes=1)
        with owner.begin() as conn:
            conn.execute(set_seen, {"m": idle + 1, "h": h})
        a_minute_later()
        assert client.get("/api/zones").status_code == 401
    finally:
        owner.dispose()


def test_a_cookie_write_with_a_bogus_bearer_header_still_needs_the_csrf_token(anonymous, accounts):
    sign_in(anonymous, accounts["admin"])
    body = {"year": 2040, "kind": "grant", "mu": 1}
    resp = anonymous.post("/api/quota/entries", json=body, headers={"Authorization": "Bearer x"})
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["error"]


@pytest.mark.parametrize(
    "target",
    ["/%09/evil.example", "//evil.example", "/\\evil.example", "https://evil.example",
     "/%0d%0aSet-Cookie:x", "/%0aevil", "/%2F/evil.example", "%2F%2Fevil.example",
     "/%252F%252Fevil.example", "http:/evil.example", "/ /evil.example", "/\u3000/evil"],
)  # fmt: skip
def test_no_redirect_leaves_the_site(app, accounts, target):
    assert safe_next(unquote(target)) == "/" and safe_next(target) == "/"
    target = quote(target, safe="/%:")  # as a browser sends it
    lang = app.test_client().get(f"/lang/en?next={target}")
    # (a control character in a query may be refused as a whole: 400, no redirect at all)
    assert lang.status_code in (302, 400) and lang.location in ("/", None), lang.location
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    login = client.post(f"/login?next={target}", data={
        "username": accounts["viewer"]["name"], "password": accounts["viewer"]["password"],
        "csrf_token": token})  # fmt: skip
    assert login.status_code in (302, 400) and login.location in ("/", None), login.location


def test_a_redirect_within_the_site_is_kept(app, accounts):
    assert safe_next("/zones/永定?as_of=2011-11-30") == "/zones/永定?as_of=2011-11-30"
    assert app.test_client().get("/lang/en?next=/zones/A").location == "/zones/A"
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    login = client.post("/login?next=/zones/A%3Fas_of%3D2011-11-30", data={
        "username": accounts["viewer"]["name"], "password": accounts["viewer"]["password"],
        "csrf_token": token})  # fmt: skip
    assert login.location == "/zones/A?as_of=2011-11-30"


def test_tokens_work_until_revoked(app, db):
    users.add(db, "script_user", "officer", "a long enough password")
    token = users.new_token(db, "script_user", "nightly import")
    client = client_for(app, token)
    assert client.get("/api/parcels?limit=1").status_code == 200
    assert users.revoke_token(db, token)
    assert client.get("/api/parcels?limit=1").status_code == 401
    assert client_for(app, "lm_not-a-token").get("/api/zones").status_code == 401
    stored = db.execute(text("SELECT token_hash FROM api_token WHERE label = 'nightly import'"))
    assert token not in stored.scalar_one()


def test_a_login_flood_is_429(app):
    client = app.test_client()
    statuses = []
    for _ in range(12):
        token = csrf_from(client.get("/login").get_data(as_text=True))
        resp = client.post("/login", data={"username": "nobody", "password": "x" * 12,
                                           "csrf_token": token})  # fmt: skip
        statuses.append(resp.status_code)
    assert statuses[0] == 200 and statuses[-1] == 429


def test_passwords_are_hashed_and_short_ones_refused(db):
    with pytest.raises(users.UserError, match="at least"):
        users.add(db, "shorty", "viewer", "short")
    users.add(db, "hashed_user", "viewer", "a long enough password")
    stored = db.execute(text("SELECT password_hash FROM app_user WHERE name = 'hashed_user'"))
    assert "a long enough password" not in stored.scalar_one()


def test_security_headers(client):
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp.replace("https:", "")  # no external origin
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    html = resp.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    # data (JSON, tiles) carry no script to allow: the same policy, no nonce
    data_csp = client.get("/api/zones").headers["Content-Security-Policy"]
    assert "script-src 'self';" in data_csp and "nonce" not in data_csp


def test_hsts_and_a_secure_language_cookie_over_https(settings, factory, accounts):
    plain = create_app(settings, session_factory=factory).test_client()
    assert "Strict-Transport-Security" not in plain.get("/login").headers
    assert "Secure" not in plain.get("/login?lang=en").headers["Set-Cookie"]
    app = create_app(settings.with_(https=True), session_factory=factory)
    client = app.test_client()
    assert client.get("/login").headers["Strict-Transport-Security"] == "max-age=31536000"
    for url in ("/login?lang=en", "/lang/zh_CN"):
        cookies = client.get(url).headers.getlist("Set-Cookie")
        lang = [c for c in cookies if c.startswith("lang=")]
        assert lang and "Secure" in lang[0], url


def test_what_a_signed_in_user_sees_is_not_cached(client, anonymous):
    for url in ("/", "/api/zones", "/api/parcels?limit=1", "/audit"):
        assert client.get(url).headers["Cache-Control"] == "no-store", url
    z, x, y = where(client, "2011-2")
    tile = client.get(f"/tiles/parcels/{z}/{x}/{y}.pbf")
    assert tile.status_code == 200
    assert tile.headers["Cache-Control"] == "private, no-cache" and tile.headers["ETag"]
    static = client.get("/static/css/landmap.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
    static.close()


# --- the audit trail --------------------------------------------------------------------------


def audit_rows(db, entity, key):
    return db.execute(text("SELECT actor, action, before, after FROM audit_log "
                           "WHERE entity = :e AND key = :k ORDER BY id"),
                      {"e": entity, "k": key}).all()  # fmt: skip


def test_each_accepted_change_leaves_one_audit_row_naming_its_user(app, accounts, db):
    code = db.execute(
        text("""SELECT code FROM parcel WHERE stage = 'not_started'
                              AND batch_id IS NOT NULL ORDER BY code LIMIT 1 OFFSET 5""")
    ).scalar()
    before = len(audit_rows(db, "parcel", code))
    officer = client_for(app, accounts["officer"]["token"])
    officer.post(f"/api/parcels/{code}/stage", json={"stage": "surveyed", "date": "2011-12-02"})
    rows = audit_rows(db, "parcel", code)
    assert len(rows) == before + 1
    actor, action, old, new = rows[-1]
    assert (actor, action, old["stage"], new["stage"]) == (
        accounts["officer"]["name"], "stage", "not_started", "surveyed")  # fmt: skip
    admin = client_for(app, accounts["admin"]["token"])
    entry = admin.post("/api/quota/entries", json={"year": 2037, "kind": "grant", "mu": 9,
                                                   "ref": "审计测试"}).get_json()  # fmt: skip
    rows = audit_rows(db, "quota_entry", str(entry["id"]))
    assert len(rows) == 1 and rows[0].actor == accounts["admin"]["name"]
    assert rows[0].after["mu"] == 9


def test_users_are_audited_without_their_password_hash(db):
    users.add(db, "audited_user", "viewer", "a long enough password")
    (row,) = audit_rows(db, "user", "audited_user")
    assert row.action == "insert" and "password_hash" not in row.after


def test_a_reshaped_parcel_is_audited_by_fingerprint_not_by_its_geometry(db):
    db.execute(text("UPDATE parcel SET geom = ST_Multi(ST_Buffer(geom, -1)) WHERE code = '2011-2'"))
    db.execute(text("UPDATE parcel SET name = name WHERE code = '2011-2'"))  # changes nothing
    (row,) = [r for r in audit_rows(db, "parcel", "2011-2") if r.action == "update"]
    assert "geom" not in row.before and "geom" not in row.after
    assert len(row.after["geom_md5"]) == 32 and row.before["geom_md5"] != row.after["geom_md5"]
    assert row.after["code"] == "2011-2" and row.before["area_mu"] > row.after["area_mu"]


def test_the_audit_api_for_a_parcel(app, accounts, client, db):
    code = db.execute(
        text("""SELECT code FROM parcel WHERE stage = 'not_started'
                              AND batch_id IS NOT NULL ORDER BY code LIMIT 1 OFFSET 7""")
    ).scalar()
    client_for(app, accounts["officer"]["token"]).post(
        f"/api/parcels/{code}/stage", json={"stage": "surveyed", "date": "2011-12-03"}
    )
    rows = client.get(f"/api/audit?entity=parcel&key={code}").get_json()
    assert rows[0]["user"] == accounts["officer"]["name"]
    assert set(rows[0]) >= {"user", "action", "at", "before", "after"}
    by_user = client.get(f"/api/audit?user={accounts['officer']['name']}").get_json()
    assert any(r["key"] == code for r in by_user)
    assert client.get("/api/audit?date=someday").status_code == 400
    assert client.get("/audit.xlsx").status_code == 200
    assert client_for(app, accounts["officer"]["token"]).get("/api/audit").status_code == 403


def test_the_audit_trail_cannot_be_altered(db):
    db.execute(text("INSERT INTO audit_log (actor, entity, key, action) "
                    "VALUES ('t', 'test', 'k', 'insert')"))  # fmt: skip
    for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log",
                "TRUNCATE audit_log"):  # fmt: skip
        with pytest.raises(DBAPIError, match="permission denied"), db.begin_nested():
            db.execute(text(sql))  # the app's role has INSERT and SELECT only


def test_even_the_owner_cannot_alter_the_audit_trail(engine, settings):
    from landmap.db import make_engine

    owner = make_engine(settings.with_(db_role=""))
    try:
        for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
            with owner.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(sql))
    finally:
        owner.dispose()


def test_a_get_request_cannot_write_to_the_database_even_by_mistake(settings, demo):
    app = create_app(settings)  # the engines a server uses, not a test's transaction
    insert = text("INSERT INTO zone (code, name) VALUES ('RO', 'read-only probe')")
    with (
        app.test_request_context("/api/zones", method="GET"),
        pytest.raises(DBAPIError, match="read-only transaction"),
    ):
        get_session().execute(insert)
    with app.test_request_context("/api/zones", method="POST"):
        session = get_session()
        session.execute(insert)  # a write request may write (rolled back here)
        session.rollback()
    with app.test_request_context("/api/zones", method="GET"):
        assert (
            get_session().execute(text("SELECT count(*) FROM zone WHERE code = 'RO'")).scalar() == 0
        )
