"""A search request from the page or the API: checked parameters, the search itself, results as shown.

The query is customer data, so it never goes into a URL: the page form and the API both use POST.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app, g, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy.exc import SQLAlchemyError

from kb.content.articles import CATEGORIES, CONNECTIONS, LANGUAGES
from kb.content.render import anchor
from kb.errors import KBError, QueryError
from kb.search.confidence import relevance
from kb.search.searcher import Hit, SearchResult, clean_query
from kb.search.snippets import snippet
from webapp.labels import CATEGORY_LABELS, TEAM_LABELS

DEFAULT_K, MAX_K = 8, 20
RELEVANCE_LABELS = {
    "strong": lazy_gettext("Good match"),
    "partial": lazy_gettext("Partial match"),
    "weak": lazy_gettext("Weak match"),
}


@dataclass(frozen=True)
class SearchParams:
    """A checked search request, from the page form or the API's JSON."""

    query: str
    lang: str
    category: str | None = None
    connection: str | None = None
    only_lang: bool = False
    k: int = DEFAULT_K
    # The query as pasted, with its line breaks: the search tells a pasted e-mail's quoted lines and
    # header blocks apart by them (kb.search.message). `query` is the same text on one line, as cases
    # and logs keep it.
    text: str | None = None


def parse_params(data: Mapping, default_lang: str) -> SearchParams:
    """Check a search request; raises QueryError with a message for the agent."""
    if data.get("query") is None:
        raise QueryError(gettext("The query is missing; type a few words about the customer's problem."))
    text = data.get("query")
    query = clean_query(text)
    lang = _choice(data, "lang", LANGUAGES, gettext("language")) or default_lang
    category = _choice(data, "category", CATEGORIES, gettext("category"))
    connection = _choice(data, "connection", CONNECTIONS, gettext("connection type"))
    only_lang = data.get("only_lang", False)
    if isinstance(only_lang, str):  # a form checkbox sends "1" when ticked, nothing otherwise
        only_lang = {"1": True, "on": True, "true": True, "": False, "0": False, "false": False}.get(only_lang)
    if not isinstance(only_lang, bool):
        raise QueryError(gettext("'only_lang' must be true or false."))
    k = data.get("k", DEFAULT_K)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(gettext("'k' must be a whole number from 1 to %(max)s.", max=MAX_K))
    return SearchParams(query, lang, category, connection, only_lang, k, text if isinstance(text, str) else None)


def _choice(data: Mapping, field: str, choices: tuple[str, ...], label: str) -> str | None:
    value = data.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in choices:
        raise QueryError(
            gettext(
                "The %(label)s '%(value)s' is unknown; use one of %(choices)s.",
                label=label,
                value=str(value)[:20],
                choices=", ".join(choices),
            )
        )
    return value


def run_search(params: SearchParams) -> SearchResult:
    """Search the published index. Raises QueryError (bad query) or another KBError (no index)."""
    return current_app.extensions["kb"].searcher.search(
        params.text or params.query,
        k=params.k,
        lang=params.lang,
        only_lang=params.only_lang,
        category=params.category,
        connection=params.connection,
    )


def describe_hit(hit: Hit, query: str) -> dict:
    """One result as the page and the API show it; `snippet.html` is escaped, with matches in <mark>.

    `score` ranks the list (the top hit always has about 1.0); `confidence` (0..1) is how likely
    this article answers the query, never above the search's, and `relevance` its level in words
    ("strong", "partial", "weak", with `relevance_label` to show), so that a weak search never
    shows a result as a good match.
    """
    chunk = hit.chunk
    if chunk.kind == "step":
        label = gettext("Step %(number)s", number=chunk.step)
    elif chunk.kind == "summary":
        label = gettext("Symptoms")
    else:
        label = chunk.heading
    fragment = "" if chunk.kind == "summary" else "#" + anchor(chunk.kind, chunk.heading, chunk.step)
    cut = snippet(chunk.text, query)
    return {
        "id": hit.article_id,
        "lang": hit.lang,
        "title": hit.title,
        "category": hit.category,
        "category_label": str(CATEGORY_LABELS.get(hit.category, hit.category)),
        "connections": list(hit.connections),
        "score": hit.score,
        "confidence": hit.confidence,
        "relevance": relevance(hit.confidence),
        "relevance_label": str(RELEVANCE_LABELS[relevance(hit.confidence)]),
        "url": url_for("articles.show", article_id=hit.article_id, lang=hit.lang) + fragment,
        "match": {"kind": chunk.kind, "step": chunk.step, "heading": chunk.heading, "label": label},
        "snippet": {"text": cut.text, "parts": [[text, marked] for text, marked in cut.parts], "html": cut.html},
    }


def routing_hint(params: SearchParams, result: SearchResult) -> dict | None:
    """The team that takes a topic the knowledge base does not cover, for a weak search, or None.

    {"team": id, "team_label": shown name, "topic": the topic in the interface language, "matched":
    the keyword or example query that matched}. Only a team the case can be escalated to is
    offered. Never fails the search: a routing table that cannot be read gives no hint.
    """
    from kb.caselog.cases import escalation_teams
    from kb.editorial.routing import route

    if not result.weak:
        return None
    try:
        found = route(
            current_app.extensions["kb"].engine,
            params.query,
            result.query_vector,
            current_app.extensions.get("kb_routing_examples"),
        )
    except (SQLAlchemyError, KBError):  # a courtesy: log it and show the weak result without one
        current_app.logger.exception("routing hint failed")
        return None
    if found is None or found.team not in escalation_teams():
        return None
    return {
        "team": found.team,
        "team_label": str(TEAM_LABELS.get(found.team, found.team)),
        "topic": found.topic(g.get("locale") or params.lang),
        "matched": found.matched,
    }


def error_message(exc: KBError) -> str:
    text = str(exc)
    return text[:1].upper() + text[1:]


def gap_store():
    """Where flagged content gaps go: the app's own store if one is set, else the database's content_gaps table."""
    from kb.caselog.gaps import GapTable

    return current_app.extensions.get("kb_gaps") or GapTable(current_app.extensions["kb"].engine)
