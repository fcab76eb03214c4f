"""Chinese by default, English on request (?lang=en, remembered in a cookie)."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import Babel, get_locale

from landmap.config import PROJECT_ROOT

SUPPORTED = ("zh_CN", "en")
COOKIE = "lang"


def _select() -> str:
    asked = request.args.get("lang") or request.cookies.get(COOKIE)
    return asked if asked in SUPPORTED else SUPPORTED[0]


def remember(response, lang: str):
    """Keep the language in a cookie (Secure when served over HTTPS)."""
    secure = current_app.extensions["landmap.settings"].https
    response.set_cookie(
        COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True, secure=secure
    )
    return response


def _remember(response):
    asked = request.args.get("lang")
    if asked in SUPPORTED and request.cookies.get(COOKIE) != asked:
        remember(response, asked)
    return response


def locale() -> str:
    return str(get_locale() or SUPPORTED[0])


def init_app(app: Flask) -> None:
    Babel(
        app,
        locale_selector=_select,
        default_locale="zh_CN",
        default_translation_directories=str(PROJECT_ROOT / "landmap" / "translations"),
    )
    app.after_request(_remember)
    app.jinja_env.globals["current_locale"] = locale
