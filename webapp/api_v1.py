"""The integration API, version 1: JSON for telephony (screen pop), ticket systems and wallboards.

Authenticate with `Authorization: Bearer <token>` (kb.identity.tokens); a token acts as its user,
with that user's role and the same default-deny rules as the pages. A browser session works too,
but then every change needs the page's CSRF token (a token request needs none). Bodies and query
strings are checked against the request schemas of the published document (webapp.apispec):
an unknown field is refused with its name. Errors are {"error": {"code", "message", "field"?}}.
Customer references travel in bodies only: identifiers in paths are case ids.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, timedelta
from functools import wraps

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from kb.analytics import metrics as m
from kb.caselog import cases as caselog
from kb.content.render import render_article
from kb.errors import CaseClosed, InvalidInput, KBError, NotFound, QueryError
from kb.identity.users import ROLES
from kb.integrations import idempotency
from kb.integrations.webhook import list_deliveries
from kb.outages.register import (
    add_outage,
    get_outage,
    list_outages,
    matching,
    normalise_postcode,
    postcode_in,
    update_outage,
)
from kb.store import engine as db
from kb.store.tables import UserRow
from webapp import apispec, handoffs, library, outage_notices, workspace
from webapp import worklist as editor_worklist
from webapp.landing import described
from webapp.queries import error_message, parse_params, routing_hint, run_search
from webapp.security import CASE_ROLES, EDITOR_ROLES, SAFE_METHODS, SEARCH_ROLES, api_error, public, roles

log = logging.getLogger(__name__)
bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

MAX_BODY = 64 * 1024
ANALYST_ROLES = ("analyst",)
KEY = re.compile(r"[\x21-\x7e]{1,255}\Z")  # printable ASCII, no spaces


@bp.before_request
def _guard():
    """Bodies over MAX_BODY are refused; a session (not a token) needs the CSRF token for changes."""
    request.max_content_length = MAX_BODY  # also for a body sent without a Content-Length
    if request.content_length is not None and request.content_length > MAX_BODY:
        return api_error(413, "too_large", gettext("The body is larger than 64 KiB; send less."))
    if g.get("auth") == "session" and request.method not in SAFE_METHODS and current_app.config["WTF_CSRF_ENABLED"]:
        current_app.extensions["csrf"].protect()
    return None


def _engine():
    return current_app.extensions["kb"].engine


def _refused(exc: InvalidInput):
    code = "unknown_field" if exc.message.startswith(("Unknown field", "Unknown parameter")) else "invalid_field"
    return api_error(400, code, exc.message, field=exc.field)


def _body(schema: str) -> dict:
    """The JSON body checked against the request schema; InvalidInput otherwise."""
    if not request.is_json:
        raise InvalidInput("body", "Send a JSON object with 'Content-Type: application/json'.")
    try:
        data = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, RecursionError):
        raise InvalidInput("body", "The body is not valid JSON; send a JSON object.") from None
    return apispec.check_body(schema, data)


def _closed(case_id: int):
    return api_error(
        409, "case_closed", gettext("Case %(id)s is already closed; reopen it in the app first.", id=case_id)
    )


def _unavailable():
    return api_error(503, "unavailable", gettext("The database cannot be written right now; try again in a moment."))


def idempotent(view):
    """Honour an Idempotency-Key header (kb.integrations.idempotency): a retry gets the first answer."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        if not KEY.match(key):
            return api_error(
                400,
                "invalid_field",
                gettext("The Idempotency-Key must be 1 to 255 printable characters without spaces."),
                field="Idempotency-Key",
            )
        fingerprint = idempotency.fingerprint(request.method, request.path, request.get_data(cache=True))
        try:
            claim = idempotency.claim(_engine(), g.user.id, key, fingerprint)
        except SQLAlchemyError:
            return _unavailable()
        if claim.outcome == "replay":
            response = Response(claim.body, claim.status, mimetype="application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        if claim.outcome == "conflict":
            return api_error(
                422,
                "idempotency_key_reused",
                gettext("This Idempotency-Key was used for another request; use a new key for a new request."),
            )
        if claim.outcome == "busy":
            response = api_error(
                409, "in_progress", gettext("The first request with this Idempotency-Key is still running; retry soon.")
            )
            response.headers["Retry-After"] = "1"
            return response
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except Exception:
            idempotency.release(_engine(), claim.row_id)
            raise
        if response.status_code >= 500 or response.status_code in (409, 429):
            idempotency.release(_engine(), claim.row_id)  # not an answer to keep: the retry runs again
        else:
            idempotency.finish(_engine(), claim.row_id, response.status_code, response.get_data(as_text=True))
        return response

    return wrapper


# -- who am I, the document --------------------------------------------------------------------------


@bp.get("/me")
@roles(*ROLES)
def me():
    token = g.get("token")
    user = g.user
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "auth": g.auth,
        "token": {"id": token.id, "prefix": token.prefix, "name": token.name, "expires_at": _iso(token.expires_at)}
        if token
        else None,
    }


@bp.get("/openapi.json")
@public
def openapi():
    """The OpenAPI 3.1 document of this API (public: there is nothing secret in it)."""
    return jsonify(apispec.document())


@bp.get("/docs")
@public
def docs():
    """The document as a page for people, rendered here (no CDN, no script)."""
    return render_template("api/docs.html", spec=apispec.document())


def _iso(value):
    return value.isoformat() if value else None


# -- search and articles -------------------------------------------------------------------------------


def _search(data: dict, case=None):
    try:
        postcode = normalise_postcode(data["postcode"]) if data.get("postcode") else None
    except InvalidInput as exc:
        return api_error(400, "invalid_field", exc.message, field="postcode")
    data = {k: v for k, v in data.items() if k != "postcode"}
    try:
        params = parse_params(data, g.get("locale") or "nl")
        result = run_search(params)
    except QueryError as exc:
        return api_error(400, "invalid_field", error_message(exc), field="query")
    except KBError as exc:
        return api_error(503, "unavailable", gettext("Search is not available right now: %(reason)s", reason=str(exc)))
    workspace.keep_weak_search(params.query, result)
    if case is not None:
        try:
            caselog.record_search(
                _engine(), case.id, g.user.id, params.query, [h.article_id for h in result.hits[:5]], bool(result.weak)
            )
        except CaseClosed:
            return _closed(case.id)
        except SQLAlchemyError:
            return _unavailable()
    return {
        "lang": result.lang,
        "confidence": result.confidence,
        "weak": result.weak,
        "route": routing_hint(params, result),
        "hits": described(result, params.query),
        "timing_ms": {"search": result.total_ms, "embedding": result.embed_ms},
        "case_id": case.id if case is not None else None,
        "outages": _search_outages(params, case, postcode, result.lang),
    }


def _search_outages(params, case, postcode: str | None, lang: str) -> list[dict]:
    """The active outages at the caller's postcode: the case's, else the one sent, else one in the query."""
    postcode = (case.postcode if case is not None else None) or postcode or postcode_in(params.query)
    if postcode is None:
        return []
    connection = case.connection_type if case is not None else params.connection
    try:
        found = matching(_engine(), postcode, connection)
    except SQLAlchemyError:
        return []
    return outage_notices.as_json(found, lang)


@bp.post("/search")
@roles(*SEARCH_ROLES)
def search():
    try:
        data = _body("SearchRequest")
    except InvalidInput as exc:
        return _refused(exc)
    return _search(data)


ARTICLE_FILTERS = {
    "lang": {"enum": ["nl", "en"]},
    "category": {"type": "string", "maxLength": 40},
    "connection": {"type": "string", "maxLength": 40},
}


def _summary(article, languages) -> dict:
    return {
        "id": article.id,
        "lang": article.lang,
        "title": article.title,
        "category": article.category,
        "connections": article.connections,
        "escalate_to": article.escalate_to,
        "revision": article.revision,
        "languages": sorted(languages),
    }


@bp.get("/articles")
@roles(*SEARCH_ROLES)
def articles():
    try:
        wanted = apispec.check_query(request.args, ARTICLE_FILTERS)
        snap = library.snapshot()
    except InvalidInput as exc:
        return _refused(exc)
    except KBError as exc:
        return api_error(503, "unavailable", str(exc))
    found = []
    for article_id in snap.ids():
        versions = snap.versions(article_id)
        article = library.pick(versions, wanted.get("lang"))
        if wanted.get("category") and article.category != wanted["category"]:
            continue
        if wanted.get("connection") and not {wanted["connection"], "any"} & set(article.connections):
            continue
        found.append(_summary(article, versions))
    found.sort(key=lambda a: a["title"].casefold())
    return {"articles": found}


@bp.get("/articles/<article_id>")
@roles(*SEARCH_ROLES)
def article(article_id: str):
    try:
        wanted = apispec.check_query(request.args, {"lang": ARTICLE_FILTERS["lang"]})
        versions = library.versions(article_id)
    except InvalidInput as exc:
        return _refused(exc)
    except KBError as exc:
        return api_error(503, "unavailable", str(exc))
    if not versions or (wanted.get("lang") and wanted["lang"] not in versions):
        return api_error(404, "not_found", gettext("There is no article %(id)s in that language.", id=article_id[:80]))
    found = library.pick(versions, wanted.get("lang"))
    page = render_article(found)
    return {
        **_summary(found, versions),
        "symptoms": found.symptoms,
        "related": found.related,
        "markdown": found.text or found.body,
        "html": {
            "sections": [{"kind": s.kind, "heading": s.heading, "html": s.html} for s in page.sections],
            "steps": [{"number": s.number, "action": s.action_html, "expected": s.expected_html} for s in page.steps],
        },
        "steps": [{"number": s.number, "action": s.action, "expected": s.expected} for s in found.steps],
    }


# -- cases -----------------------------------------------------------------------------------------------


def case_json(case: caselog.Case) -> dict:
    return {
        "id": case.id,
        "status": case.status,
        "channel": case.channel,
        "customer_ref": case.customer_ref,
        "problem": case.problem,
        "connection_type": case.connection_type,
        "agent": {"id": case.agent_id, "name": case.agent_name},
        "opened_at": case.opened_at.isoformat(),
        "closed_at": _iso(case.closed_at),
        "handle_seconds": case.handle_seconds,
        "escalation_team": case.escalation_team,
        "resolved_by": list(case.resolved_by),
        "reopen_count": case.reopen_count,
        "url": url_for("cases.show", case_id=case.id),
    }


def _agent_for(name: str | None):
    """The agent a case is opened for: the caller, or (admins only) the named agent."""
    if name is None or name == g.user.username:
        return g.user, None
    if g.user.role != "admin":
        return None, api_error(403, "forbidden", gettext("Only an admin may open a case for another agent."))
    with db.session_scope(_engine(), readonly=True) as session:
        row = session.scalar(select(UserRow).where(UserRow.username == name.strip().lower()))
        if row is None or not row.is_active or row.role not in (*CASE_ROLES, "admin"):
            return None, api_error(
                400, "invalid_field", gettext("There is no active agent %(name)s.", name=name[:64]), field="agent"
            )
        return row, None


@bp.get("/cases")
@roles(*CASE_ROLES)
def list_cases():
    try:
        wanted = apispec.check_query(
            request.args,
            {"status": {"enum": list(caselog.STATUSES)}, "limit": {"type": "integer", "minimum": 1, "maximum": 200}},
        )
    except InvalidInput as exc:
        return _refused(exc)
    found = caselog.list_cases(_engine(), g.user.id, wanted.get("status"), wanted.get("limit", 50))
    return {"cases": [case_json(c) for c in found]}


@bp.post("/cases")
@roles(*CASE_ROLES)
@idempotent
def open_case():
    """Open a case, by default as the agent's current case in their browser (a screen pop)."""
    try:
        data = _body("OpenCaseRequest")
    except InvalidInput as exc:
        return _refused(exc)
    agent, refused = _agent_for(data.get("agent"))
    if refused is not None:
        return refused
    try:
        case = caselog.open_case(
            _engine(),
            agent.id,
            data["channel"],
            data["customer_ref"],
            data.get("problem", ""),
            data.get("connection_type", "unknown"),
            screen_pop=data.get("screen_pop", True),
            postcode=data.get("postcode") or None,
        )
    except InvalidInput as exc:
        return api_error(400, "invalid_field", exc.message, field=exc.field)
    except SQLAlchemyError:
        return _unavailable()
    response = jsonify(case_json(case))
    response.status_code = 201
    response.headers["Location"] = url_for("api_v1.get_case", case_id=case.id)
    return response


@bp.get("/cases/<int:case_id>")
@roles(*CASE_ROLES)
def get_case(case_id: int):
    case = workspace.own_case(case_id)
    events = caselog.timeline(_engine(), case.id)
    timeline = [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "kind": e.kind,
            "actor": e.actor_name,
            "article_id": e.article_id,
            "lang": e.lang,
            "step": e.step_number,
            "text": e.text,
            "revision": e.revision,
        }
        for e in events
    ]
    return {**case_json(case), "timeline": timeline}


def _change(case_id: int, action, *args, status: int = 200, **kwargs):
    """Run a change on the caller's case; the case as JSON, or the error."""
    case = workspace.own_case(case_id)
    try:
        action(_engine(), case.id, g.user.id, *args, **kwargs)
    except InvalidInput as exc:
        return api_error(400, "invalid_field", exc.message, field=exc.field)
    except CaseClosed:
        return _closed(case.id)
    except NotFound as exc:
        return api_error(404, "not_found", str(exc))
    except SQLAlchemyError:
        return _unavailable()
    response = jsonify(case_json(caselog.get_case(_engine(), case.id)))
    response.status_code = status
    return response


@bp.post("/cases/<int:case_id>/notes")
@roles(*CASE_ROLES)
@idempotent
def add_note(case_id: int):
    workspace.own_case(case_id)
    try:
        data = _body("NoteRequest")
    except InvalidInput as exc:
        return _refused(exc)
    return _change(case_id, caselog.add_note, data["text"], status=201)


@bp.post("/cases/<int:case_id>/searches")
@roles(*CASE_ROLES)
def case_search(case_id: int):
    case = workspace.own_case(case_id)
    try:
        data = _body("CaseSearchRequest")
    except InvalidInput as exc:
        return _refused(exc)
    if case.status != "open":
        return _closed(case.id)
    return _search(data, case)


@bp.post("/cases/<int:case_id>/steps")
@roles(*CASE_ROLES)
@idempotent
def steps(case_id: int):
    case = workspace.own_case(case_id)
    try:
        data = _body("StepRequest")
    except InvalidInput as exc:
        return _refused(exc)
    try:
        ticked = workspace.set_steps(
            case,
            data["article_id"],
            data["lang"],
            data.get("revision"),
            step=data["step"],
            done=data["done"],
            result=data.get("result"),
        )
    except InvalidInput as exc:
        return api_error(400, "invalid_field", workspace.form_error(exc), field=exc.field)
    except CaseClosed:
        return _closed(case.id)
    except SQLAlchemyError:
        return _unavailable()
    return {"ticked": sorted(ticked), "results": {str(n): text for n, text in sorted(ticked.items()) if text}}


@bp.post("/cases/<int:case_id>/resolve")
@roles(*CASE_ROLES)
@idempotent
def resolve(case_id: int):
    workspace.own_case(case_id)
    try:
        data = _body("ResolveRequest")
    except InvalidInput as exc:
        return _refused(exc)
    current = {}
    for article_id in data["article_ids"]:
        versions = library.versions(article_id)
        if not versions:
            return api_error(
                400, "invalid_field", gettext("There is no article %(id)s.", id=article_id[:80]), field="article_ids"
            )
        current[article_id] = library.pick(versions, g.get("locale"))
    return _change(case_id, caselog.resolve_case, data["article_ids"], data.get("note", ""), current)


@bp.post("/cases/<int:case_id>/escalate")
@roles(*CASE_ROLES)
@idempotent
def escalate(case_id: int):
    workspace.own_case(case_id)
    try:
        data = _body("EscalateRequest")
    except InvalidInput as exc:
        return _refused(exc)
    url = current_app.config.get("KB_WEBHOOK_URL")
    outbox = None
    if url:
        try:
            outbox = handoffs.outbox(url)
        except KBError as exc:
            log.error("hand-offs are not sent to the webhook: %s", exc)
    outages = outage_notices.for_escalation(workspace.own_case(case_id))
    response = _change(case_id, caselog.escalate_case, data["team"], data["reason"], outbox=outbox, outages=outages)
    if outbox is not None and response.status_code == 200:
        current_app.extensions["kb_notifier"].wake()
    return response


@bp.post("/cases/<int:case_id>/unresolved")
@roles(*CASE_ROLES)
@idempotent
def unresolved(case_id: int):
    workspace.own_case(case_id)
    try:
        data = _body("UnresolvedRequest")
    except InvalidInput as exc:
        return _refused(exc)
    return _change(case_id, caselog.close_unresolved, data["reason"])


@bp.get("/cases/<int:case_id>/handoff")
@roles(*CASE_ROLES)
def handoff(case_id: int):
    return jsonify(handoffs.handoff_for(workspace.own_case(case_id)).as_dict())


@bp.get("/cases/<int:case_id>/deliveries")
@roles(*CASE_ROLES)
def deliveries(case_id: int):
    case = workspace.own_case(case_id)
    found = sorted(list_deliveries(_engine(), case.id), key=lambda d: d.id)
    return {
        "deliveries": [
            {
                "id": d.id,
                "status": d.status,
                "attempts": d.attempts,
                "created_at": d.created_at.isoformat(),
                "next_attempt_at": _iso(d.next_attempt_at) if d.status == "pending" else None,
                "delivered_at": _iso(d.delivered_at),
                "last_error": d.last_error,
            }
            for d in found
        ]
    }


@bp.post("/cases/<int:case_id>/known-outage")
@roles(*CASE_ROLES)
@idempotent
def known_outage(case_id: int):
    workspace.own_case(case_id)
    try:
        data = _body("KnownOutageRequest")
    except InvalidInput as exc:
        return _refused(exc)
    return _change(
        case_id, caselog.close_known_outage, data["outage_id"], data.get("callback", False), data.get("note", "")
    )


# -- known outages (the network operations centre's monitoring feeds them) -------------------------------


OUTAGE_READERS = (*SEARCH_ROLES, "noc")
NOC_ROLES = ("noc",)


@bp.get("/outages")
@roles(*OUTAGE_READERS)
def outages():
    try:
        wanted = apispec.check_query(request.args, {"active": {"enum": ["true", "false"]}})
    except InvalidInput as exc:
        return _refused(exc)
    found = list_outages(_engine(), active_only=wanted.get("active") == "true")
    return {"outages": [o.as_dict() for o in found]}


def _outage_or_404(outage_id: int):
    try:
        return get_outage(_engine(), outage_id)
    except (NotFound, InvalidInput):
        return None


@bp.post("/outages")
@roles(*NOC_ROLES)
@idempotent
def add_outage_route():
    try:
        data = _body("OutageRequest")
        outage = add_outage(_engine(), actor_id=g.user.id, **data)
    except InvalidInput as exc:
        return (
            _refused(exc)
            if exc.message.startswith("Unknown") or exc.field == "body"
            else api_error(400, "invalid_field", exc.message, field=exc.field)
        )
    response = jsonify(outage.as_dict())
    response.status_code = 201
    response.headers["Location"] = url_for("api_v1.outage", outage_id=outage.id)
    return response


@bp.get("/outages/<int:outage_id>")
@roles(*OUTAGE_READERS)
def outage(outage_id: int):
    found = _outage_or_404(outage_id)
    if found is None:
        return api_error(404, "not_found", gettext("There is no outage %(id)s.", id=outage_id))
    return found.as_dict()


@bp.patch("/outages/<int:outage_id>")
@roles(*NOC_ROLES)
def update_outage_route(outage_id: int):
    if _outage_or_404(outage_id) is None:
        return api_error(404, "not_found", gettext("There is no outage %(id)s.", id=outage_id))
    try:
        data = _body("OutageUpdate")
        updated = update_outage(_engine(), outage_id, g.user.id, **data)
    except InvalidInput as exc:
        return (
            _refused(exc)
            if exc.message.startswith("Unknown") or exc.field == "body"
            else api_error(400, "invalid_field", exc.message, field=exc.field)
        )
    return updated.as_dict()


# -- figures for wallboards --------------------------------------------------------------------------------


PERIOD = {
    "since": {"type": "string", "maxLength": 10},
    "until": {"type": "string", "maxLength": 10},
    "channel": {"enum": ["phone", "chat", "email"]},
    "category": {"type": "string", "maxLength": 40},
}


def _filters() -> m.Filters:
    wanted = apispec.check_query(request.args, PERIOD)
    today = db.utcnow().date()
    days = {}
    for name, default in (("since", today - timedelta(days=29)), ("until", today)):
        try:
            days[name] = date.fromisoformat(wanted[name]) if name in wanted else default
        except ValueError:
            raise InvalidInput(name, f"The parameter {name!r} must be a date like 2026-12-01.") from None
    return m.Filters(days["since"], days["until"], category=wanted.get("category"), channel=wanted.get("channel"))


def _categories() -> dict[str, str]:
    try:
        return {a.id: a.category for a in library.published_for_lint()}
    except KBError:
        return {}


def _period(f: m.Filters) -> dict:
    return {"since": f.since.isoformat(), "until": f.until.isoformat(), "category": f.category, "channel": f.channel}


@bp.get("/analytics/summary")
@roles(*ANALYST_ROLES)
def analytics_summary():
    try:
        f = _filters()
    except InvalidInput as exc:
        return _refused(exc)
    return {"period": _period(f), "figures": m.headline(_engine(), f, _categories()).as_dict()}


@bp.get("/analytics/articles")
@roles(*ANALYST_ROLES)
def analytics_articles():
    try:
        f = _filters()
    except InvalidInput as exc:
        return _refused(exc)
    rows = m.per_article(_engine(), f, _categories())
    return {
        "period": _period(f),
        "articles": [
            {
                "article_id": a.article_id,
                "used": a.used,
                "opened": a.opened,
                "resolved_with": a.resolved_with,
                "escalated": a.escalated,
                "unresolved": a.unresolved,
                "repeats": a.repeats,
                "median_handle_seconds": a.median_handle_seconds,
                "flags": a.flags,
                "resolution_rate": a.resolution.value,
                "escalation_rate": a.escalation.value,
                "repeat_rate": a.repeat.value,
                "low_volume": a.resolution.low_volume,
            }
            for a in rows
        ],
    }


@bp.get("/editor/worklist")
@roles(*EDITOR_ROLES)
def worklist_counts():
    return editor_worklist.counts()
