"""The OpenAPI 3.1 document of the integration API (/api/v1/), and the request checks built from it.

The request schemas here are what `webapp.api_v1` checks every body and query string against
(`check_body`, `check_query`), so the published document and the code read the same definitions;
the responses are held to the document by schemathesis in tests/integration/test_api_schemathesis.py.
Nothing in the document is secret: it is served without sign-in.
"""

from __future__ import annotations

import copy
import re

from kb.caselog.cases import CHANNELS, CONNECTION_TYPES, STATUSES, escalation_teams
from kb.content.articles import CATEGORIES, CONNECTIONS, LANGUAGES
from kb.errors import InvalidInput
from kb.store.tables import MAX_LENGTH, OUTAGE_SERVICES, OUTAGE_STATUSES

VERSION = "1.0.0"
TEXT = r"\S"  # at least one character that is not white space
ARTICLE_ID = r"^[a-z0-9][a-z0-9-]{0,199}$"


def _text(limit: str | int, description: str) -> dict:
    maximum = MAX_LENGTH[limit] if isinstance(limit, str) else limit
    return {"type": "string", "minLength": 1, "maxLength": maximum, "pattern": TEXT, "description": description}


def _nullable(schema: dict) -> dict:
    schema = dict(schema)
    schema["type"] = [schema["type"], "null"]
    return schema


STRING, INTEGER, NUMBER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}


def _object(properties: dict, required: tuple = (), closed: bool = True, description: str = "") -> dict:
    schema = {"type": "object", "properties": properties, "required": list(required)}
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


OUTAGE_FIELDS = {
    "areas": {
        "type": "array",
        "items": {"type": "string", "maxLength": 64, "pattern": TEXT},
        "minItems": 1,
        "maxItems": 2000,
        "description": "Four-digit postcode areas (3011), postcodes (3011AB) or network node names.",
    },
    "services": {"type": "array", "items": {"enum": list(OUTAGE_SERVICES)}, "minItems": 1, "maxItems": 4},
    "connections": {
        "type": "array",
        "items": {"enum": ["fibre", "dsl", "cable"]},
        "maxItems": 3,
        "description": "Empty: every connection type.",
    },
    "planned": {"type": "boolean"},
    "status": {"enum": list(OUTAGE_STATUSES)},
    "starts_at": {"type": "string", "format": "date-time", "maxLength": 40},
    "expected_end": {"type": ["string", "null"], "format": "date-time", "maxLength": 40},
    "message_nl": _text("outage_message", "What the agent reads out, in Dutch."),
    "message_en": _text("outage_message", "What the agent reads out, in English."),
    "notes": {"type": "string", "maxLength": MAX_LENGTH["outage_notes"]},
}


def request_schemas() -> dict:
    """The request bodies, by component name (closed: an unknown field is refused)."""
    return {
        "SearchRequest": _object(
            {
                "query": _text("query", "The customer's problem in their words or the agent's; a pasted message."),
                "lang": {"enum": list(LANGUAGES), "description": "The query's language (default: the user's)."},
                "category": {"enum": list(CATEGORIES)},
                "connection": {"enum": list(CONNECTIONS)},
                "only_lang": {"type": "boolean", "description": "Only articles in `lang`."},
                "k": {"type": "integer", "minimum": 1, "maximum": 20, "description": "How many results (default 8)."},
                "postcode": {
                    "type": "string",
                    "maxLength": 7,
                    "description": "The caller's postcode (1234AB): known outages there come back in `outages`.",
                },
            },
            ("query",),
        ),
        "OpenCaseRequest": _object(
            {
                "channel": {"enum": list(CHANNELS)},
                "customer_ref": _text("customer_ref", "The customer's reference (never put it in a URL)."),
                "problem": {
                    "type": "string",
                    "maxLength": MAX_LENGTH["problem"],
                    "description": "Optional: the problem as known; else the agent's first search fills it in.",
                },
                "connection_type": {"enum": list(CONNECTION_TYPES)},
                "agent": {
                    "type": "string",
                    "maxLength": 64,
                    "description": "User name of the agent the case is for (admins only; default: the caller).",
                },
                "screen_pop": {
                    "type": "boolean",
                    "description": "Make it the agent's current case in their browser (default true).",
                },
                "postcode": {"type": "string", "maxLength": 7, "description": "The caller's postcode (1234AB)."},
            },
            ("channel", "customer_ref"),
        ),
        "NoteRequest": _object({"text": _text("note", "The note.")}, ("text",)),
        "CaseSearchRequest": _object(
            {
                "query": _text("query", "The search, logged on the case."),
                "lang": {"enum": list(LANGUAGES)},
                "category": {"enum": list(CATEGORIES)},
                "connection": {"enum": list(CONNECTIONS)},
                "only_lang": {"type": "boolean"},
                "k": {"type": "integer", "minimum": 1, "maximum": 20},
            },
            ("query",),
        ),
        "StepRequest": _object(
            {
                "article_id": {"type": "string", "pattern": ARTICLE_ID},
                "lang": {"enum": list(LANGUAGES)},
                "step": {"type": "integer", "minimum": 1, "maximum": 999},
                "done": {"type": "boolean"},
                "result": {"type": "string", "maxLength": MAX_LENGTH["note"], "description": "What the step showed."},
                "revision": {"type": "string", "maxLength": 64, "description": "The article revision worked from."},
            },
            ("article_id", "lang", "step", "done"),
        ),
        "ResolveRequest": _object(
            {
                "article_ids": {
                    "type": "array",
                    "items": {"type": "string", "pattern": ARTICLE_ID},
                    "minItems": 1,
                    "maxItems": 100,
                    "description": "The articles that solved it.",
                },
                "note": {"type": "string", "maxLength": MAX_LENGTH["note"]},
            },
            ("article_ids",),
        ),
        "EscalateRequest": _object(
            {"team": {"enum": list(escalation_teams())}, "reason": _text("reason", "Why first line cannot solve it.")},
            ("team", "reason"),
        ),
        "UnresolvedRequest": _object(
            {"reason": _text("reason", "Why, e.g. the customer will call back.")}, ("reason",)
        ),
        "OutageRequest": _object(OUTAGE_FIELDS, ("areas", "services", "message_nl", "message_en")),
        "OutageUpdate": _object({k: v for k, v in OUTAGE_FIELDS.items() if k != "planned"}, ()),
        "KnownOutageRequest": _object(
            {
                "outage_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                "callback": {"type": "boolean", "description": "Call the customer back when it is fixed."},
                "note": {"type": "string", "maxLength": MAX_LENGTH["note"]},
            },
            ("outage_id",),
        ),
    }


def response_schemas() -> dict:
    nstr, nint, ntime = _nullable(STRING), _nullable(INTEGER), _nullable(TIME)
    hit = _object(
        {
            "id": STRING,
            "lang": STRING,
            "title": STRING,
            "category": STRING,
            "connections": {"type": "array", "items": STRING},
            "score": NUMBER,
            "confidence": NUMBER,
            "relevance": {"enum": ["strong", "partial", "weak"]},
            "relevance_label": STRING,
            "url": STRING,
            "match": {"type": "object"},
            "snippet": {"type": "object"},
        },
        ("id", "lang", "title", "score", "confidence", "relevance", "url"),
        closed=False,
    )
    case = _object(
        {
            "id": INTEGER,
            "status": {"enum": list(STATUSES)},
            "channel": {"enum": list(CHANNELS)},
            "customer_ref": STRING,
            "problem": STRING,
            "connection_type": {"enum": list(CONNECTION_TYPES)},
            "agent": _object({"id": INTEGER, "name": STRING}, ("id", "name")),
            "opened_at": TIME,
            "closed_at": ntime,
            "handle_seconds": nint,
            "escalation_team": nstr,
            "resolved_by": {"type": "array", "items": STRING},
            "reopen_count": INTEGER,
            "url": {"type": "string", "description": "The case page in the web app."},
        },
        ("id", "status", "channel", "customer_ref", "problem", "connection_type", "agent", "opened_at"),
    )
    event = _object(
        {
            "id": INTEGER,
            "at": TIME,
            "kind": STRING,
            "actor": STRING,
            "article_id": nstr,
            "lang": nstr,
            "step": nint,
            "text": nstr,
            "revision": nstr,
        },
        ("id", "at", "kind", "actor"),
    )
    article_summary = _object(
        {
            "id": STRING,
            "lang": {"enum": list(LANGUAGES)},
            "title": STRING,
            "category": STRING,
            "connections": {"type": "array", "items": STRING},
            "escalate_to": STRING,
            "revision": STRING,
            "languages": {"type": "array", "items": STRING},
        },
        ("id", "lang", "title", "category", "revision", "languages"),
    )
    return {
        "Error": _object(
            {
                "error": _object(
                    {
                        "code": {"type": "string", "description": "Stable, for programs: e.g. unknown_field."},
                        "message": {"type": "string", "description": "For people: what went wrong and what to do."},
                        "field": {"type": "string", "description": "The field that was refused, if one was."},
                    },
                    ("code", "message"),
                    closed=False,
                )
            },
            ("error",),
        ),
        "Me": _object(
            {
                "id": INTEGER,
                "username": STRING,
                "display_name": STRING,
                "role": STRING,
                "auth": {"enum": ["token", "session"]},
                "token": _nullable({"type": "object"}),
            },
            ("id", "username", "role", "auth"),
        ),
        "SearchResult": _object(
            {
                "lang": STRING,
                "confidence": NUMBER,
                "weak": BOOLEAN,
                "route": _nullable({"type": "object"}),
                "hits": {"type": "array", "items": hit},
                "timing_ms": {"type": "object"},
                "case_id": nint,
                "outages": {
                    "type": "array",
                    "items": {"type": "object"},
                    "description": "Active outages at the caller's postcode (id, status, services, message, ...).",
                },
            },
            ("lang", "confidence", "weak", "hits"),
        ),
        "ArticleList": _object({"articles": {"type": "array", "items": article_summary}}, ("articles",)),
        "Article": _object(
            {
                **article_summary["properties"],
                "symptoms": {"type": "array", "items": STRING},
                "related": {"type": "array", "items": STRING},
                "markdown": {"type": "string", "description": "The article's source as written."},
                "html": _object(
                    {
                        "sections": {"type": "array", "items": {"type": "object"}},
                        "steps": {"type": "array", "items": {"type": "object"}},
                    },
                    ("sections", "steps"),
                    description="Sanitised HTML, safe to insert as is.",
                ),
                "steps": {"type": "array", "items": {"type": "object"}},
            },
            ("id", "lang", "title", "revision", "markdown", "html", "steps"),
        ),
        "Case": case,
        "CaseWithTimeline": _object({**case["properties"], "timeline": {"type": "array", "items": event}}, ()),
        "CaseList": _object({"cases": {"type": "array", "items": case}}, ("cases",)),
        "Steps": _object(
            {"ticked": {"type": "array", "items": INTEGER}, "results": {"type": "object"}}, ("ticked", "results")
        ),
        "Handoff": _object(
            {"case_id": INTEGER, "customer_ref": STRING, "problem": STRING, "status": STRING},
            ("case_id", "customer_ref", "problem", "status"),
            closed=False,
        ),
        "Deliveries": _object(
            {
                "deliveries": {
                    "type": "array",
                    "items": _object(
                        {
                            "id": INTEGER,
                            "status": {"enum": ["pending", "delivered", "failed"]},
                            "attempts": INTEGER,
                            "created_at": TIME,
                            "next_attempt_at": ntime,
                            "delivered_at": ntime,
                            "last_error": nstr,
                        },
                        ("id", "status", "attempts", "created_at"),
                    ),
                }
            },
            ("deliveries",),
        ),
        "AnalyticsSummary": _object(
            {"period": {"type": "object"}, "figures": {"type": "object"}}, ("period", "figures"), closed=False
        ),
        "AnalyticsArticles": _object(
            {"period": {"type": "object"}, "articles": {"type": "array", "items": {"type": "object"}}},
            ("period", "articles"),
        ),
        "Outage": _object(
            {
                "id": INTEGER,
                "planned": BOOLEAN,
                "status": {"enum": list(OUTAGE_STATUSES)},
                "services": {"type": "array", "items": STRING},
                "connections": {"type": "array", "items": STRING},
                "areas": {"type": "array", "items": STRING},
                "nodes": {"type": "array", "items": STRING},
                "starts_at": TIME,
                "expected_end": ntime,
                "fixed_at": ntime,
                "active": BOOLEAN,
                "message_nl": STRING,
                "message_en": STRING,
            },
            ("id", "planned", "status", "services", "areas", "starts_at", "active"),
        ),
        "OutageList": _object(
            {"outages": {"type": "array", "items": {"$ref": "#/components/schemas/Outage"}}}, ("outages",)
        ),
        "WorklistCounts": _object(
            {
                name: INTEGER
                for name in (
                    "open_flags",
                    "gap_clusters",
                    "cases_without_article",
                    "often_escalated",
                    "not_reviewed",
                    "in_review",
                    "drafts",
                )
            },
            ("open_flags", "gap_clusters", "cases_without_article", "often_escalated", "in_review", "drafts"),
        ),
    }


ERRORS = {
    "400": "The request is malformed, has an unknown field or a value that cannot be used; `error.field` names it.",
    "401": "No API token, or one that is unknown, revoked, expired or of a disabled user.",
    "403": "The token's user's role does not give access to this.",
    "404": "No such case or article (or not one this user may see).",
    "409": "The case is closed (or the Idempotency-Key's first request is still running).",
    "413": "The body is larger than 64 KiB.",
    "422": "The Idempotency-Key was used before for another request.",
    "429": "Too many failed token attempts from this address; wait Retry-After seconds.",
    "503": "Search or the database is not available right now; try again.",
}


def _error_refs(*codes: str) -> dict:
    # 429 on every operation: failed token attempts slow their address down, whatever it asks for.
    return {code: {"$ref": f"#/components/responses/E{code}"} for code in (*codes, "429")}


def _json(schema: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


OUTAGE_ID = {
    "name": "outage_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
}
CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique text up to 255 characters: a retry with the same key returns the first answer "
    "and changes nothing twice. Kept for 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}
PERIOD = [
    {
        "name": "since",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": "Default: 30 days ago.",
    },
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"}, "description": "Default: today."},
    {"name": "channel", "in": "query", "schema": {"enum": list(CHANNELS)}},
    {"name": "category", "in": "query", "schema": {"enum": list(CATEGORIES)}},
]


def _op(summary: str, roles: str, ok: tuple[str, str, str], *, errors=("400", "401", "403"), body=None, params=()):
    status, schema, description = ok
    operation = {
        "summary": summary,
        "description": f"Roles: {roles}.",
        "responses": {status: _json(schema, description), **_error_refs(*errors)},
    }
    if params:
        operation["parameters"] = list(params)
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    return operation


def _case_post(
    summary: str, body: str, ok: tuple[str, str, str], errors=("400", "401", "403", "404", "409", "413", "422")
):
    return _op(
        summary, "agent, admin (own cases; admins any)", ok, errors=errors, body=body, params=(CASE_ID, IDEMPOTENCY)
    )


def document() -> dict:
    """The whole OpenAPI 3.1 document (a fresh copy each time)."""
    case_get_errors = ("401", "403", "404")
    paths = {
        "/api/v1/me": {
            "get": _op("Who the token (or session) acts as", "any", ("200", "Me", "The user."), errors=("401",))
        },
        "/api/v1/search": {
            "post": _op(
                "Search the knowledge base (nothing is logged on a case)",
                "agent, editor, analyst, admin",
                ("200", "SearchResult", "The results, best first, with the search's confidence."),
                errors=("400", "401", "403", "413", "503"),
                body="SearchRequest",
            )
        },
        "/api/v1/articles": {
            "get": _op(
                "Published articles, filtered",
                "agent, editor, analyst, admin",
                ("200", "ArticleList", "One entry per article, in `lang` where it exists."),
                errors=("400", "401", "403", "503"),
                params=(
                    {"name": "lang", "in": "query", "schema": {"enum": list(LANGUAGES)}},
                    {"name": "category", "in": "query", "schema": {"enum": list(CATEGORIES)}},
                    {"name": "connection", "in": "query", "schema": {"enum": list(CONNECTIONS)}},
                ),
            )
        },
        "/api/v1/articles/{article_id}": {
            "get": _op(
                "One article, rendered (sanitised HTML) and raw (Markdown)",
                "agent, editor, analyst, admin",
                ("200", "Article", "The article."),
                errors=("400", "401", "403", "404", "503"),
                params=(
                    {
                        "name": "article_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": ARTICLE_ID},
                    },
                    {"name": "lang", "in": "query", "schema": {"enum": list(LANGUAGES)}},
                ),
            )
        },
        "/api/v1/cases": {
            "get": _op(
                "The caller's own cases, newest first",
                "agent, admin",
                ("200", "CaseList", "The cases."),
                params=(
                    {"name": "status", "in": "query", "schema": {"enum": list(STATUSES)}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                ),
            ),
            "post": _op(
                "Open a case (a telephony screen pop: the agent's browser shows it as the current case)",
                "agent (for themselves), admin (for any agent with `agent`)",
                ("201", "Case", "The case opened (or, for a retried Idempotency-Key, the one opened the first time)."),
                errors=("400", "401", "403", "404", "409", "413", "422"),
                body="OpenCaseRequest",
                params=(IDEMPOTENCY,),
            ),
        },
        "/api/v1/cases/{case_id}": {
            "get": _op(
                "One case with its timeline",
                "agent, admin (own cases; admins any)",
                ("200", "CaseWithTimeline", "The case."),
                errors=case_get_errors,
                params=(CASE_ID,),
            )
        },
        "/api/v1/cases/{case_id}/notes": {
            "post": _case_post("Add a note", "NoteRequest", ("201", "Case", "The case."))
        },
        "/api/v1/cases/{case_id}/searches": {
            "post": _op(
                "Search and log the search on the case",
                "agent, admin (own cases; admins any)",
                ("200", "SearchResult", "The results; the search is on the case's timeline."),
                errors=("400", "401", "403", "404", "409", "413", "503"),
                body="CaseSearchRequest",
                params=(CASE_ID,),
            )
        },
        "/api/v1/cases/{case_id}/steps": {
            "post": _case_post(
                "Tick or untick a step of an article", "StepRequest", ("200", "Steps", "The steps ticked now.")
            )
        },
        "/api/v1/cases/{case_id}/resolve": {
            "post": _case_post(
                "Close as resolved by these articles", "ResolveRequest", ("200", "Case", "The closed case.")
            )
        },
        "/api/v1/cases/{case_id}/escalate": {
            "post": _case_post(
                "Close as escalated to a team (the hand-off goes to the webhook if one is set)",
                "EscalateRequest",
                ("200", "Case", "The closed case."),
            )
        },
        "/api/v1/cases/{case_id}/unresolved": {
            "post": _case_post(
                "Close as unresolved / callback", "UnresolvedRequest", ("200", "Case", "The closed case.")
            )
        },
        "/api/v1/cases/{case_id}/handoff": {
            "get": _op(
                "The escalation hand-off (the webhook's JSON)",
                "agent, admin (own cases; admins any)",
                ("200", "Handoff", "The hand-off, in the configured hand-off language."),
                errors=case_get_errors,
                params=(CASE_ID,),
            )
        },
        "/api/v1/cases/{case_id}/deliveries": {
            "get": _op(
                "The webhook deliveries of the case's hand-off",
                "agent, admin (own cases; admins any)",
                ("200", "Deliveries", "Oldest first."),
                errors=case_get_errors,
                params=(CASE_ID,),
            )
        },
        "/api/v1/analytics/summary": {
            "get": _op(
                "The headline figures for a period (as on the analytics page)",
                "analyst, admin",
                ("200", "AnalyticsSummary", "The figures; rates are fractions, null without cases."),
                params=PERIOD,
            )
        },
        "/api/v1/analytics/articles": {
            "get": _op(
                "Per article: use, resolution, escalation, repeats",
                "analyst, admin",
                ("200", "AnalyticsArticles", "Most used first."),
                params=PERIOD,
            )
        },
        "/api/v1/outages": {
            "get": _op(
                "Known outages, newest first (active=true: only those active now)",
                "agent, editor, analyst, noc, admin",
                ("200", "OutageList", "The outages."),
                params=({"name": "active", "in": "query", "schema": {"enum": ["true", "false"]}},),
            ),
            "post": _op(
                "Register an outage or planned maintenance (the provider's monitoring)",
                "noc, admin",
                ("201", "Outage", "The outage registered."),
                errors=("400", "401", "403", "413", "422"),
                body="OutageRequest",
                params=(IDEMPOTENCY,),
            ),
        },
        "/api/v1/outages/{outage_id}": {
            "get": _op(
                "One outage",
                "agent, editor, analyst, noc, admin",
                ("200", "Outage", "The outage."),
                errors=("401", "403", "404"),
                params=(OUTAGE_ID,),
            ),
            "patch": _op(
                "Update an outage: status (fixed starts the callbacks), expected end, messages, areas, ...",
                "noc, admin",
                ("200", "Outage", "The outage as it is now; the change is in its history."),
                errors=("400", "401", "403", "404", "413"),
                body="OutageUpdate",
                params=(OUTAGE_ID,),
            ),
        },
        "/api/v1/cases/{case_id}/known-outage": {
            "post": _case_post(
                "Link the call to a known outage and close it (optionally to be called back when fixed)",
                "KnownOutageRequest",
                ("200", "Case", "The closed case."),
            )
        },
        "/api/v1/editor/worklist": {
            "get": _op(
                "The editors' worklist counts",
                "editor, admin",
                ("200", "WorklistCounts", "How many items wait in each part of the worklist."),
                errors=("401", "403"),
            )
        },
    }
    for path, path_item in paths.items():  # one bearer scheme for every operation, with an operationId each
        for method, operation in path_item.items():
            operation["security"] = [{"bearerAuth": []}]
            operation["operationId"] = f"{method}_" + re.sub(r"\W+", "_", path.removeprefix("/api/v1/")).strip("_")
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "Firstline KB integration API",
                "version": VERSION,
                "description": "Search, articles and cases for telephony (screen pop), ticket systems and "
                "wallboards. Authenticate with `Authorization: Bearer <token>` (`kb token create USER`, or the "
                "settings page); a token acts with its user's role. Errors are "
                '`{"error": {"code": ..., "message": ...}}`. Customer references travel in bodies only, '
                "never in URLs.",
            },
            "servers": [{"url": "/"}],
            "paths": paths,
            "components": {
                "securitySchemes": {
                    "bearerAuth": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An API token: fkb_<prefix>_<secret>.",
                    }
                },
                "schemas": {**request_schemas(), **response_schemas()},
                "responses": {f"E{code}": _json("Error", text) for code, text in ERRORS.items()},
            },
        }
    )


# -- checking requests against the schemas above -----------------------------------------------------


def check_body(name: str, data: object) -> dict:
    """`data` checked against request schema `name`; InvalidInput naming the field otherwise."""
    schema = request_schemas()[name]
    if not isinstance(data, dict):
        raise InvalidInput("body", "Send a JSON object as the request body.")
    for field in data:
        if field not in schema["properties"]:
            allowed = ", ".join(schema["properties"])
            raise InvalidInput(str(field)[:64], f"Unknown field {str(field)[:64]!r}; the fields are: {allowed}.")
    for field in schema["required"]:
        if field not in data:
            raise InvalidInput(field, f"The field {field!r} is required.")
    return {field: _check_value(field, value, schema["properties"][field]) for field, value in data.items()}


def _check_value(field: str, value: object, schema: dict) -> object:
    """The value if it fits the schema (a whole number sent as 4.0 becomes 4); InvalidInput otherwise."""
    if "enum" in schema:
        if not isinstance(value, str) or value not in schema["enum"]:
            raise InvalidInput(field, f"The field {field!r} must be one of {', '.join(schema['enum'])}.")
        return value
    kind = schema.get("type")
    if isinstance(kind, list):  # ["string", "null"]
        if value is None and "null" in kind:
            return None
        kind = next(k for k in kind if k != "null")
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema counts 4.0 as an integer
    if kind == "string":
        if not isinstance(value, str):
            raise InvalidInput(field, f"The field {field!r} must be text.")
        if len(value) > schema.get("maxLength", 10**9):
            raise InvalidInput(field, f"The field {field!r} is too long; at most {schema['maxLength']} characters.")
        if len(value) < schema.get("minLength", 0) or ("pattern" in schema and not re.search(schema["pattern"], value)):
            raise InvalidInput(field, f"The field {field!r} is empty or not in the right form; fill it in.")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(field, f"The field {field!r} must be a whole number.")
        if not schema.get("minimum", -(2**63)) <= value <= schema.get("maximum", 2**63):
            raise InvalidInput(
                field, f"The field {field!r} must be from {schema.get('minimum')} to {schema.get('maximum')}."
            )
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidInput(field, f"The field {field!r} must be true or false.")
    elif kind == "array":
        if not isinstance(value, list) or not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", 10**6):
            raise InvalidInput(
                field,
                f"The field {field!r} must be a list of {schema.get('minItems', 0)} to {schema.get('maxItems')} items.",
            )
        value = [_check_value(field, item, schema["items"]) for item in value]
    return value


def check_query(args, allowed: dict[str, dict]) -> dict:
    """Query-string parameters checked like bodies: unknown names and bad values are refused."""
    found = {}
    for name in args:
        if name not in allowed:
            raise InvalidInput(
                name[:64], f"Unknown parameter {name[:64]!r}; the parameters are: {', '.join(allowed) or 'none'}."
            )
        value = args.get(name)
        schema = allowed[name]
        if schema.get("type") == "integer":
            if not re.fullmatch(r"-?\d{1,9}", value or ""):
                raise InvalidInput(name, f"The parameter {name!r} must be a whole number.")
            value = int(value)
        found[name] = _check_value(name, value, schema)
    return found
