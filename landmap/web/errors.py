"""Errors as users should see them: JSON for the API, a page otherwise. Never a traceback
or SQL: unexpected errors get an id that is in the server log."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from landmap.messages import Message, msg, rendered
from landmap.services import Refused
from landmap.web.db import rollback
from landmap.web.i18n import locale

log = logging.getLogger("landmap")


class ApiError(Refused):
    """A request the web layer refuses (bad input at the edge): a message for the client."""


def or_404(found, message: Message, status: int = 404):
    """``found`` unless it is None: then the request is refused with ``message``."""
    if found is None:
        raise ApiError(message, status)
    return found


DOWNLOADS = (".xlsx", ".pbf", ".zip", ".gpkg", ".geojson", ".dxf", ".pdf", ".json")


def wants_json() -> bool:
    """The API answers errors in JSON; so do downloads (a workbook, a tile) unless a browser
    navigated to them (it asks for HTML first), which gets a page."""
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    if request.path.endswith(DOWNLOADS):
        best = request.accept_mimetypes.best_match(["application/json", "text/html"])
        return best != "text/html"
    return False


def _refused(exc: Refused):
    """A request refused by the web layer or by a land rule: whatever the request wrote is
    rolled back, and the client gets the message in its locale (as JSON from the API, with
    the stable ``code`` beside the ``error``; a page otherwise)."""
    rollback()
    lang = locale()
    text = exc.render(lang)
    if wants_json():
        return jsonify(code=exc.code, error=text, **rendered(exc.extra, lang)), exc.status
    return _page(exc.status, text)


def _page(code: int, message: str | None):
    return render_template("error.html", code=code, message=message, title=code), code


# What each HTTP error says to people (Werkzeug's own descriptions are English).
HTTP_MESSAGES: dict[int, Message] = {
    400: msg("bad_request", "The request could not be understood."),
    401: msg("not_signed_in", "Please sign in first."),
    403: msg("forbidden", "Your role does not allow this."),
    404: msg("not_found", "There is no such page."),
    405: msg("method_not_allowed", "This address does not accept that kind of request."),
    409: msg("conflict", "The request conflicts with the register as it is now."),
    413: msg("too_large", "The request is too large."),
    429: msg("too_many_requests", "Too many requests: please wait a moment and try again."),
    500: msg("internal_error", "Something went wrong on the server."),
}


def http_message(status: int) -> Message:
    return HTTP_MESSAGES.get(status) or HTTP_MESSAGES[400 if status < 500 else 500]


def _http_error(exc: HTTPException):
    """Werkzeug's errors (404, 405, abort(…)) in the request's locale, never its English."""
    status = exc.code or 500
    message = http_message(status)
    ours = exc.description and exc.description != type(exc).description  # abort(404, _(…))
    text = exc.description if ours else message.render(locale())
    if wants_json():
        return jsonify(code=message.code, error=text), status
    return _page(status, text)


def _too_large(exc: RequestEntityTooLarge):
    limit = request.max_content_length
    mb = f"{limit / 2**20:g}" if limit else ""
    message = (
        _("The request is too large: at most %(mb)s MB are accepted.", mb=mb)
        if limit
        else http_message(413).render(locale())
    )
    if wants_json():
        return jsonify(code="too_large", error=message), 413
    return _page(413, message)


def _unexpected(exc: Exception):
    error_id = uuid.uuid4().hex[:12]
    log.exception("unexpected error %s on %s %s", error_id, request.method, request.path)
    if wants_json():
        text = http_message(500).render(locale())
        return jsonify(code="internal_error", error=text, error_id=error_id), 500
    return render_template("error.html", code=500, message=None, error_id=error_id, title=500), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(Refused, _refused)  # ApiError, and every land rule's
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
