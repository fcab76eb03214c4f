"""Errors as users should see them: JSON for the API, a page otherwise. Never a traceback
or SQL: unexpected errors get an id that is in the server log."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from landmap.services import Refused
from landmap.web.db import rollback

log = logging.getLogger("landmap")


class ApiError(Refused):
    """A request the web layer refuses (bad input at the edge): a message for the client."""


def or_404(found, message: str, status: int = 404):
    """``found`` unless it is None: then the request is refused with ``message``."""
    if found is None:
        raise ApiError(message, status)
    return found


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def _refused(exc: Refused):
    """A request refused by the web layer or by a land rule: whatever the request wrote is
    rolled back, and the client gets the message (as JSON from the API, a page otherwise)."""
    rollback()
    if wants_json():
        return jsonify(error=exc.message, **exc.extra), exc.status
    return _page(exc.status, exc.message)


def _page(code: int, message: str | None):
    return render_template("error.html", code=code, message=message, title=code), code


def _http_error(exc: HTTPException):
    if wants_json():
        return jsonify(error=exc.description or exc.name), exc.code
    return _page(exc.code or 500, exc.description)


def _too_large(exc: RequestEntityTooLarge):
    limit = request.max_content_length
    message = (
        _("The request is too large: at most %(mb)s MB are accepted.", mb=f"{limit / 2**20:g}")
        if limit
        else exc.description
    )
    if wants_json():
        return jsonify(error=message), 413
    return _page(413, message)


def _unexpected(exc: Exception):
    error_id = uuid.uuid4().hex[:12]
    log.exception("unexpected error %s on %s %s", error_id, request.method, request.path)
    if wants_json():
        return jsonify(error="internal error", error_id=error_id), 500
    return render_template("error.html", code=500, message=None, error_id=error_id, title=500), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(Refused, _refused)  # ApiError, and every land rule's
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
