"""The agent's start page: one search box, results while typing (static/search.js), and a no-JS form.

The query is customer data, so it never goes into a URL: the page form and the API both use POST.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, flash, g, render_template, request, url_for
from flask_babel import gettext

from kb.caselog.gaps import flag_gap
from kb.content.articles import LANGUAGES
from kb.errors import KBError, QueryError
from webapp import library, workspace
from webapp.labels import CATEGORY_LABELS, CONNECTION_LABELS
from webapp.queries import describe_hit, error_message, gap_store, parse_params, run_search
from webapp.security import SEARCH_ROLES, roles

bp = Blueprint("search", __name__)

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
        query = request.form.get("query")
        vector = workspace.query_vector(query) if query and query.strip() else None
        flag_gap(gap_store(), query, lang, g.user.id, workspace.current_case_id(), vector)
    except QueryError as exc:
        flash(error_message(exc), "error")
    else:
        flash(gettext("Thank you: this search is flagged as a content gap for the editors."), "info")
    return _page(request.form)


def _page(form: Mapping | None):
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
            workspace.record_search(params.query, result)
    lang = values["lang"] if values["lang"] in LANGUAGES else g.locale
    return render_template(
        "search/index.html",
        values=values,
        result=result,
        hits=hits,
        error=error,
        categories=CATEGORY_LABELS,
        connections=CONNECTION_LABELS,
        languages=LANGUAGES,
        escalate_url=escalate_url(lang),
        may_open_case=workspace.may_use_cases(g.user) and workspace.current_case() is None,
        case_warning=workspace.not_logged(),
    ), status
