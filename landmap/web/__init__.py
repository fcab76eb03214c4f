"""The web layer: request in, services called, response out."""

from __future__ import annotations

from flask import Flask

from landmap.web import (
    acquisition,
    adjustment,
    api,
    audit,
    auth,
    db,
    errors,
    i18n,
    pages,
    quota,
    security,
    tiles,
)


def init_app(app: Flask) -> None:
    db.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(acquisition.bp)
    app.register_blueprint(quota.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(adjustment.bp)
    tiles.init_app(app)
