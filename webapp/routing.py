"""The routing table for editors: topics the knowledge base does not cover and the team that takes
them (kb.editorial.routing). A weak search whose query names such a topic shows that team to the
agent with a one-click escalation (webapp.queries.routing_hint).

Editors and admins add, change and delete rules; every change is audited with who made it. A
refused change shows the form again with what was typed and a message at the field.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from kb.caselog.cases import escalation_teams
from kb.editorial.routing import ExampleVectors, delete_rule, list_rules, save_rule
from kb.errors import InvalidInput, NotFound
from kb.identity.users import list_users
from kb.store.tables import MAX_LENGTH
from webapp.labels import TEAM_LABELS
from webapp.security import EDITOR_ROLES, roles

bp = Blueprint("routing", __name__, url_prefix="/editor/routing")

NOT_SAVED = lazy_gettext("Could not save: the database cannot be written right now. Try again in a moment.")


def _needs_words(form, field) -> None:
    if not (form.keywords.data or "").strip() and not (form.examples.data or "").strip():
        raise ValidationError(gettext("Give at least one keyword or example query, or the topic is never matched."))


class RuleForm(FlaskForm):
    team = SelectField(lazy_gettext("Team"))
    topic_nl = StringField(
        lazy_gettext("Topic in Dutch"),
        validators=[
            DataRequired(lazy_gettext("Give the topic in Dutch, as agents will see it.")),
            Length(max=MAX_LENGTH["topic"], message=lazy_gettext("Keep the topic to %(max)d characters.")),
        ],
    )
    topic_en = StringField(
        lazy_gettext("Topic in English"),
        validators=[
            DataRequired(lazy_gettext("Give the topic in English, as agents will see it.")),
            Length(max=MAX_LENGTH["topic"], message=lazy_gettext("Keep the topic to %(max)d characters.")),
        ],
    )
    keywords = TextAreaField(
        lazy_gettext("Keywords (one a line, or separated by commas)"),
        validators=[
            _needs_words,
            Length(max=MAX_LENGTH["keywords"], message=lazy_gettext("Keep the keywords to %(max)d characters.")),
        ],
    )
    examples = TextAreaField(
        lazy_gettext("Example queries (one a line)"),
        validators=[
            Length(max=MAX_LENGTH["examples"], message=lazy_gettext("Keep the examples to %(max)d characters."))
        ],
    )


class ConfirmForm(FlaskForm):
    """No fields: only the CSRF token."""


@bp.record_once
def _example_cache(state) -> None:
    # One cache of the example queries' embeddings per process; the model loads on the first weak search.
    services = state.app.extensions["kb"]
    state.app.extensions.setdefault("kb_routing_examples", ExampleVectors(lambda: services.embedder))


def _engine():
    return current_app.extensions["kb"].engine


def _rule_form(prefix: str, rule=None, formdata=None) -> RuleForm:
    """A rule's form: filled from the rule (or empty), or from the submitted data with `formdata`."""
    kwargs = {} if formdata is not None else {"formdata": None}
    if rule is not None and formdata is None:
        kwargs.update(
            team=rule.team,
            topic_nl=rule.topic_nl,
            topic_en=rule.topic_en,
            keywords="\n".join(rule.keywords),
            examples="\n".join(rule.examples),
        )
    form = RuleForm(prefix=prefix, **kwargs)
    teams = list(escalation_teams())
    if rule is not None and rule.team not in teams:  # a team no longer configured: shown, refused on save
        teams.append(rule.team)
    form.team.choices = [(team, _team_label(team)) for team in teams]
    return form


def _page(refused: tuple[str, RuleForm] | None = None, status: int = 200):
    """The table with a form per rule and one to add a rule; `refused` is (prefix, form) to show again."""
    rules = list_rules(_engine())
    forms = {f"rule-{r.id}": _rule_form(f"rule-{r.id}", r) for r in rules}
    forms["new"] = _rule_form("new")
    if refused is not None:
        forms[refused[0]] = refused[1]
    names = {u.id: u.display_name or u.username for u in list_users(_engine())}
    return render_template(
        "editor/routing.html",
        rules=rules,
        forms=forms,
        names=names,
        team_labels=TEAM_LABELS,
        confirm=ConfirmForm(formdata=None),
    ), status


@bp.get("/")
@roles(*EDITOR_ROLES)
def index():
    return _page()


@bp.post("/")
@roles(*EDITOR_ROLES)
def add():
    return _save(None, "new")


@bp.post("/<int:rule_id>")
@roles(*EDITOR_ROLES)
def update(rule_id: int):
    return _save(rule_id, f"rule-{rule_id}")


@bp.post("/<int:rule_id>/delete")
@roles(*EDITOR_ROLES)
def delete(rule_id: int):
    if ConfirmForm().validate_on_submit():
        try:
            delete_rule(_engine(), rule_id, g.user.id)
        except NotFound as exc:
            flash(str(exc), "error")
        except SQLAlchemyError:
            flash(str(NOT_SAVED), "error")
        else:
            flash(gettext("The routing rule was deleted."), "info")
    return redirect(url_for("routing.index"))


def _save(rule_id: int | None, prefix: str):
    form = _rule_form(prefix, formdata=True)
    if not form.validate_on_submit():
        return _page((prefix, form), 400)
    try:
        saved = save_rule(
            _engine(),
            rule_id,
            form.team.data,
            form.topic_nl.data,
            form.topic_en.data,
            form.keywords.data or "",
            form.examples.data or "",
            g.user.id,
        )
    except InvalidInput as exc:
        getattr(form, exc.field, form.keywords).errors.append(exc.message)
        return _page((prefix, form), 400)
    except NotFound as exc:
        flash(str(exc), "error")
        return redirect(url_for("routing.index"))
    except SQLAlchemyError:
        form.form_errors.append(str(NOT_SAVED))
        return _page((prefix, form), 503)
    flash(
        gettext("Saved: %(topic)s goes to %(team)s.", topic=saved.topic(g.locale), team=_team_label(saved.team)), "info"
    )
    return redirect(url_for("routing.index") + f"#rule-{saved.id}")


def _team_label(team: str) -> str:
    return str(TEAM_LABELS.get(team, team))
