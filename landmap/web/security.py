"""Response headers that keep pages to their own origin: a Content-Security-Policy with a
per-request nonce for the inline map scripts, no framing, no sniffing, HSTS over HTTPS, no
caching of what a signed-in user sees; and the one check of where a redirect may go."""

from __future__ import annotations

import re
import secrets
import unicodedata
from urllib.parse import unquote, urlsplit

from flask import Flask, g, request
from flask_login import current_user
from markupsafe import Markup

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)")


def nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def with_nonce(html: str) -> Markup:
    """Give every inline <script> of generated HTML (folium's header) this request's nonce."""
    return Markup(_INLINE_SCRIPT.sub(f'<script nonce="{nonce()}"', html))


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default``: it starts with a single "/",
    and neither it nor its percent-decoding has a backslash, a control character or any
    whitespace (browsers drop tabs and newlines: "/", a tab, "/evil" would become "//evil")."""
    if not target:
        return default
    decoded, previous = target, None
    while decoded != previous:  # every layer of percent-encoding
        previous, decoded = decoded, unquote(decoded)
    for text in (target, decoded):
        if (
            not text.startswith("/")
            or text.startswith("//")
            or "\\" in text
            or any(unicodedata.category(c)[0] in "CZ" for c in text)
        ):
            return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def _policy(basemap_origin: str) -> str:
    img = "'self' data: blob:" + (f" {basemap_origin}" if basemap_origin else "")
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'{nonce}",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {img}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


def _fixed(https: bool) -> list[tuple[str, str]]:
    """The headers every response gets, whatever it is."""
    fixed = [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", "geolocation=(), camera=(), microphone=()"),
    ]
    if https:
        fixed.append(("Strict-Transport-Security", "max-age=31536000"))
    return fixed


def _headers(response, policy: str, https: bool):
    # a nonce only where a page may carry inline scripts; a tile or JSON has none to allow
    inline = f" 'nonce-{nonce()}'" if response.mimetype == "text/html" else ""
    response.headers["Content-Security-Policy"] = policy.format(nonce=inline)
    for name, value in _fixed(https):
        response.headers[name] = value
    if _private():
        response.headers["Cache-Control"] = "no-store"
    return response


def data_headers(app: Flask) -> list[tuple[str, str]]:
    """What _headers gives a response that is no page (no nonce) and keeps its own caching (a
    tile): for what is answered before Flask dispatches (landmap.web.tiles)."""
    settings = app.extensions["landmap.settings"]
    policy = app.extensions["landmap.csp"]
    return [("Content-Security-Policy", policy.format(nonce="")), *_fixed(settings.https)]


def _private() -> bool:
    """What a signed-in user is sent is not kept by any cache: pages, JSON, workbooks. Tiles
    keep their own revalidated caching, static files theirs."""
    if request.endpoint in (None, "static") or request.path.startswith("/tiles/"):
        return False
    return current_user.is_authenticated


def init_app(app: Flask) -> None:
    settings = app.extensions["landmap.settings"]
    origin = ""
    if settings.basemap_url:
        parts = urlsplit(settings.basemap_url.replace("{s}", "a"))
        origin = f"{parts.scheme}://{parts.netloc}".replace("://a.", "://*.")
    policy = app.extensions["landmap.csp"] = _policy(origin)
    app.after_request(lambda response: _headers(response, policy, settings.https))
    app.jinja_env.globals["csp_nonce"] = nonce
