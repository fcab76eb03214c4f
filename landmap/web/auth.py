"""Who is asking, and whether they may: sessions for people (Flask-Login, each one recorded
in the database and checked on every request), bearer tokens for scripts, one permission per
route checked before every request (deny by default), CSRF on every write not authenticated
by a token, a rate limit on logins."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from landmap.db.engine import session_scope
from landmap.messages import Message, msg
from landmap.services import users
from landmap.web import push, ratelimit  # noqa: F401  (ratelimit: the database storage)
from landmap.web.db import READS, get_session, set_actor, settings
from landmap.web.errors import http_message, wants_json
from landmap.web.i18n import locale
from landmap.web.security import safe_next

log = logging.getLogger("landmap")
bp = Blueprint("auth", __name__)
PUBLIC = "public"
csrf = CSRFProtect()
# counted where settings.ratelimit_storage says: by default in the database, which every
# server process shares (landmap.web.ratelimit)
limiter = Limiter(key_func=get_remote_address, default_limits=[])


class Account(UserMixin):
    """The signed-in user as Flask-Login sees it. A person's cookie holds the id of a session
    recorded in the database (logout, a password change, disabling the account or being idle
    end it); a script's request carries a token instead (``session_id`` None)."""

    def __init__(self, user: users.User, session_id: str | None = None) -> None:
        self.user = user
        self.session_id = session_id

    @property
    def via_token(self) -> bool:
        return self.session_id is None

    def get_id(self) -> str:
        return self.session_id or ""

    @property
    def is_active(self) -> bool:
        return self.user.active

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self):
        return self.user.role

    def can(self, permission: str) -> bool:
        return self.user.can(permission)


def requires(permission: str) -> Callable:
    """Declare the permission a view needs (see landmap.domain.PERMISSIONS) or PUBLIC."""

    def mark(view: Callable) -> Callable:
        view.landmap_permission = permission  # type: ignore[attr-defined]
        return view

    return mark


def current_user_name() -> str:
    return current_user.name if current_user.is_authenticated else "anonymous"


def can(permission: str) -> bool:
    return bool(current_user.is_authenticated and current_user.can(permission))


def _load_user(session_id: str) -> Account | None:
    # kept (by its hash) until told of a change; never while it is due to be touched
    signed_in = push.cache("auth").get(
        ("session", users.token_hash(session_id)),
        lambda: users.session_user(
            get_session(primary=True), session_id, settings().session_idle_minutes
        ),
        keep=lambda found: found is not None and not found.stale,
    )
    if signed_in is None:
        return None
    if signed_in.stale:  # seldom: reads go through connections that cannot write
        with session_scope(current_app.extensions["landmap.sessions"]) as db:
            users.touch_session(db, session_id)
    return Account(signed_in.user, session_id)


# What other GIS fetch (tiles, exports, OGC API): they may authenticate with HTTP Basic,
# the user name and a personal API token as the password (QGIS 3.22 cannot send a Bearer
# header); unauthenticated, they get 401 with WWW-Authenticate, never the login page.
GIS_PATHS = ("/tiles/", "/exports/", "/ogc", "/styles/")


def for_gis(path: str) -> bool:
    return path.startswith(GIS_PATHS)


def _basic_token(req) -> tuple[str, str] | None:
    """(user name, token) from ``Authorization: Basic``; None when it is not one."""
    auth = req.authorization
    if auth is None or auth.type != "basic" or not auth.username or not auth.password:
        return None
    return auth.username, auth.password


def token_key(token: str) -> tuple[str, str]:
    """What the token's user is kept under in the "auth" cache."""
    return "token", users.token_hash(token)


def _user_for_token(token: str) -> users.User | None:
    """The token's user; kept (by the token's hash) until told that a token or user changed.
    An unknown token is not kept: guessing fills nothing."""
    return push.cache("auth").get(
        token_key(token),
        lambda: users.user_for_token(get_session(primary=True), token),
        keep=lambda found: found is not None,
    )


def _load_from_request(req) -> Account | None:
    header = req.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = _user_for_token(header[len("Bearer ") :].strip())
        return Account(user) if user else None
    basic = _basic_token(req) if for_gis(req.path) else None
    if basic is None:
        return None
    name, token = basic  # the password is a token: never the account's password
    user = _user_for_token(token)
    return Account(user) if user and user.name == name else None


def _enforce():
    """Before every request: a route without a declared permission is refused (fail
    closed); anonymous users are asked to sign in; the role must have the permission;
    writes must carry the CSRF token unless a valid bearer token authenticated them."""
    if request.endpoint is None or request.endpoint == "static":
        return None
    view = current_app.view_functions[request.endpoint]
    permission = getattr(view, "landmap_permission", None)
    if permission is None:
        log.error("route %s declares no permission: refused", request.endpoint)
        return _deny(403)
    if current_user.is_authenticated:
        set_actor(current_user.name)
    elif permission != PUBLIC:
        return _deny(401)
    by_token = current_user.is_authenticated and current_user.via_token
    if request.method not in READS and not by_token:
        csrf.protect()
    if permission != PUBLIC and not current_user.can(permission):
        return _deny(403)
    return None


def _refuse(message: Message, status: int, json: bool | None = None):
    """``message`` in the request's locale: JSON with its code for the API, else a page."""
    text = message.render(locale())
    if wants_json() if json is None else json:
        return jsonify(code=message.code, error=text), status
    return render_template("error.html", code=status, message=text, title=status), status


def _deny(status: int):
    if status == 401 and for_gis(request.path):
        response = _refuse(http_message(status), status, json=True)
        response[0].headers["WWW-Authenticate"] = 'Basic realm="landmap", charset="UTF-8"'
        return response
    if status == 401 and not wants_json():
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return _refuse(http_message(status), status)


CSRF_FAILED = msg(
    "csrf_failed",
    "the form's security token (CSRF) is missing or out of date: reload the page and try again",
)


def _csrf_error(exc: CSRFError):
    log.info("CSRF check failed: %s", exc.description)
    return _refuse(CSRF_FAILED, 400, wants_json() or request.is_json)


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired(), Length(max=64)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])


WRONG_PASSWORD = msg("wrong_password", "Wrong user name or password.")
TOO_MANY = msg("too_many_attempts", "Too many attempts: wait a minute and try again.")


def _login_key() -> str:
    return f"{get_remote_address()}|{(request.form.get('username') or '')[:64]}"


@bp.route("/login", methods=["GET", "POST"])
@requires(PUBLIC)
@limiter.limit("60 per minute", methods=["POST"])
@limiter.limit("10 per minute", methods=["POST"], key_func=_login_key)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = users.authenticate(get_session(), form.username.data, form.password.data)
        if user is not None:
            db = get_session()
            if session.get("_user_id"):  # signing in again ends the session it replaces
                users.end_session(db, session["_user_id"])
            session_id = users.start_session(db, user, request.remote_addr or "")
            db.commit()
            session.clear()  # a fresh session at every login
            login_user(Account(user, session_id))
            return redirect(safe_next(request.args.get("next"), url_for("pages.index")))
        log.warning("failed login for %r from %s", form.username.data, request.remote_addr)
        flash(WRONG_PASSWORD.render(locale()))
    return render_template("login.html", form=form, title=_("Sign in"))


@bp.post("/logout")
@requires(PUBLIC)
def logout():
    if current_user.is_authenticated and not current_user.via_token:
        users.end_session(get_session(), current_user.session_id)
        get_session().commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def _too_many(exc):
    return _refuse(TOO_MANY, 429)


def init_app(app: Flask) -> None:
    settings = app.extensions["landmap.settings"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.https,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in _enforce, for cookie-authenticated writes
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session
    )
    manager = LoginManager(app)
    manager.session_protection = (
        "basic"  # "strong" would drop token users whose session holds a CSRF token
    )
    manager.user_loader(_load_user)
    manager.request_loader(_load_from_request)
    csrf.init_app(app)
    app.config["RATELIMIT_STORAGE_URI"] = settings.ratelimit_storage
    limiter.init_app(app)
    # Only decorated views are limited (the sign-in), and they check in their decorator. The
    # limiter's check before every request, for application-wide limits landmap has none of,
    # cost a third of a cached tile's time in process: it goes.
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
    app.before_request(_enforce)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(429, _too_many)
    app.register_blueprint(bp)
    app.jinja_env.globals["can"] = can
