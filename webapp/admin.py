"""User management for admins: list users, add a user, change a role, set a new password, disable or enable.

Every change is audited with the admin who made it.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from kb.errors import KBError
from kb.identity.users import (
    ROLES,
    create_user,
    disable_user,
    enable_user,
    list_users,
    set_password,
    set_role,
    unlock_user,
)
from kb.integrations.webhook import list_deliveries
from webapp.security import roles

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_CHOICES = [SelectChoice(role) for role in ROLES]


class AddUserForm(FlaskForm):
    username = StringField(lazy_gettext("User name"), validators=[DataRequired(), Length(min=3, max=64)])
    display_name = StringField(lazy_gettext("Full name"), validators=[Optional(), Length(max=200)])
    role = SelectField(lazy_gettext("Role"), choices=ROLE_CHOICES, default="agent")
    language = SelectField(
        lazy_gettext("Language"),
        default="",
        choices=[
            SelectChoice("", lazy_gettext("As the browser prefers")),
            SelectChoice("nl", "Nederlands"),
            SelectChoice("en", "English"),
        ],
    )
    team = StringField(lazy_gettext("Team"), validators=[Optional(), Length(max=100)])
    password = PasswordField(
        lazy_gettext("Password (leave empty to generate one)"), validators=[Optional(), Length(min=8, max=1024)]
    )


class RoleForm(FlaskForm):
    role = SelectField(lazy_gettext("Role"), choices=ROLE_CHOICES)


class ConfirmForm(FlaskForm):
    """No fields: only the CSRF token."""


def _engine():
    return current_app.extensions["kb"].engine


def _page(
    form: AddUserForm,
    created: tuple[str, str] | None = None,
    status: int = 200,
    new_password: tuple[str, str] | None = None,
):
    users = list_users(_engine())
    role_forms = {u.username: RoleForm(role=u.role, formdata=None) for u in users}
    return render_template(
        "admin/users.html", users=users, form=form, role_forms=role_forms, created=created, new_password=new_password
    ), status


@bp.get("/users")
@roles("admin")
def users():
    return _page(AddUserForm(formdata=None))


@bp.post("/users")
@roles("admin")
def add_user():
    form = AddUserForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    password = form.password.data or secrets.token_urlsafe(12)
    try:
        user = create_user(
            _engine(),
            form.username.data,
            password,
            form.role.data,
            display_name=form.display_name.data or None,
            language=form.language.data or None,
            team=form.team.data or None,
        )
    except KBError as exc:
        getattr(form, getattr(exc, "field", ""), form.username).errors.append(str(exc))
        return _page(form, status=400)
    # Shown once on this page, never flashed: a flash would travel in the session cookie.
    return _page(AddUserForm(formdata=None), created=(user.username, None if form.password.data else password))


@bp.post("/users/<username>/role")
@roles("admin")
def change_role(username: str):
    form = RoleForm()
    if username == g.user.username:
        flash(gettext("You cannot change your own role; ask another admin."), "error")
    elif form.validate_on_submit():
        _apply(
            set_role,
            username,
            form.role.data,
            done=gettext("%(user)s is now %(role)s.", user=username, role=form.role.data),
        )
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/disable")
@roles("admin")
def disable(username: str):
    if username == g.user.username:
        flash(gettext("You cannot disable your own account."), "error")
    elif ConfirmForm().validate_on_submit():
        _apply(disable_user, username, done=gettext("%(user)s can no longer sign in.", user=username))
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/enable")
@roles("admin")
def enable(username: str):
    if ConfirmForm().validate_on_submit():
        _apply(enable_user, username, done=gettext("%(user)s can sign in again.", user=username))
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/unlock")
@roles("admin")
def unlock(username: str):
    """After someone else's failed guesses: the user may sign in again at once."""
    if ConfirmForm().validate_on_submit():
        _apply(unlock_user, username, done=gettext("%(user)s can sign in again now.", user=username))
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/password")
@roles("admin")
def new_password(username: str):
    """A generated password, shown once on the page (never flashed); the user's sessions end."""
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("admin.users"))
    password = secrets.token_urlsafe(12)
    try:
        set_password(_engine(), username, password, actor_id=g.user.id)
    except KBError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.users"))
    return _page(AddUserForm(formdata=None), new_password=(username, password))


def _apply(change, *args, done: str) -> None:
    try:
        change(_engine(), *args, actor_id=g.user.id)
    except KBError as exc:
        flash(str(exc), "error")
    else:
        flash(done, "info")


def _tokens_page(status: int = 200, **context):
    from webapp import token_forms

    context.setdefault("token_form", token_forms.AdminTokenForm(formdata=None))
    return render_template(
        "admin/tokens.html",
        token_list=token_forms.listed(),
        revoke_form=token_forms.RevokeForm(formdata=None),
        revoke_endpoint="admin.revoke_token",
        create_action=url_for("admin.create_token"),
        show_user=True,
        **context,
    ), status


@bp.get("/tokens")
@roles("admin")
def tokens():
    """Every user's API tokens: create one for any user (an integration account), revoke any."""
    return _tokens_page()


@bp.post("/tokens")
@roles("admin")
def create_token():
    from webapp import token_forms

    form = token_forms.AdminTokenForm()
    if not form.validate_on_submit():
        return _tokens_page(400, token_form=form)
    try:
        created = token_forms.create(form, form.username.data, g.user.id)
    except KBError as exc:
        form.username.errors.append(str(exc))
        return _tokens_page(400, token_form=form)
    return _tokens_page(new_token=created)  # shown once on this page, never flashed


@bp.post("/tokens/<int:token_id>/revoke")
@roles("admin")
def revoke_token(token_id: int):
    from kb.identity.tokens import revoke_token as revoke

    if not ConfirmForm().validate_on_submit():
        return _tokens_page(400)
    try:
        token = revoke(_engine(), token_id, actor_id=g.user.id)
    except KBError:
        return _tokens_page(404)
    flash(gettext("Token %(name)s of %(user)s is revoked.", name=token.shown, user=token.username), "info")
    return redirect(url_for("admin.tokens"), 303)


@bp.get("/deliveries")
@roles("admin")
def deliveries():
    """Hand-off webhook deliveries that failed for good or are still being retried, newest first."""
    engine = _engine()
    shown = {status: list_deliveries(engine, status=status)[:200] for status in ("failed", "pending")}
    return render_template("admin/deliveries.html", failed=shown["failed"], pending=shown["pending"])
