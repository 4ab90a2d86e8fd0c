"""The editors' home page: the worklist (kb.editorial.worklist), with its thresholds shown.

Settings: KB_WORKLIST_DAYS (the window of cases and gaps, default 90), KB_REVIEW_DAYS (articles
not reviewed for longer, default 180), KB_ESCALATION_RATE (share of cases escalated or called
back after an article was used, default 0.5) and KB_ESCALATION_MIN_CASES (default 5).
"""

from __future__ import annotations

import logging
import os

from flask import current_app, g, render_template
from sqlalchemy.exc import SQLAlchemyError

from kb.caselog.handoff import build_handoff
from kb.editorial import flags as flagging
from kb.editorial import worklist as work
from kb.errors import KBError, NotFound
from webapp import workspace
from webapp.labels import DOC_STATUS_LABELS, FLAG_REASON_LABELS, TEAM_LABELS
from webapp.labels import STATUS_LABELS as CASE_STATUS_LABELS

log = logging.getLogger(__name__)


def _setting(name: str, default: float, kind=int):
    raw = os.environ.get(name) or current_app.config.get(name)
    try:
        return kind(raw) if raw not in (None, "") else default
    except (TypeError, ValueError):
        log.warning("%s=%r is not a number; using %s", name, raw, default)
        return default


def settings() -> dict:
    return {
        "days": _setting("KB_WORKLIST_DAYS", 90),
        "review_days": _setting("KB_REVIEW_DAYS", 180),
        "threshold": _setting("KB_ESCALATION_RATE", 0.5, float),
        "min_cases": _setting("KB_ESCALATION_MIN_CASES", 5),
    }


def _embedder():
    services = current_app.extensions["kb"]
    try:
        return services.searcher.embedder.embed_queries
    except (KBError, OSError):  # no index or model here: flagged gaps without a vector wait
        return None


def worklist_page():
    engine = current_app.extensions["kb"].engine
    limits = settings()
    try:
        clusters = work.gap_clusters(engine, _embedder(), days=limits["days"])
    except SQLAlchemyError as exc:  # the vectors could not be stored: show the rest of the worklist
        log.error("could not cluster the content gaps: %s", type(exc).__name__)
        clusters = None
    open_flags = flagging.list_flags(engine, status="open")
    candidates_total, candidates = work.cases_without_article(engine, days=limits["days"])
    escalated = work.often_escalated(
        engine, threshold=limits["threshold"], min_cases=limits["min_cases"], days=limits["days"]
    )
    documents = work.all_docs(engine)
    stale = work.not_reviewed(engine, review_days=limits["review_days"], documents=documents)
    in_review, drafts = work.waiting(engine, documents)
    titles = {d.article_id: d.title for d in documents if d.lang == g.locale}
    titles = {**{d.article_id: d.title for d in documents}, **titles}
    return render_template(
        "editor/worklist.html",
        flags=open_flags,
        clusters=clusters,
        candidates=candidates,
        candidates_total=candidates_total,
        escalated=escalated,
        stale=stale,
        in_review=in_review,
        drafts=drafts,
        limits=limits,
        titles=titles,
        reason_labels=FLAG_REASON_LABELS,
        status_labels=DOC_STATUS_LABELS,
        case_status_labels=CASE_STATUS_LABELS,
        teams=TEAM_LABELS,
    )


def case_material(case_id: int):
    """(title, symptoms, steps) for "draft an article from this case": the problem and the searches
    as symptoms, the steps done (with what the agent recorded) as steps; None for an unknown case."""
    engine = current_app.extensions["kb"].engine
    try:
        handoff = build_handoff(engine, case_id, workspace.step_text)
    except (NotFound, KBError):
        return None
    problem = " ".join(handoff.problem.split())
    title = problem[:80].rstrip(" ,.;:") if problem else ""
    symptoms = [problem[:200]] + [s.query for s in handoff.searches]
    steps = [(s.action or "", s.result or s.expected or "") for s in handoff.steps]
    return title, list(dict.fromkeys(symptoms)), steps


def counts() -> dict:
    """How many items wait in each part of the worklist (for wallboards: GET /api/v1/editor/worklist)."""
    engine = current_app.extensions["kb"].engine
    limits = settings()
    try:
        clusters = work.gap_clusters(engine, _embedder(), days=limits["days"])
    except SQLAlchemyError as exc:
        log.error("could not cluster the content gaps: %s", type(exc).__name__)
        clusters = []
    documents = work.all_docs(engine)
    in_review, drafts = work.waiting(engine, documents)
    escalated = work.often_escalated(
        engine, threshold=limits["threshold"], min_cases=limits["min_cases"], days=limits["days"]
    )
    return {
        "open_flags": len(flagging.list_flags(engine, status="open")),
        "gap_clusters": len(clusters or []),
        "cases_without_article": work.cases_without_article(engine, days=limits["days"])[0],
        "often_escalated": len(escalated),
        "not_reviewed": len(work.not_reviewed(engine, review_days=limits["review_days"], documents=documents)),
        "in_review": len(in_review),
        "drafts": len(drafts),
    }
