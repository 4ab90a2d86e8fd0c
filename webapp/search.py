"""The agent's start page: one search box, results while typing (static/search.js), and a no-JS form.

The query is customer data, so it never goes into a URL: the page form and the API both use POST.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, flash, g, render_template, request
from flask_babel import gettext

from kb.caselog.gaps import flag_gap
from kb.content.articles import LANGUAGES
from kb.errors import QueryError
from webapp import workspace
from webapp.labels import STATUS_LABELS
from webapp.queries import error_message, gap_store
from webapp.search_panel import search_context
from webapp.security import SEARCH_ROLES, roles

bp = Blueprint("search", __name__)


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
    context, status = search_context(form)
    closed = workspace.just_closed()
    return render_template(
        "search/index.html",
        just_closed=closed,
        status_labels=STATUS_LABELS,
        **context,
        **workspace.case_panel(),
    ), status
