"""The search box and its results as the search page and the article page show them.

The search page (webapp.search) shows them in full, every article page beside the article
(webapp.articles): one function builds the variables for both, so neither blueprint imports the
other.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import g, url_for
from flask_babel import gettext

from kb.caselog.cases import escalation_teams
from kb.content.articles import LANGUAGES
from kb.errors import KBError, QueryError
from kb.search.searcher import MAX_QUERY_CHARS
from webapp import library, outage_notices, workspace
from webapp.labels import CATEGORY_LABELS, CONNECTION_LABELS, TEAM_LABELS
from webapp.landing import described
from webapp.queries import error_message, parse_params, routing_hint, run_search

ESCALATION_ARTICLE = "escalate-to-tier2"


def escalate_url(lang: str) -> str | None:
    """Where the "Escalate" action leads: the current case's page, else the escalation procedure."""
    case = workspace.current_case()
    if case is not None:
        return url_for("cases.show", case_id=case.id) + "#close"
    try:
        found = library.versions(ESCALATION_ARTICLE)
    except KBError:  # no index: the page says search is not available
        return None
    return (
        url_for("articles.show", article_id=ESCALATION_ARTICLE, lang=library.pick(found, lang).lang) if found else None
    )


def search_context(form: Mapping | None, record: bool = True) -> tuple[dict, int]:
    """The search panel's variables (search page and article page) and the HTTP status.

    `form` is a submitted search (no-JS form); without one, while a case is open, the panel shows
    the case's newest search again (or its problem), so the agent never retypes; it is not logged
    a second time. The connection filter defaults to the case's connection type.
    """
    case = workspace.current_case()
    values = {"query": "", "lang": g.locale, "category": "", "connection": "", "only_lang": False}
    values["connection"] = workspace.case_connection() or ""
    result, hits, error, status, route = None, [], None, 200, None
    restored = False
    if form is not None:
        values.update({name: form.get(name, "") for name in ("query", "category", "connection")})
        values["lang"] = form.get("lang") or g.locale
        values["only_lang"] = form.get("only_lang") in ("1", "on", "true")
    elif case is not None:
        values["query"] = workspace.case_query(case)[:MAX_QUERY_CHARS]
        restored = bool(values["query"].strip())
    if form is not None or restored:
        try:
            params = parse_params(form if form is not None else values, g.locale)
            result = run_search(params)
        except QueryError as exc:
            error, status = error_message(exc), 400
        except KBError as exc:
            error, status = gettext("Search is not available right now: %(reason)s", reason=str(exc)), 503
        else:
            hits = described(result, params.query)
            route = routing_hint(params, result)
            if record and form is not None:  # a restored search was logged when the agent made it
                workspace.record_search(params.query, result)
    if restored and status == 400:  # a stored query the search refuses now: show the box, not an error
        error, status = None, 200
    lang = values["lang"] if values["lang"] in LANGUAGES else g.locale
    return {
        "values": values,
        "result": result,
        "hits": hits,
        "error": error,
        "categories": CATEGORY_LABELS,
        "connections": CONNECTION_LABELS,
        "languages": LANGUAGES,
        "escalate_url": escalate_url(lang),
        "may_open_case": workspace.may_use_cases(g.user) and case is None,
        "case_warning": workspace.not_logged(),
        "teams": team_choices(),
        "route": route,
        **outage_notices.context(values["query"] if form is not None else None),
        "outage_in_panel": True,
    }, status


def team_choices() -> dict[str, str]:
    return {team: str(TEAM_LABELS.get(team, team)) for team in escalation_teams()}
