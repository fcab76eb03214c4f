"""The web layer: request in, services called, response out."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_compress import Compress

from landmap.web import (
    acquisition,
    adjustment,
    api,
    audit,
    auth,
    backups,
    briefing,
    compensation,
    compensation_books,
    compensation_pages,
    db,
    errors,
    evaluation,
    exports,
    i18n,
    idle,
    imports,
    ogc,
    pages,
    parcel_edits,
    projects,
    push,
    quota,
    register,
    security,
    statistics,
    supply,
    tiles,
)


def init_app(app: Flask, listener=None) -> None:
    db.init_app(app)
    push.init_app(app, listener)
    i18n.init_app(app)
    errors.init_app(app)
    api.init_app(app)  # the checks of every request, before anyone is asked who they are
    security.init_app(app)
    auth.init_app(app)
    app.before_request(api.check_body)  # once the writer may write
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(acquisition.bp)
    app.register_blueprint(projects.bp)
    app.register_blueprint(quota.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(backups.bp)
    app.register_blueprint(adjustment.bp)
    app.register_blueprint(parcel_edits.bp)
    app.register_blueprint(register.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(briefing.bp)
    app.register_blueprint(ogc.bp)
    app.register_blueprint(evaluation.bp)
    app.register_blueprint(idle.bp)
    app.register_blueprint(supply.bp)
    app.register_blueprint(statistics.bp)
    app.register_blueprint(compensation.bp)
    app.register_blueprint(compensation_pages.bp)
    app.register_blueprint(compensation_books.bp)
    tiles.init_app(app)
    # scripts, styles and JSON go compressed (Leaflet + Bootstrap shrink from 450 KB to ~100 KB);
    # HTML pages do not: they carry the CSRF token, and compressing secrets invites BREACH.
    # Tiles are gzipped once when made, by the tile cache.
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED)
    app.config.setdefault("COMPRESS_STREAMS", False)
    Compress(app)
    app.after_request(_buffer_static)  # runs before Compress's (after_request runs last-first)


COMPRESSED = [
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "image/svg+xml",
]


def _buffer_static(response: Response) -> Response:
    """A static file is streamed from disk, and Flask-Compress compressing a stream loses the
    file unclosed. Static files are small: read whole (the file is closed with the response)
    they are compressed as any other response."""
    if request.endpoint == "static" and response.direct_passthrough and response.status_code == 200:
        response.direct_passthrough = False
        response.make_sequence()
    return response
