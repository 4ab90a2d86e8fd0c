"""The articles the signed-in user may read: published ones from the search bundle's snapshot, drafts
from the editors' store.

Agents see exactly the texts search was built from (kb.content.revisions.Snapshot), so the page,
the matched step and the checklist agree. Editors and admins also see drafts and texts in review
(the newest saved revision in the database) of articles that have no published version.
"""

from __future__ import annotations

import re

from flask import current_app, g

from kb.content.articles import LANGUAGES, Article, parse_article
from kb.errors import ArticleError, KBError

ARTICLE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,199}\Z")
DRAFT_READERS = ("editor", "admin")


def snapshot():
    """The published snapshot; raises a KBError (IndexMissing, IndexInvalid) when there is none."""
    return current_app.extensions["kb"].snapshot()


def _drafts(article_id: str) -> dict[str, Article]:
    from kb.editorial.documents import docs

    found = {}
    for doc in docs(current_app.extensions["kb"].engine, article_id):
        if doc.status in ("draft", "in_review"):
            try:
                found[doc.lang] = parse_article(doc.head.text, doc.path)
            except ArticleError:
                continue  # the editor sees the lint messages in the editor
    return found


def published_for_lint() -> list[Article]:
    """Everything published, for the checks across articles (both languages, known related ids)."""
    try:
        snap = snapshot()
    except KBError:
        from kb.editorial.documents import published_articles

        return published_articles(current_app.extensions["kb"].engine)
    return [article for article_id in snap.ids() for article in snap.versions(article_id).values()]


def versions(article_id: str) -> dict[str, Article]:
    """The language versions of an article that the signed-in user may read, by language."""
    if not ARTICLE_ID.match(article_id):
        return {}
    found = dict(snapshot().versions(article_id))
    user = g.get("user")
    if user is not None and user.role in DRAFT_READERS:
        for lang, draft in _drafts(article_id).items():
            found.setdefault(lang, draft)
    return found


def published(article_id: str, lang: str) -> Article | None:
    """The article in this language if it exists and the signed-in user may read it, else None."""
    return versions(article_id).get(lang) if isinstance(article_id, str) else None


def pick(found: dict[str, Article], wanted: str | None) -> Article:
    """The version in `wanted`, else in the user's language, else any."""
    for lang in (wanted, g.get("locale"), *LANGUAGES):
        if lang in found:
            return found[lang]
    raise LookupError("no versions")


def catalogue(lang: str) -> list[Article]:
    """Every published article, in `lang` where it exists, else in the other language; sorted by title."""
    snap = snapshot()
    return sorted(
        (pick(snap.versions(article_id), lang) for article_id in snap.ids()), key=lambda a: a.title.casefold()
    )


def related(article: Article) -> list[Article]:
    """The related articles that exist and can be read, in the article's language where possible."""
    found = []
    for related_id in article.related:
        others = versions(related_id)
        if others:
            found.append(pick(others, article.lang))
    return found
