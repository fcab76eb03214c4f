"""What PostgreSQL said, in words a user can act on."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError


def pg_message(exc: DBAPIError) -> str:
    diag = getattr(exc.orig, "diag", None)
    if diag is not None and diag.message_primary:
        return diag.message_primary
    return str(exc.orig).strip().splitlines()[0]
