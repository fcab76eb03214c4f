"""People and scripts who may use landmap: accounts with a role, passwords, sessions, API
tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from landmap.domain import Role
from landmap.messages import msg
from landmap.services import Refused

MIN_PASSWORD = 10
TOKEN_PREFIX = "lm_"
# a hash to check against when the user does not exist, so that timing tells nothing
_DUMMY_HASH = generate_password_hash("no such user: constant-time refusal")


class UserError(Refused):
    """A user operation that cannot be done; the message says why."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    display_name: str
    active: bool

    def can(self, permission: str) -> bool:
        return self.active and self.role.can(permission)


def _row(r) -> User:
    return User(r.id, r.name, Role(r.role), r.display_name, r.active)


def token_hash(token: str) -> str:
    """What is kept of a token or session id (and what caches key them by): its SHA-256."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


# a session's last_seen_at is written at most this often (reads would otherwise all write)
TOUCH_EVERY_MINUTES = 5


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(
            msg(
                "password_too_short",
                "a password has at least %(least)s characters",
                least=MIN_PASSWORD,
            )
        )


# a user name: what the app_user CHECK accepts (the database has the last word)
NAME_RE = re.compile(r"[A-Za-z0-9_.@-]{2,64}")
MAX_DISPLAY_NAME = 200


def check_name(name: str, display_name: str = "") -> None:
    if not NAME_RE.fullmatch(name):
        given = repr(name[:70])
        raise UserError(
            msg(
                "bad_user_name",
                "a user name is 2 to 64 letters, digits or _ . @ - (no spaces); got %(given)s",
                given=given,
            )
        )
    if len(display_name) > MAX_DISPLAY_NAME or not display_name.isprintable():
        raise UserError(
            msg(
                "bad_display_name",
                "a display name is at most %(most)s printable characters",
                most=MAX_DISPLAY_NAME,
            )
        )


def add(session: Session, name: str, role: str, password: str, display_name: str = "") -> User:
    check_name(name, display_name)
    try:
        role_ = Role.parse(role)
    except Refused as exc:  # names the roles by their labels
        raise UserError(exc.message) from exc
    check_password(password)
    if get(session, name) is not None:
        raise UserError(msg("user_exists", "there is already a user %(name)s", name=name))
    row = session.execute(
        text("""INSERT INTO app_user (name, display_name, role, password_hash)
                VALUES (:n, :d, :r, :h) RETURNING *"""),
        {"n": name, "d": display_name, "r": role_.value, "h": generate_password_hash(password)},
    ).one()
    return _row(row)


def get(session: Session, name: str) -> User | None:
    row = session.execute(text("SELECT * FROM app_user WHERE name = :n"), {"n": name}).first()
    return _row(row) if row else None


def by_id(session: Session, user_id: int) -> User | None:
    row = session.execute(text("SELECT * FROM app_user WHERE id = :i"), {"i": user_id}).first()
    return _row(row) if row else None


def authenticate(session: Session, name: str, password: str) -> User | None:
    row = session.execute(text("SELECT * FROM app_user WHERE name = :n"), {"n": name}).first()
    ok = check_password_hash(row.password_hash if row else _DUMMY_HASH, password)
    if row is None or not ok or not row.active:
        return None
    return _row(row)


def set_password(session: Session, name: str, password: str) -> None:
    check_password(password)
    done = session.execute(
        text("UPDATE app_user SET password_hash = :h WHERE name = :n"),
        {"h": generate_password_hash(password), "n": name},
    ).rowcount
    if not done:
        raise _no_user(name)
    _end_sessions(session, name)


def _no_user(name: str) -> UserError:
    return UserError(msg("no_such_user", "there is no user %(name)s", name=name), 404)


def disable(session: Session, name: str) -> None:
    """Disable an account: its sessions end and its tokens stop working."""
    done = session.execute(
        text("UPDATE app_user SET active = false WHERE name = :n"), {"n": name}
    ).rowcount
    if not done:
        raise _no_user(name)
    _end_sessions(session, name)
    session.execute(
        text("""UPDATE api_token SET revoked_at = now() WHERE revoked_at IS NULL
                AND user_id = (SELECT id FROM app_user WHERE name = :n)"""),
        {"n": name},
    )


def start_session(session: Session, user: User, address: str = "") -> str:
    """A new signed-in session for the user: the id the browser keeps (only its hash is
    stored)."""
    session_id = secrets.token_urlsafe(32)
    session.execute(
        text("INSERT INTO user_session (id_hash, user_id, address) VALUES (:h, :u, :a)"),
        {"h": token_hash(session_id), "u": user.id, "a": address[:64]},
    )
    return session_id


@dataclass(frozen=True)
class SignedIn:
    user: User
    stale: bool  # last seen long enough ago to be written again (touch_session)


def session_user(session: Session, session_id: str, idle_minutes: int) -> SignedIn | None:
    """Whose session this is, if it has not ended, has been used in the last ``idle_minutes``
    and its user is active. Only reads: it runs on every request."""
    row = session.execute(
        text("""SELECT u.*, s.last_seen_at < now() - make_interval(mins => :touch) AS stale
                FROM user_session s JOIN app_user u ON u.id = s.user_id
                WHERE s.id_hash = :h AND s.ended_at IS NULL AND u.active
                  AND s.last_seen_at > now() - make_interval(mins => :idle)"""),
        {"h": token_hash(session_id), "idle": idle_minutes, "touch": TOUCH_EVERY_MINUTES},
    ).first()
    return SignedIn(_row(row), row.stale) if row else None


def touch_session(session: Session, session_id: str) -> None:
    session.execute(
        text("UPDATE user_session SET last_seen_at = now() WHERE id_hash = :h"),
        {"h": token_hash(session_id)},
    )


def end_session(session: Session, session_id: str) -> None:
    session.execute(
        text("UPDATE user_session SET ended_at = now() WHERE id_hash = :h AND ended_at IS NULL"),
        {"h": token_hash(session_id)},
    )


def _end_sessions(session: Session, name: str) -> None:
    session.execute(
        text("""UPDATE user_session SET ended_at = now() WHERE ended_at IS NULL
                AND user_id = (SELECT id FROM app_user WHERE name = :n)"""),
        {"n": name},
    )


def list_users(session: Session) -> list[dict[str, Any]]:
    return [
        dict(r._mapping)
        for r in session.execute(
            text("""
            SELECT u.name, u.display_name, u.role, u.active, u.created_at,
                   count(t.id) FILTER (WHERE t.revoked_at IS NULL) AS tokens
            FROM app_user u LEFT JOIN api_token t ON t.user_id = u.id
            GROUP BY u.id ORDER BY u.name""")
        )
    ]


def new_token(session: Session, name: str, label: str = "") -> str:
    """A new API token for a user; only its hash is kept, so it is shown once."""
    user = get(session, name)
    if user is None or not user.active:
        raise UserError(msg("no_active_user", "there is no active user %(name)s", name=name), 404)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.execute(
        text("INSERT INTO api_token (user_id, token_hash, label) VALUES (:u, :h, :l)"),
        {"u": user.id, "h": token_hash(token), "l": label},
    )
    return token


def revoke_token(session: Session, token: str) -> bool:
    return bool(
        session.execute(
            text(
                "UPDATE api_token SET revoked_at = now() WHERE token_hash = :h "
                "AND revoked_at IS NULL"
            ),
            {"h": token_hash(token)},
        ).rowcount
    )


def user_for_token(session: Session, token: str) -> User | None:
    row = session.execute(
        text("""SELECT u.* FROM api_token t JOIN app_user u ON u.id = t.user_id
                WHERE t.token_hash = :h AND t.revoked_at IS NULL AND u.active"""),
        {"h": token_hash(token)},
    ).first()
    return _row(row) if row else None
