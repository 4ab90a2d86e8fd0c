"""The form and list of API tokens, shared by the user's settings page and the admins' tokens page."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from kb.identity import tokens

EXPIRY_CHOICES = [
    SelectChoice("30", lazy_gettext("30 days")),
    SelectChoice("90", lazy_gettext("90 days")),
    SelectChoice("365", lazy_gettext("1 year")),
    SelectChoice("0", lazy_gettext("Never (revoke it by hand)")),
]


class TokenForm(FlaskForm):
    name = StringField(
        lazy_gettext("What it is for (e.g. 'Telephony screen pop')"), validators=[DataRequired(), Length(max=100)]
    )
    expires = SelectField(lazy_gettext("Expires after"), choices=EXPIRY_CHOICES, default="90")


class AdminTokenForm(TokenForm):
    username = StringField(lazy_gettext("For user"), validators=[DataRequired(), Length(min=3, max=64)])


class RevokeForm(FlaskForm):
    """No fields: only the CSRF token."""


def create(form: TokenForm, username: str, actor_id: int):
    """(token record, the token to show once) for a validated form."""
    return tokens.create_token(
        current_app.extensions["kb"].engine, username, form.name.data, int(form.expires.data) or None, actor_id
    )


def listed(username: str | None = None, user_id: int | None = None):
    return tokens.list_tokens(current_app.extensions["kb"].engine, username=username, user_id=user_id)
