"""Response headers that keep pages to their own origin: a Content-Security-Policy with a
per-request nonce for the inline map scripts, no framing, no sniffing."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, g
from markupsafe import Markup

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)")


def nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def with_nonce(html: str) -> Markup:
    """Give every inline <script> of generated HTML (folium's header) this request's nonce."""
    return Markup(_INLINE_SCRIPT.sub(f'<script nonce="{nonce()}"', html))


def _policy(basemap_origin: str) -> str:
    img = "'self' data: blob:" + (f" {basemap_origin}" if basemap_origin else "")
    return "; ".join([
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
    ])  # fmt: skip


def _headers(response, policy: str):
    # a nonce only where a page may carry inline scripts; a tile or JSON has none to allow
    inline = f" 'nonce-{nonce()}'" if response.mimetype == "text/html" else ""
    response.headers["Content-Security-Policy"] = policy.format(nonce=inline)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "geolocation=(), camera=(), microphone=()"
    return response


def init_app(app: Flask) -> None:
    settings = app.extensions["landmap.settings"]
    origin = ""
    if settings.basemap_url:
        parts = urlsplit(settings.basemap_url.replace("{s}", "a"))
        origin = f"{parts.scheme}://{parts.netloc}".replace("://a.", "://*.")
    policy = _policy(origin)
    app.after_request(lambda response: _headers(response, policy))
    app.jinja_env.globals["csp_nonce"] = nonce
