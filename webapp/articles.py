"""One article as the agent works through it: escalation first, steps as a checklist, copyable explanation.

With a case open (webapp.cases), opening an article is logged on the case and the steps become a
checklist wired to it: `webapp.cases.article_opened` logs the visit and returns the template's
case variables (`case`, `step_form_action`, `step_api`, `ticked_steps`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, current_app, g, render_template, request
from flask_babel import lazy_gettext

from kb.content.articles import LANGUAGES, Article, parse_article, read_text
from kb.errors import ArticleError
from kb.content.render import render_article
from webapp.search import CATEGORY_LABELS, CONNECTION_LABELS, SEARCH_ROLES
from webapp.security import roles

bp = Blueprint("articles", __name__, url_prefix="/articles")

ARTICLE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,199}\Z")
DRAFT_READERS = ("editor", "admin")
TEAM_LABELS = {
    "tier2": lazy_gettext("Tier 2 (second line)"), "network-operations": lazy_gettext("Network operations"),
    "field-service": lazy_gettext("Field service"), "billing": lazy_gettext("Billing"),
    "security": lazy_gettext("Security"), "team-lead": lazy_gettext("Team lead"),
    "none": lazy_gettext("No escalation needed"),
}


@lru_cache(maxsize=1024)
def _parse(path: str, mtime_ns: int, size: int) -> Article:
    # Keyed on the file's modification time and size: an edited article is read again.
    return parse_article(read_text(Path(path)), path)


def _versions(article_id: str) -> dict[str, Article]:
    """The language versions of an article that the signed-in user may read, by language."""
    if not ARTICLE_ID.match(article_id):
        return {}
    root = Path(current_app.extensions["kb"].articles_root)
    found = {}
    for lang in LANGUAGES:
        path = root / lang / f"{article_id}.md"
        try:
            stat = path.stat()
        except OSError:
            continue
        article = _parse(str(path), stat.st_mtime_ns, stat.st_size)
        if article.status == "published" or (article.status == "draft" and g.user.role in DRAFT_READERS):
            found[lang] = article
    return found


def published(article_id: str, lang: str) -> Article | None:
    """The article in this language if it exists and the signed-in user may read it, else None."""
    try:
        return _versions(article_id).get(lang)
    except ArticleError:
        return None


def catalogue(lang: str) -> list[Article]:
    """Every readable article, in `lang` where it exists, else in the other language; sorted by title."""
    root = Path(current_app.extensions["kb"].articles_root)
    ids = sorted({path.stem for path in root.glob("*/*.md") if path.parent.name in LANGUAGES})
    found = []
    for article_id in ids:
        try:
            versions = _versions(article_id)
        except ArticleError:
            continue  # `kb lint` reports it; the rest of the list still works
        if versions:
            found.append(_pick(versions, lang))
    return sorted(found, key=lambda a: a.title.casefold())


def step_text(article_id: str, lang: str, number: int) -> tuple[str, str] | None:
    """(action, expected) of a step, as the hand-off shows it; None when the article has no such step."""
    article = published(article_id, lang)
    if article is None:
        return None
    step = next((s for s in article.steps if s.number == number), None)
    return (step.action, step.expected) if step else None


def _pick(versions: dict[str, Article], wanted: str | None) -> Article:
    for lang in (wanted, g.locale, *LANGUAGES):
        if lang in versions:
            return versions[lang]
    raise LookupError("no versions")


def _related(article: Article) -> list[Article]:
    """The related articles that exist and can be read, in the article's language where possible."""
    found = []
    for related_id in article.related:
        try:
            versions = _versions(related_id)
        except ArticleError:
            continue  # a broken neighbour must not take this page down; `kb lint` reports it
        if versions:
            found.append(_pick(versions, article.lang))
    return found


@bp.get("/<article_id>")
@roles(*SEARCH_ROLES)
def show(article_id: str):
    wanted = request.args.get("lang")
    try:
        versions = _versions(article_id)
        if not versions:
            abort(404)
        article = _pick(versions, wanted)
        page = render_article(article)
    except ArticleError as exc:
        return render_template("articles/unreadable.html", message=str(exc)), 500
    from webapp.cases import article_opened

    return render_template(
        "articles/show.html", page=page, article=article, related=_related(article),
        others=[lang for lang in versions if lang != article.lang],
        missing=wanted if wanted in LANGUAGES and wanted != article.lang else None,
        team_label=TEAM_LABELS.get(article.escalate_to, article.escalate_to),
        categories=CATEGORY_LABELS, connections=CONNECTION_LABELS, **article_opened(article))
