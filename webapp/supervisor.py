"""The supervisor's view (admins): every open case with its agent, age and current article; any case
read-only; an open case handed to another agent (kb.caselog.assign, audited).

Only case ids travel in URLs and log lines; the customer reference stays in the page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy.exc import SQLAlchemyError

from kb.caselog import cases as caselog
from kb.caselog.assign import active_agents, open_cases_overview, reassign_case, reassignments
from kb.errors import CaseClosed, InvalidInput, KBError
from kb.store import engine as db
from webapp import library
from webapp.labels import CHANNEL_LABELS, CONNECTION_TYPE_LABELS, EVENT_LABELS, STATUS_LABELS
from webapp.security import roles
from webapp.workspace import engine, form_error, format_duration, handle_seconds, own_case

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor")
log = logging.getLogger(__name__)

SORTS = ("oldest", "newest")


def format_age(seconds: float) -> str:
    """How long ago, compactly: "< 1 min", "12 min", "2 h 5 min", "3 d 4 h"."""
    minutes = max(0, int(seconds)) // 60
    if minutes < 1:
        return gettext("< 1 min")
    if minutes < 60:
        return gettext("%(min)s min", min=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return gettext("%(h)s h %(min)s min", h=hours, min=minutes)
    days, hours = divmod(hours, 24)
    return gettext("%(d)s d %(h)s h", d=days, h=hours)


def _titles() -> dict[tuple[str, str], str]:
    """(article id, language) -> title of every published article; {} without a published index."""
    try:
        snap = library.snapshot()
        return {(a.id, a.lang): a.title for article_id in snap.ids() for a in snap.versions(article_id).values()}
    except KBError:
        return {}


@bp.get("/cases")
@roles("admin")
def cases():
    """All open cases, oldest first (?sort=newest), optionally one agent's (?agent=<user id>)."""
    found = open_cases_overview(engine())
    per_agent: dict[int, tuple[str, int]] = {}
    for case in found:
        per_agent[case.agent_id] = (case.agent_name, per_agent.get(case.agent_id, ("", 0))[1] + 1)
    agent = request.args.get("agent", type=int)
    shown = [c for c in found if c.agent_id == agent] if agent in per_agent else found
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else "oldest"
    if sort == "newest":
        shown.reverse()
    return render_template(
        "supervisor/cases.html",
        cases=shown,
        total=len(found),
        agents=sorted(per_agent.items(), key=lambda item: item[1][0].casefold()),
        agent=agent if agent in per_agent else None,
        sort=sort,
        titles=_titles(),
        channels=CHANNEL_LABELS,
        now=db.utcnow(),
        format_age=format_age,
    )


def _case_page(
    case: caselog.Case,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
):
    return render_template(
        "supervisor/case.html",
        case=case,
        events=caselog.timeline(engine(), case.id),
        moves=reassignments(engine(), case.id),
        agents=[a for a in active_agents(engine()) if a.id != case.agent_id],
        titles=_titles(),
        errors=errors or {},
        values=values or {},
        event_labels=EVENT_LABELS,
        status_labels=STATUS_LABELS,
        channels=CHANNEL_LABELS,
        connection_types=CONNECTION_TYPE_LABELS,
        format_duration=format_duration,
        handle_time=handle_seconds(case),
    ), status


@bp.get("/cases/<int:case_id>")
@roles("admin")
def case(case_id: int):
    """Any case, read-only; an open one can be given to another agent."""
    return _case_page(own_case(case_id))


@bp.post("/cases/<int:case_id>/reassign")
@roles("admin")
def reassign(case_id: int):
    case = own_case(case_id)
    values = {"agent": request.form.get("agent", ""), "reason": request.form.get("reason", "")}
    agent_id = int(values["agent"]) if values["agent"].isdigit() and values["agent"].isascii() else 0
    try:
        moved = reassign_case(engine(), case.id, g.user.id, agent_id, values["reason"])
    except InvalidInput as exc:
        return _case_page(case, 400, {"reassign": _refusal(exc, case, agent_id)}, values)
    except CaseClosed:
        message = gettext("This case was closed meanwhile and can no longer be reassigned.")
        return _case_page(own_case(case_id), 409, {"reassign": message}, values)
    except SQLAlchemyError as exc:
        log.error("could not reassign case %d: %s", case.id, type(exc).__name__)
        message = gettext(
            "Could not save: the database cannot be written right now. Your text is kept below; try again in a moment."
        )
        return _case_page(case, 503, {"reassign": message}, values)
    flash(gettext("Case %(id)s is now with %(agent)s.", id=case.id, agent=moved.agent_name), "info")
    return redirect(url_for("supervisor.case", case_id=case.id), 303)


def _refusal(exc: InvalidInput, case: caselog.Case, agent_id: int) -> str:
    if exc.field != "agent":
        return form_error(exc)
    if agent_id == case.agent_id:
        return gettext(
            "Case %(id)s is already with %(agent)s; choose another agent.", id=case.id, agent=case.agent_name
        )
    return gettext("Choose the agent to give the case to from the list of active agents.")
