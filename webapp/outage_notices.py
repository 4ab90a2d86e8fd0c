"""Known outages on the agent's pages: the notice above the search results and above an article's
steps, the warning not to start a reboot or factory reset, and the form that links the call to
the outage and closes it (webapp.cases.known_outage). Shared by the search page, the article page
and the APIs; never breaks a page: a register that cannot be read shows no notice.

The caller's postcode comes from the current case, else from one typed in the query; it is only
ever sent in form bodies, never in a URL.
"""

from __future__ import annotations

import logging

from flask import current_app, g
from sqlalchemy.exc import SQLAlchemyError

from kb.errors import KBError
from kb.outages.register import Match, matching, postcode_in
from webapp import workspace
from webapp.labels import OUTAGE_STATUS_LABELS, SERVICE_LABELS

log = logging.getLogger(__name__)

# The service an article's category is about (the outage notice shows on these articles' pages).
SERVICE_OF_CATEGORY = {
    "connectivity": "internet",
    "wifi": "internet",
    "router": "internet",
    "telephony": "telephony",
    "email": "email",
}
# Procedures not to start while an outage explains the problem: they cost the customer their
# settings or minutes of waiting, and fix nothing.
DO_NOT_START = ("router-restart", "router-factory-reset")


def match_for(query: str | None = None, article=None, postcode: str | None = None) -> Match:
    """The outages for the current caller (case postcode, else `postcode`, else one in `query`)."""
    case = workspace.current_case()
    postcode = (case.postcode if case is not None else None) or postcode or postcode_in(query or "")
    connection = case.connection_type if case is not None else None
    services = None
    if article is not None:
        service = SERVICE_OF_CATEGORY.get(article.category)
        services = (service,) if service else ()
    try:
        return matching(current_app.extensions["kb"].engine, postcode, connection, services)
    except (SQLAlchemyError, KBError) as exc:
        log.error("known outages could not be read: %s", type(exc).__name__)
        return Match(postcode)


def context(query: str | None = None, article=None) -> dict:
    """The template variables of outages/_notice.html."""
    if article is not None and article.category not in SERVICE_OF_CATEGORY:
        return {"outage_match": None}
    found = match_for(query, article)
    return {
        "outage_match": found,
        "outage_lang": g.get("locale") or "nl",
        "outage_warning": article is not None and article.id in DO_NOT_START and bool(found.here),
        "outage_status_labels": OUTAGE_STATUS_LABELS,
        "service_labels": SERVICE_LABELS,
    }


def as_json(found: Match, lang: str) -> list[dict]:
    """The outages at the caller's postcode as the APIs return them (`outages` in a search result)."""
    fields = ("id", "status", "planned", "services", "connections", "message", "expected_end", "starts_at")
    return [{k: v for k, v in o.as_dict(lang).items() if k in fields} for o in found.here]


def for_escalation(case) -> list[dict]:
    """The outages active at the case's postcode now, as the escalation records them for the hand-off."""
    if case is None or not case.postcode:
        return []
    try:
        found = matching(current_app.extensions["kb"].engine, case.postcode, case.connection_type)
    except (SQLAlchemyError, KBError):
        return []
    return [
        {"id": o.id, "status": o.status, "message_nl": o.message_nl, "message_en": o.message_en} for o in found.here
    ]
