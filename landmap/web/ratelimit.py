"""Rate limit counters that every server process on every machine shares: a `limits` storage
kept in landmap's database (table rate_limit, 0019), for Flask-Limiter's fixed-window
strategy. Its scheme is ``landmap+postgresql://``; it needs no address of its own, it works
through the serving app's sessions (``landmap.sessions``), each call a short transaction of
its own, committed whatever becomes of the request. The database's clock is the one clock:
machines need not agree on the time."""

from __future__ import annotations

import hashlib
import itertools

from flask import current_app
from limits.storage import Storage
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from landmap.db.engine import session_scope

SCHEME = "landmap+postgresql"
KEY_LENGTH = 255  # rate_limit.key
PRUNE_EVERY = 100  # increments between two deletions of the windows that have ended

# One statement: a new key starts its window; a window that has ended starts again at
# ``amount``; otherwise the count grows. Atomic under concurrent attempts (the row is locked).
INCR = text("""
    INSERT INTO rate_limit AS r (key, count, expires_at)
    VALUES (:key, :amount, now() + make_interval(secs => :expiry))
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN r.expires_at <= now() THEN excluded.count
                     ELSE r.count + excluded.count END,
        expires_at = CASE WHEN r.expires_at <= now() THEN excluded.expires_at
                          ELSE r.expires_at END
    RETURNING count""")
GET = text("SELECT count FROM rate_limit WHERE key = :key AND expires_at > now()")
EXPIRY = text("""
    SELECT extract(epoch FROM coalesce(
        (SELECT expires_at FROM rate_limit WHERE key = :key AND expires_at > now()), now()))""")
PRUNE = text("DELETE FROM rate_limit WHERE expires_at <= now()")


def stored_key(key: str) -> str:
    """``key`` as stored: bounded in length (a long one by its digest)."""
    if len(key) <= KEY_LENGTH:
        return key
    return f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"


class DatabaseStorage(Storage):
    """Fixed-window counters in table rate_limit, through the current app's sessions."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._calls = itertools.count(1)

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def _run(self, statement, **params):
        """One statement in a transaction of its own: its value, or the rows it changed."""
        with session_scope(current_app.extensions["landmap.sessions"]) as db:
            result = db.execute(statement, params)
            return result.scalar() if result.returns_rows else result.rowcount

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        count = self._run(INCR, key=stored_key(key), amount=amount, expiry=float(expiry))
        if next(self._calls) % PRUNE_EVERY == 0:
            self.prune()
        return int(count)

    def get(self, key: str) -> int:
        return int(self._run(GET, key=stored_key(key)) or 0)

    def get_expiry(self, key: str) -> float:
        return float(self._run(EXPIRY, key=stored_key(key)))

    def check(self) -> bool:
        try:
            self._run(text("SELECT 1 FROM rate_limit LIMIT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        return self._run(text("DELETE FROM rate_limit"))

    def clear(self, key: str) -> None:
        self._run(text("DELETE FROM rate_limit WHERE key = :key"), key=stored_key(key))

    def prune(self) -> int:
        """Delete the windows that have ended; how many."""
        return self._run(PRUNE)
