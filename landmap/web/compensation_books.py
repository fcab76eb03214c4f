"""The 补偿安置台账 workbook: ``GET /projects/<id>/compensation.xlsx?batch=&as_of=&personal=``
(services.compensation_workbook).

ID numbers are masked. ``personal=1`` asks for them in full: only for the roles that handle
agreements (permission "compensation"; the others get 403), and then every household listed
is recorded in the audit trail, in a transaction of its own committed before the file is
sent (as ``GET /api/households/<id>`` does)."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from landmap.db.engine import session_scope
from landmap.messages import msg
from landmap.services import compensation, compensation_workbook
from landmap.web.auth import can, current_user_name, requires
from landmap.web.compensation import _project_scope, sealer
from landmap.web.db import get_session
from landmap.web.downloads import workbook
from landmap.web.errors import ApiError

bp = Blueprint("compensation_books", __name__)

YES, NO = ("1", "true", "yes"), ("", "0", "false", "no")


def _personal() -> bool:
    """``?personal=``: 1 (true, yes) or 0 (false, no, absent); unmasked numbers only for the
    roles that handle agreements."""
    value = request.args.get("personal", "").strip().lower()
    if value not in YES + NO:
        raise ApiError(msg("personal_flag", "personal must be 1 or 0"))
    if value in NO:
        return False
    if not can("compensation"):
        raise ApiError(
            msg(
                "personal_not_allowed",
                "your role may not see ID numbers in full: download the ledger without "
                "personal=1 (the numbers masked)",
            ),
            403,
        )
    return True


@bp.get("/projects/<int:project_id>/compensation.xlsx")
@requires("view")
def ledger(project_id: int):
    """The project's (``?batch=``) 补偿安置台账 as of ``?as_of=`` (today when not given)."""
    batch, as_of = _project_scope(project_id)
    unmasked = _personal()
    book = compensation_workbook.ledger(
        get_session(), sealer(), project_id, batch, as_of, unmasked=unmasked
    )
    if unmasked and book.households:  # recorded (committed) before the numbers are sent
        with session_scope(current_app.extensions["landmap.sessions"]) as db:
            compensation.record_unmasked_view(
                db, book.households, current_user_name(), request.remote_addr or ""
            )
    return workbook(book.data, book.file_name)
