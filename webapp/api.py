"""JSON API for the pages' scripts and other systems.

POST /api/search and POST /api/gaps (search page), POST /api/cases/<id>/steps (article checklist),
GET /api/cases/<id>/handoff (the escalation hand-off). Bodies are JSON (never a query string: the
query is customer data) and state-changing calls carry the CSRF token in the X-CSRFToken header.
Bad input gets 4xx with {"error": message}; signed-out callers get 401.
"""

from __future__ import annotations

import time

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext
from sqlalchemy.exc import SQLAlchemyError

from kb.caselog.gaps import flag_gap
from kb.content.articles import LANGUAGES
from kb.errors import CaseClosed, InvalidInput, KBError, QueryError
from webapp import handoffs, outage_notices, workspace
from webapp.landing import described
from webapp.queries import error_message, gap_store, parse_params, routing_hint, run_search
from webapp.security import CASE_ROLES, SEARCH_ROLES, roles

bp = Blueprint("api", __name__, url_prefix="/api")


def _json_object() -> dict | None:
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # "[[[[...]]]]" thousands deep: refused like any body that is not an object
        data = None
    return data if isinstance(data, dict) else None


def _bad_body():
    return {"error": gettext('Send a JSON object, for example {"query": "internet light is red"}.')}, 400


@bp.post("/search")
@roles(*SEARCH_ROLES)
def search():
    """Search: in {query, lang?, category?, connection?, only_lang?, k?};
    out {hits, confidence, weak, timing_ms, case_logged, warning?}."""
    started = time.perf_counter()
    data = _json_object()
    if data is None:
        return _bad_body()
    if "connection" not in data:  # a case whose connection type is known filters on it
        data = {**data, "connection": workspace.case_connection()}
    try:
        params = parse_params(data, g.locale)
        result = run_search(params)
    except QueryError as exc:
        return {"error": error_message(exc)}, 400
    except KBError as exc:
        return {"error": gettext("Search is not available right now: %(reason)s", reason=str(exc))}, 503
    hits = described(result, params.query)
    logged = workspace.record_search(params.query, result)
    app_ms = (time.perf_counter() - started) * 1000
    response = jsonify(
        {
            # Whether the search was written to the current case (null: no current case).
            "case_logged": logged,
            **({"warning": workspace.not_logged()} if logged is False else {}),
            "lang": result.lang,
            "confidence": result.confidence,
            "weak": result.weak,
            # On a weak search about a topic another team owns (billing, TV, mobile...): that team.
            "route": routing_hint(params, result),
            "bundle": result.bundle,
            # Known outages at the caller's postcode (the case's, or one typed in the query).
            "outages": outage_notices.as_json(outage_notices.match_for(params.query), result.lang),
            "timing_ms": {"search": result.total_ms, "embedding": result.embed_ms, "server": round(app_ms, 3)},
            "hits": hits,
        }
    )
    # Server-Timing lets the browser's network panel and scripts/bench_http.py see the server's share.
    response.headers["Server-Timing"] = (
        f"search;dur={result.total_ms:.2f}, embed;dur={result.embed_ms:.2f}, app;dur={app_ms:.2f}"
    )
    return response


@bp.post("/gaps")
@roles(*SEARCH_ROLES)
def gaps():
    """Flag a content gap: in {query, lang?}; out 201 {"flagged": true}."""
    data = _json_object()
    if data is None:
        return _bad_body()
    lang = data.get("lang") or None
    if lang is not None and lang not in LANGUAGES:
        return {"error": gettext("The language must be one of %(choices)s.", choices=", ".join(LANGUAGES))}, 400
    try:
        query = data.get("query")
        vector = workspace.query_vector(query) if isinstance(query, str) and query.strip() else None
        flag_gap(gap_store(), query, lang, g.user.id, workspace.current_case_id(), vector)
    except QueryError as exc:
        return {"error": error_message(exc)}, 400
    message = gettext("Thank you: this search is flagged as a content gap for the editors.")
    return {"flagged": True, "message": message}, 201


@bp.post("/cases/<int:case_id>/steps")
@roles(*CASE_ROLES)
def case_steps(case_id: int):
    """Tick or untick one step: in {article_id, lang, revision?, step, done, result?};
    out {"ticked": [...], "results": {...}}. `revision` is the article version the page shows."""
    case = workspace.own_case(case_id)
    data = _json_object()
    if data is None:
        return {
            "error": gettext(
                'Send a JSON object, for example {"article_id": "dsl-no-sync", "lang": "en", "step": 2, "done": true}.'
            )
        }, 400
    try:
        ticked = workspace.set_steps(
            case,
            data.get("article_id"),
            data.get("lang"),
            data.get("revision"),
            step=data.get("step"),
            done=data.get("done"),
            result=data.get("result"),
        )
    except InvalidInput as exc:
        return {"error": workspace.form_error(exc), "field": exc.field}, 400
    except CaseClosed:
        return {"error": gettext("This case is already closed; reopen it first if something must be added.")}, 409
    except SQLAlchemyError:  # disk full, read-only database: the page keeps the tick and says so
        return {
            "error": gettext(
                "Could not save: the database cannot be written right now. Your text is kept "
                "below; try again in a moment."
            )
        }, 503
    return {"ticked": sorted(ticked), "results": {str(n): text for n, text in sorted(ticked.items()) if text}}


@bp.get("/cases/<int:case_id>/handoff")
@roles(*CASE_ROLES)
def case_handoff(case_id: int):
    """The case's hand-off as JSON: customer reference, channel, problem, steps done, articles, notes, times."""
    return jsonify(handoffs.handoff_for(workspace.own_case(case_id)).as_dict())
