"""Signing in and out, the signed-in user on `g.user`, and the user's own settings page."""

from __future__ import annotations

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
from kb.identity.users import ROLES, authenticate, change_own_password, get_user, revoke_sessions, set_language
from kb.store import engine as db
from webapp.security import PUBLIC, public, roles

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
    (lazy_gettext("Users"), "/admin/users"),
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


def load_logged_in_user() -> None:
    """Set g.user from the session; a revoked, expired, disabled or deleted user's session ends."""
    g.user = None
    if request.endpoint == "static":
        return  # stylesheets and scripts need no user: no database query for them
    user_id = session.get("user_id")
    if user_id is None:
        return
    user = get_user(current_app.extensions["kb"].engine, user_id) if isinstance(user_id, int) else None
    if not _session_valid(user):
        session.clear()
        return
    if time.time() - session["seen_at"] >= 60:  # the idle clock, without a new cookie on every request
        session["seen_at"] = int(time.time())
    g.user = user


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
    return render_template("auth/account.html", form=form, password_form=PasswordForm(formdata=None))


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
    return render_template(
        "auth/account.html",
        form=LanguageForm(language=g.user.language or ""),
        password_form=PasswordForm(formdata=None),
        password_error=error,
    ), 400


@bp.app_errorhandler(CSRFError)
def csrf_error(exc: CSRFError):
    message = gettext("This form has expired or was sent from another site. Reload the page and try again.")
    if request.blueprint == "api" or request.accept_mimetypes.best == "application/json":
        return {"error": message}, 400
    return render_template("error.html", code=400, title=gettext("Form expired"), message=message), 400
