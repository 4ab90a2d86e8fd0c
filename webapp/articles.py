"""One article as the agent works through it: escalation first, steps as a checklist, copyable explanation.

The text comes from the published snapshot that search uses (webapp.library). With a case open,
opening the article is logged on the case with the revision shown, and the steps become a
checklist wired to it (webapp.workspace).
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy.exc import SQLAlchemyError

from kb.content.articles import LANGUAGES
from kb.content.render import first_line, link_references, render_article
from kb.errors import ArticleError, InvalidInput, KBError
from webapp import library, outage_notices, workspace
from webapp.labels import FLAG_REASON_LABELS, FLAG_STATUS_LABELS, TEAM_LABELS
from webapp.search_panel import search_context
from webapp.security import SEARCH_ROLES, roles

bp = Blueprint("articles", __name__, url_prefix="/articles")
log = logging.getLogger(__name__)


@bp.get("/<article_id>")
@roles(*SEARCH_ROLES)
def show(article_id: str):
    return _show(article_id, request.args.get("lang"))


def _show(article_id: str, wanted: str | None, status: int = 200, flag_values=None):
    """The article page; after a refused flag (`flag_values`), again with the note kept, not logged twice."""
    try:
        versions = library.versions(article_id)
        if not versions:
            abort(404)
        article = library.pick(versions, wanted)
        page = link_references(render_article(article), _reference)
    except ArticleError as exc:
        return render_template("articles/unreadable.html", message=str(exc)), 500
    except KBError as exc:  # no index published yet: nothing to show
        return render_template("articles/unreadable.html", message=str(exc), no_index=True), 503
    search, _ = search_context(None, record=False)
    return render_template(
        "articles/show.html",
        page=page,
        match=_match(request.args.get("match"), page),
        when_to_use=first_line(article.section("symptoms").text if article.section("symptoms") else ""),
        escalate_line=first_line(article.section("escalate").text if article.section("escalate") else ""),
        **{
            **search,
            **workspace.case_panel(article),
            **workspace.article_opened(article, record=flag_values is None),
            **outage_notices.context(article=article),
            "outage_in_panel": False,
        },
        article=article,
        related=library.related(article),
        others=[lang for lang in versions if lang != article.lang],
        missing=wanted if wanted in LANGUAGES and wanted != article.lang else None,
        team_label=TEAM_LABELS.get(article.escalate_to, article.escalate_to),
        flag_reasons=FLAG_REASONS,
        flag_values=flag_values or {},
        may_edit=g.user.role in ("editor", "admin"),
    ), status


def _match(value: str | None, page) -> int | None:
    """The step the search matched (`?match=3`), highlighted on the page; only a step the article has."""
    if value is None or not value.isdigit() or len(value) > 3:
        return None
    number = int(value)
    return number if any(step.number == number for step in page.steps) else None


def _reference(article_id: str, lang: str) -> tuple[str, str] | None:
    """Where a 'see <id>' in an article's text links to: the article in that language if it has it."""
    try:
        versions = library.versions(article_id)
    except KBError:
        return None
    if not versions:
        return None
    target = library.pick(versions, lang)
    return url_for("articles.show", article_id=target.id, lang=target.lang), target.title


FLAG_REASONS = FLAG_REASON_LABELS
FLAG_STATUS = FLAG_STATUS_LABELS


@bp.post("/<article_id>/flag")
@roles(*SEARCH_ROLES)
def flag(article_id: str):
    """Flag the article: wrong, outdated, unclear, a step missing, other; with a note for the editors."""
    from kb.editorial.flags import flag_article

    form = request.form
    lang = form.get("lang")
    versions = library.versions(article_id) if library.ARTICLE_ID.match(article_id) else {}
    if lang not in versions:
        abort(404)
    try:
        flag_article(
            current_app.extensions["kb"].engine,
            article_id,
            lang,
            g.user.id,
            form.get("reason", ""),
            form.get("note", ""),
            revision=versions[lang].revision,
            case_id=workspace.current_case_id(),
        )
    except InvalidInput as exc:
        flash(gettext("The flag was not sent: %(reason)s", reason=exc.message), "error")
        return _show(article_id, lang, status=400, flag_values=form)
    except SQLAlchemyError as exc:
        log.error("could not store a flag on %s: %s", article_id, type(exc).__name__)
        flash(
            gettext("The flag could not be saved right now; your note is kept below. Try again in a moment."), "error"
        )
        return _show(article_id, lang, status=503, flag_values=form)
    flash(gettext("Thank you: the editors will look at this article. 'My flags' shows what they decide."), "info")
    return redirect(url_for("articles.show", article_id=article_id, lang=lang))


@bp.get("/flags/mine")
@roles(*SEARCH_ROLES)
def my_flags():
    """The flags this user raised, newest first, with the editors' outcome."""
    from kb.editorial.flags import list_flags

    flags = list_flags(current_app.extensions["kb"].engine, status=None, user_id=g.user.id)
    return render_template("articles/flags.html", flags=flags, reasons=FLAG_REASONS, statuses=FLAG_STATUS)
