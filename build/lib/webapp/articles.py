"""One article as the agent works through it: escalation first, steps as a checklist, copyable explanation.

The text comes from the published snapshot that search uses (webapp.library). With a case open,
opening the article is logged on the case with the revision shown, and the steps become a
checklist wired to it (webapp.workspace).
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from kb.content.articles import LANGUAGES
from kb.content.render import render_article
from kb.errors import ArticleError, KBError
from webapp import library, workspace
from webapp.labels import CATEGORY_LABELS, CONNECTION_LABELS, TEAM_LABELS
from webapp.security import SEARCH_ROLES, roles

bp = Blueprint("articles", __name__, url_prefix="/articles")


@bp.get("/<article_id>")
@roles(*SEARCH_ROLES)
def show(article_id: str):
    wanted = request.args.get("lang")
    try:
        versions = library.versions(article_id)
        if not versions:
            abort(404)
        article = library.pick(versions, wanted)
        page = render_article(article)
    except ArticleError as exc:
        return render_template("articles/unreadable.html", message=str(exc)), 500
    except KBError as exc:  # no index published yet: nothing to show
        return render_template("articles/unreadable.html", message=str(exc), no_index=True), 503
    return render_template(
        "articles/show.html",
        page=page,
        article=article,
        related=library.related(article),
        others=[lang for lang in versions if lang != article.lang],
        missing=wanted if wanted in LANGUAGES and wanted != article.lang else None,
        team_label=TEAM_LABELS.get(article.escalate_to, article.escalate_to),
        categories=CATEGORY_LABELS,
        connections=CONNECTION_LABELS,
        **workspace.article_opened(article),
    )
