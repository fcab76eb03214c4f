"""What the web app's database role may not do, tried as that role: it owns nothing, cannot
become the owner, cannot write quota amounts or the audit trail, and a revoked token stays
revoked for everyone."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from landmap.db import make_engine
from landmap.services import quota

Y = 2039  # a year of this file's own (other tests commit some years)


@pytest.fixture
def app_db(engine, demo):
    """A connection as the web app makes them, in a transaction rolled back at the end."""
    with engine.connect() as conn:
        yield conn
        conn.rollback()


@pytest.fixture
def owner_db(settings, demo):
    owner = make_engine(settings.with_(db_role=""))
    with owner.connect() as conn:
        yield conn
        conn.rollback()
    owner.dispose()


@pytest.fixture
def login_role(settings):
    if not settings.app_database_url:
        pytest.skip("no app URL: the app works by SET ROLE on the owner's login (weaker)")


def refused(conn, sql: str, match: str = "permission denied", **params) -> None:
    with pytest.raises(DBAPIError, match=match), conn.begin_nested():
        conn.execute(text(sql), params)


def revoked_token(conn, name: str) -> int:
    user_id = conn.execute(
        text("""INSERT INTO app_user (name, role, password_hash)
                VALUES (:n, 'viewer', 'x') RETURNING id"""),
        {"n": name},
    ).scalar_one()
    return conn.execute(
        text("""INSERT INTO api_token (user_id, token_hash, revoked_at)
                VALUES (:u, md5(:n) || md5(:n), now()) RETURNING id"""),
        {"u": user_id, "n": name},
    ).scalar_one()


def test_the_app_cannot_write_quota_balances(app_db):
    app_db.execute(text("INSERT INTO quota_balance (year, source) VALUES (:y, 'plan')"), {"y": Y})
    refused(app_db, "UPDATE quota_balance SET granted_mu = granted_mu + 1000")
    refused(app_db, "UPDATE quota_balance SET reserved_mu = 0, consumed_mu = 0")
    refused(app_db, "INSERT INTO quota_balance (year, source, granted_mu) VALUES (2062, 'plan', 9)")
    refused(app_db, "DELETE FROM quota_balance")
    refused(app_db, "UPDATE quota_balance SET year = 2063 WHERE year = :y", "keeps its year", y=Y)
    assert (
        app_db.execute(
            text("SELECT granted_mu FROM quota_balance WHERE year = :y"), {"y": Y}
        ).scalar_one()
        == 0
    )


def test_a_quota_entry_made_as_the_app_still_moves_its_balance(db):
    quota.record(db, quota.Entry(Y, "grant", "plan", Decimal("12.5")), "tester")
    balance = db.execute(
        text("SELECT granted_mu, remaining_mu FROM quota_balance WHERE year = :y"), {"y": Y}
    ).one()
    assert balance == (Decimal("12.5"), Decimal("12.5"))


def test_the_app_cannot_alter_the_audit_trail_or_truncate_anything(app_db, settings):
    refused(app_db, "UPDATE audit_log SET actor = 'x'")
    refused(app_db, "DELETE FROM audit_log")
    truncatable = app_db.execute(
        text("""SELECT c.relname FROM pg_class c
                WHERE c.relnamespace = to_regnamespace(:s) AND c.relkind IN ('r', 'p')
                  AND has_table_privilege(c.oid, 'TRUNCATE')"""),
        {"s": settings.db_schema},
    ).scalars()
    assert list(truncatable) == []
    refused(app_db, "TRUNCATE parcel")


def test_a_revoked_token_stays_revoked_for_the_app_and_the_owner(app_db, owner_db):
    for conn, name in ((app_db, "priv_app"), (owner_db, "priv_owner")):
        token = revoked_token(conn, name)
        for sql in (
            "UPDATE api_token SET revoked_at = NULL WHERE id = :t",
            "UPDATE api_token SET revoked_at = now() - interval '1 day' WHERE id = :t",
            "DELETE FROM api_token WHERE id = :t",
        ):
            refused(conn, sql, "stays revoked", t=token)


def test_the_app_logs_in_as_a_plain_role_that_cannot_become_the_owner(app_db, settings, login_role):
    owner = make_url(settings.database_url).username
    refused(app_db, f'SET ROLE "{owner}"')
    app_db.execute(text("RESET ROLE"))
    assert app_db.execute(text("SELECT current_user")).scalar_one() == "landmap_app"
    assert app_db.execute(text("SELECT session_user")).scalar_one() == "landmap_app"
    assert (
        app_db.execute(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        ).scalar_one()
        is False
    )


def test_the_app_owns_nothing(app_db, settings):
    owned = app_db.execute(
        text("""SELECT relname FROM pg_class WHERE relowner = 'landmap_app'::regrole
                UNION ALL SELECT nspname FROM pg_namespace WHERE nspowner = 'landmap_app'::regrole
                UNION ALL SELECT proname FROM pg_proc WHERE proowner = 'landmap_app'::regrole""")
    ).scalars()
    assert list(owned) == []
    refused(app_db, "CREATE TABLE landmap_app_probe (x int)")
