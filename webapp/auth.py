"""Signing in and out, the signed-in user on `g.user`, and the user's own settings page."""

from __future__ import annotations

import logging
import math
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from wtforms import HiddenField, PasswordField, RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, Length

from kb.errors import InvalidInput, KBError, LoginFailed, LoginThrottled
from kb.identity.tokens import authenticate_token
from kb.identity.users import ROLES, authenticate, change_own_password, get_user, revoke_sessions, set_language
from kb.store import engine as db
from webapp.security import PUBLIC, public, roles

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth")

# (label, path): shown in the navigation when the path exists and the user's role may open it.
NAV = (
    (lazy_gettext("Search"), "/"),
    (lazy_gettext("My cases"), "/cases"),
    (lazy_gettext("Worklist"), "/editor"),
    (lazy_gettext("Articles"), "/editor/articles"),
    (lazy_gettext("Routing"), "/editor/routing"),
    (lazy_gettext("My flags"), "/articles/flags/mine"),
    (lazy_gettext("Analytics"), "/analytics"),
    (lazy_gettext("All open cases"), "/supervisor/cases"),
    (lazy_gettext("Outages"), "/outages"),
    (lazy_gettext("Callbacks"), "/outages/callbacks"),
    (lazy_gettext("Users"), "/admin/users"),
    (lazy_gettext("API tokens"), "/admin/tokens"),
    (lazy_gettext("Deliveries"), "/admin/deliveries"),
)


class LoginForm(FlaskForm):
    username = StringField(lazy_gettext("User name"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class PasswordForm(FlaskForm):
    current_password = PasswordField(lazy_gettext("Current password"), validators=[DataRequired(), Length(max=1024)])
    password = PasswordField(
        lazy_gettext("New password (at least 8 characters)"), validators=[DataRequired(), Length(min=8, max=1024)]
    )
    repeat = PasswordField(lazy_gettext("New password again"), validators=[DataRequired(), Length(max=1024)])


class LanguageForm(FlaskForm):
    language = RadioField(
        lazy_gettext("Interface language"),
        default="",
        choices=[
            SelectChoice("", lazy_gettext("As my browser prefers")),
            SelectChoice("nl", "Nederlands"),
            SelectChoice("en", "English"),
        ],
    )


def safe_next(target: object) -> str | None:
    """`target` if it is a path on this site ("/cases/12"), without its query string; else None."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None  # browsers drop tabs and newlines and read "\" as "/": "/\t/evil.example"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return parts.path


def home_url() -> str:
    """Where a signed-in user starts: the search page if there is one, else their settings."""
    return "/" if _endpoint_for("/") else url_for("auth.account")


def _endpoint_for(path: str) -> str | None:
    adapter = current_app.url_map.bind("localhost")
    try:
        return adapter.match(path, method="GET")[0]
    except RequestRedirect as moved:  # "/cases" answered by "/cases/"
        moved_to = urlsplit(moved.new_url).path
        return _endpoint_for(moved_to) if moved_to != path else None
    except HTTPException:
        return None


def nav_links(user) -> list[tuple[str, str, bool]]:
    """(label, path, is current page) for the NAV entries that exist and that `user` may open."""
    links = []
    for label, path in NAV:
        view = current_app.view_functions.get(_endpoint_for(path) or "")
        allowed = getattr(view, "allowed_roles", frozenset())
        if user is not None and (PUBLIC in allowed or user.role in allowed):
            current = request.path == path or (path != "/" and request.path.startswith(path + "/"))
            links.append((str(label), path, current))
    return links


@bp.record_once
def _load_user_first(state) -> None:
    # The access check (security.enforce_access) reads g.user, so it must be set before anything else.
    state.app.before_request_funcs.setdefault(None, []).insert(0, load_logged_in_user)
    state.app.jinja_env.globals.update(nav_links=nav_links, home_url=home_url)


def start_session(user) -> None:
    """A fresh session for `user`: nothing from before the log-in survives (no fixation)."""
    session.clear()
    session.permanent = True
    now = int(time.time())
    session.update(user_id=user.id, gen=user.session_generation, signed_in_at=now, seen_at=now)


def _session_valid(user) -> bool:
    """Same generation (not signed out, no new password, not disabled since), within both timeouts."""
    now = time.time()
    config = current_app.config
    signed_in, seen = session.get("signed_in_at"), session.get("seen_at")
    return (
        user is not None
        and user.is_active
        and session.get("gen") == user.session_generation
        and isinstance(signed_in, int)
        and isinstance(seen, int)
        and now - signed_in <= config["KB_SESSION_HOURS"] * 3600
        and now - seen <= config["KB_IDLE_MINUTES"] * 60
    )


API_PREFIX = "/api/v1/"


def load_logged_in_user():
    """Set g.user from an API token (under /api/v1/ only) or else the session; a revoked, expired,
    disabled or deleted user's session ends. `g.auth` says which: "token", "session" or None."""
    g.user = None
    g.auth = None
    if request.endpoint == "static":
        return None  # stylesheets and scripts need no user: no database query for them
    header = request.headers.get("Authorization")
    if header is not None and request.path.startswith(API_PREFIX):
        return _token_user(header)
    user_id = session.get("user_id")
    if user_id is None:
        return None
    user = get_user(current_app.extensions["kb"].engine, user_id) if isinstance(user_id, int) else None
    if not _session_valid(user):
        session.clear()
        return None
    polled = request.endpoint == "cases.screen_pop"  # the page's own poll is not the agent at work
    if time.time() - session["seen_at"] >= 60 and not polled:  # the idle clock, without a cookie per request
        session["seen_at"] = int(time.time())
    g.user = user
    g.auth = "session"
    return None


def _token_user(header: str):
    """g.user from `Authorization: Bearer <token>`; a refusal is answered at once (401 or 429), and a
    session cookie sent along is not looked at. The token's prefix only is logged, never the token."""
    from webapp.security import api_error

    scheme, _, presented = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return api_error(
            401,
            "unauthorized",
            gettext("Send the API token as 'Authorization: Bearer <token>'."),
            bearer="invalid_request",
        )
    try:
        user, token = authenticate_token(current_app.extensions["kb"].engine, presented.strip(), request.remote_addr)
    except LoginThrottled as exc:
        wait = max(1, math.ceil((exc.retry_at - db.utcnow()).total_seconds())) if exc.retry_at else 60
        response = api_error(429, "too_many_attempts", str(exc))
        response.headers["Retry-After"] = str(wait)
        return response
    except LoginFailed as exc:
        return api_error(401, "invalid_token", str(exc), bearer="invalid_token")
    g.user, g.auth, g.token = user, "token", token
    log.info("API request by token %s (user %d)", token.shown, user.id)
    return None


@bp.route("/login", methods=("GET", "POST"))
@public
def login():
    form, error, status = LoginForm(), None, 200
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    if form.validate_on_submit():
        try:
            user = authenticate(
                current_app.extensions["kb"].engine,
                form.username.data,
                form.password.data,
                request.remote_addr or "unknown",
            )
        except (LoginFailed, LoginThrottled) as exc:
            error, status = str(exc), 429 if isinstance(exc, LoginThrottled) else 401
            if isinstance(exc, LoginThrottled) and exc.retry_at is not None:
                wait = max(1, math.ceil((exc.retry_at - db.utcnow()).total_seconds()))
                response = make_response(render_template("auth/login.html", form=form, error=error), status)
                response.headers["Retry-After"] = str(wait)
                return response
        else:
            start_session(user)
            return redirect(safe_next(form.next.data) or home_url())
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@roles(*ROLES)
def logout():
    """Sign out everywhere: this cookie, and any copy of it, stops working."""
    revoke_sessions(current_app.extensions["kb"].engine, g.user.id)
    session.clear()
    flash(gettext("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=("GET", "POST"))
@roles(*ROLES)
def account():
    form = LanguageForm(language=g.user.language or "")
    if form.validate_on_submit():
        try:
            set_language(current_app.extensions["kb"].engine, g.user.id, form.language.data or None)
        except KBError as exc:
            flash(str(exc), "error")
        else:
            flash(gettext("Your language setting is saved."), "info")
            return redirect(url_for("auth.account"))
    return _account_page(form=form)


def _account_page(status: int = 200, **context):
    """The settings page: language, password, and the user's own API tokens."""
    from webapp import token_forms

    context.setdefault("form", LanguageForm(language=g.user.language or ""))
    context.setdefault("password_form", PasswordForm(formdata=None))
    context.setdefault("token_form", token_forms.TokenForm(formdata=None))
    page = render_template(
        "auth/account.html",
        token_list=token_forms.listed(user_id=g.user.id),
        revoke_form=token_forms.RevokeForm(formdata=None),
        revoke_endpoint="auth.revoke_token",
        create_action=url_for("auth.create_token"),
        show_user=False,
        **context,
    )
    return page, status


@bp.post("/tokens")
@roles(*ROLES)
def create_token():
    """A new API token for the signed-in user, shown once on the page (never flashed: a flash
    travels in the session cookie)."""
    from webapp import token_forms

    form = token_forms.TokenForm()
    if not form.validate_on_submit():
        return _account_page(400, token_form=form)
    try:
        created = token_forms.create(form, g.user.username, g.user.id)
    except KBError as exc:
        form.name.errors.append(str(exc))
        return _account_page(400, token_form=form)
    return _account_page(new_token=created)


@bp.post("/tokens/<int:token_id>/revoke")
@roles(*ROLES)
def revoke_token(token_id: int):
    from kb.identity.tokens import revoke_token as revoke
    from webapp import token_forms

    if not token_forms.RevokeForm().validate_on_submit():
        return _account_page(400)
    try:
        token = revoke(current_app.extensions["kb"].engine, token_id, actor_id=g.user.id, owner_id=g.user.id)
    except KBError:
        return _account_page(404)
    flash(gettext("Token %(name)s is revoked; its next request is refused.", name=token.shown), "info")
    return redirect(url_for("auth.account") + "#tokens-title", 303)


@bp.post("/password")
@roles(*ROLES)
def change_password():
    """The user's own new password; every other session of theirs ends, this one continues."""
    form = PasswordForm()
    error = None
    if not form.validate_on_submit():
        error = gettext("Fill in your current password and the new one (at least 8 characters) twice.")
    elif form.password.data != form.repeat.data:
        error = gettext("The two new passwords differ; type the same one twice.")
    else:
        try:
            user = change_own_password(
                current_app.extensions["kb"].engine, g.user.id, form.current_password.data, form.password.data
            )
        except InvalidInput as exc:
            error = {
                "current_password": gettext("The current password is wrong; nothing was changed."),
                "password": gettext("Choose another new password (8 to 1024 characters, not the current one)."),
            }.get(exc.field, str(exc))
        else:
            start_session(user)
            flash(gettext("Your password is changed. You are signed out everywhere else."), "info")
            return redirect(url_for("auth.account"))
    return _account_page(400, password_error=error)


@bp.app_errorhandler(CSRFError)
def csrf_error(exc: CSRFError):
    message = gettext("This form has expired or was sent from another site. Reload the page and try again.")
    if request.path.startswith(API_PREFIX):
        from webapp.security import api_error

        return api_error(
            400, "csrf", gettext("Send the page's CSRF token in the X-CSRFToken header, or use an API token instead.")
        )
    if request.blueprint == "api" or request.accept_mimetypes.best == "application/json":
        return {"error": message}, 400
    return render_template("error.html", code=400, title=gettext("Form expired"), message=message), 400
