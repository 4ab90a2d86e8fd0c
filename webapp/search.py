"""The agent's start page: one search box, results while typing (static/search.js), and a no-JS form.

The query is customer data, so it never goes into a URL: the page form and the API both use POST.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from flask import Blueprint, current_app, flash, g, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from kb.content.articles import CATEGORIES, CONNECTIONS, LANGUAGES
from kb.errors import KBError, QueryError
from kb.caselog.gaps import flag_gap
from kb.content.render import anchor
from kb.search.snippets import snippet
from kb.search.searcher import Hit, SearchResult, clean_query
from webapp.security import roles

bp = Blueprint("search", __name__)

SEARCH_ROLES = ("agent", "editor", "analyst")
DEFAULT_K, MAX_K = 8, 20
ESCALATION_ARTICLE = "escalate-to-tier2"
CATEGORY_LABELS = {
    "connectivity": lazy_gettext("Connectivity"), "wifi": lazy_gettext("Wi-Fi"), "router": lazy_gettext("Router"),
    "account": lazy_gettext("Account"), "email": lazy_gettext("E-mail"), "telephony": lazy_gettext("Telephony"),
    "service": lazy_gettext("Service"),
}
CONNECTION_LABELS = {"fibre": lazy_gettext("Fibre"), "dsl": lazy_gettext("DSL"), "cable": lazy_gettext("Cable")}


@dataclass(frozen=True)
class SearchParams:
    """A checked search request, from the page form or the API's JSON."""

    query: str
    lang: str
    category: str | None = None
    connection: str | None = None
    only_lang: bool = False
    k: int = DEFAULT_K


def parse_params(data: Mapping, default_lang: str) -> SearchParams:
    """Check a search request; raises QueryError with a message for the agent."""
    if data.get("query") is None:
        raise QueryError(gettext("The query is missing; type a few words about the customer's problem."))
    query = clean_query(data.get("query"))
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
    return SearchParams(query, lang, category, connection, only_lang, k)


def _choice(data: Mapping, field: str, choices: tuple[str, ...], label: str) -> str | None:
    value = data.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in choices:
        raise QueryError(gettext("The %(label)s '%(value)s' is unknown; use one of %(choices)s.",
                                 label=label, value=str(value)[:20], choices=", ".join(choices)))
    return value


def run_search(params: SearchParams) -> SearchResult:
    """Search the published index. Raises QueryError (bad query) or another KBError (no index)."""
    return current_app.extensions["kb"].searcher.search(
        params.query, k=params.k, lang=params.lang, only_lang=params.only_lang,
        category=params.category, connection=params.connection)


def describe_hit(hit: Hit, query: str) -> dict:
    """One result as the page and the API show it; `snippet.html` is escaped, with matches in <mark>."""
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
        "id": hit.article_id, "lang": hit.lang, "title": hit.title, "category": hit.category,
        "category_label": str(CATEGORY_LABELS.get(hit.category, hit.category)),
        "connections": list(hit.connections), "score": hit.score,
        "url": url_for("articles.show", article_id=hit.article_id, lang=hit.lang) + fragment,
        "match": {"kind": chunk.kind, "step": chunk.step, "heading": chunk.heading, "label": label},
        "snippet": {"text": cut.text, "parts": [[text, marked] for text, marked in cut.parts], "html": cut.html},
    }


def error_message(exc: KBError) -> str:
    text = str(exc)
    return text[:1].upper() + text[1:]


def gap_store():
    """Where flagged content gaps go: the app's own store if one is set, else the database's content_gaps table."""
    from kb.caselog.gaps import GapTable

    return current_app.extensions.get("kb_gaps") or GapTable(current_app.extensions["kb"].engine)


def current_case_id() -> int | None:
    """The agent's current case, to link a flagged content gap to the call it came from."""
    from webapp.cases import current_case

    case = current_case()
    return case.id if case else None


def record_search(query: str, hits) -> None:
    """Log the search on the agent's current case, if there is one."""
    from webapp.cases import record_search as on_case

    on_case(query, hits)


def escalate_url(lang: str) -> str | None:
    """Where the "Escalate" action leads: the current case's page, else the escalation procedure."""
    from webapp.cases import current_case

    case = current_case()
    if case is not None:
        return url_for("cases.show", case_id=case.id) + "#close"
    root = current_app.extensions["kb"].articles_root
    versions = [lang, *(other for other in LANGUAGES if other != lang)]
    found = next((v for v in versions if (Path(root) / v / f"{ESCALATION_ARTICLE}.md").is_file()), None)
    return url_for("articles.show", article_id=ESCALATION_ARTICLE, lang=found) if found else None


@bp.route("/", methods=("GET", "POST"))
@roles(*SEARCH_ROLES)
def home():
    return _page(request.form if request.method == "POST" else None)


@bp.post("/gaps")
@roles(*SEARCH_ROLES)
def flag():
    """No-JS fallback of POST /api/gaps: flag the search, then show the same results again."""
    lang = request.form.get("lang") if request.form.get("lang") in LANGUAGES else None
    try:
        flag_gap(gap_store(), request.form.get("query"), lang, g.user.id, current_case_id())
    except QueryError as exc:
        flash(error_message(exc), "error")
    else:
        flash(gettext("Thank you: this search is flagged as a content gap for the editors."), "info")
    return _page(request.form)


def _page(form: Mapping | None):
    from webapp.cases import current_case, may_use_cases

    values = {"query": "", "lang": g.locale, "category": "", "connection": "", "only_lang": False}
    result, hits, error, status = None, [], None, 200
    if form is not None:
        values.update({name: form.get(name, "") for name in ("query", "category", "connection")})
        values["lang"] = form.get("lang") or g.locale
        values["only_lang"] = form.get("only_lang") in ("1", "on", "true")
        try:
            params = parse_params(form, g.locale)
            result = run_search(params)
        except QueryError as exc:
            error, status = error_message(exc), 400
        except KBError as exc:
            error, status = gettext("Search is not available right now: %(reason)s", reason=str(exc)), 503
        else:
            hits = [describe_hit(hit, params.query) for hit in result.hits]
            record_search(params.query, result.hits)
    lang = values["lang"] if values["lang"] in LANGUAGES else g.locale
    return render_template("search/index.html", values=values, result=result, hits=hits, error=error,
                           categories=CATEGORY_LABELS, connections=CONNECTION_LABELS,
                           languages=LANGUAGES, escalate_url=escalate_url(lang),
                           may_open_case=may_use_cases(g.user) and current_case() is None), status
