"""Supervision: every open case at a glance, and handing an open case to another agent.

A reassignment is written as a 'reassigned' case event (its text is the reason, its data the
agent ids it moved from and to) and an audit log row, in the same transaction. The agent who
had the case can no longer open or change it; the new agent finds it among their open cases.
Nothing here puts a customer reference into the audit log: the target is the case id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import aliased

from kb.caselog.cases import Case, _case, _event, _open_for_change
from kb.errors import InvalidInput
from kb.store import engine as db
from kb.store.tables import AuditLogRow, CaseEventRow, CaseRow, UserRow, check_id, check_text

__all__ = [
    "Agent",
    "OpenCase",
    "Reassignment",
    "active_agents",
    "open_cases_overview",
    "reassign_case",
    "reassignments",
]

MAX_ID = 2**31 - 1  # the id columns are 32-bit on PostgreSQL


@dataclass(frozen=True)
class OpenCase:
    """One open case as a supervisor sees it: who has it, since when, what they are reading."""

    id: int
    agent_id: int
    agent_name: str
    channel: str
    opened_at: datetime
    last_event_at: datetime | None
    article_id: str | None  # the last article opened on the case, None before the first
    lang: str | None


@dataclass(frozen=True)
class Agent:
    id: int
    display_name: str


@dataclass(frozen=True)
class Reassignment:
    from_agent_id: int
    from_agent_name: str
    to_agent_id: int
    to_agent_name: str


def open_cases_overview(engine: Engine) -> list[OpenCase]:
    """Every open case, oldest first, with the time of its last event and the last article opened on it.

    One query: the newest event and the newest 'article_opened' event of each case are found
    through the (case_id, id) index, so the cost grows with the open cases, not with the history.
    """
    last_event = aliased(CaseEventRow)
    last_article = aliased(CaseEventRow)
    newest = select(func.max(CaseEventRow.id)).where(CaseEventRow.case_id == CaseRow.id).scalar_subquery()
    newest_article = (
        select(func.max(CaseEventRow.id))
        .where(CaseEventRow.case_id == CaseRow.id, CaseEventRow.kind == "article_opened")
        .scalar_subquery()
    )
    query = (
        select(
            CaseRow.id,
            CaseRow.agent_id,
            UserRow.display_name,
            CaseRow.channel,
            CaseRow.opened_at,
            last_event.at,
            last_article.article_id,
            last_article.lang,
        )
        .join(UserRow, UserRow.id == CaseRow.agent_id)
        .outerjoin(last_event, last_event.id == newest)
        .outerjoin(last_article, last_article.id == newest_article)
        .where(CaseRow.status == "open")
    )
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(query.order_by(CaseRow.opened_at, CaseRow.id)).all()
    return [OpenCase(*row) for row in rows]


def active_agents(engine: Engine) -> list[Agent]:
    """The users a case can be given to: active, with the role agent; by name."""
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(UserRow.id, UserRow.display_name)
            .where(UserRow.role == "agent", UserRow.is_active.is_(True))
            .order_by(UserRow.display_name, UserRow.id)
        ).all()
    return [Agent(*row) for row in rows]


def reassign_case(engine: Engine, case_id: int, actor_id: int, new_agent_id: int, reason: str) -> Case:
    """Give an open case to another active agent, saying why; audited with the supervisor who did it.

    CaseClosed for a closed case; InvalidInput (field "agent") when the new agent is not an active
    user with the role agent or already has the case; (field "reason") without a reason.
    """
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    if isinstance(new_agent_id, bool) or not isinstance(new_agent_id, int) or not 1 <= new_agent_id <= MAX_ID:
        raise InvalidInput("agent", "Choose the agent to give the case to from the list of active agents.")
    reason = check_text("reason", reason, label="reason for reassigning")
    now = db.utcnow()
    with db.session_scope(engine) as session:
        row = _open_for_change(session, case_id, actor_id)
        agent = session.get(UserRow, new_agent_id)
        if agent is None or agent.role != "agent" or not agent.is_active:
            raise InvalidInput(
                "agent", f"User {new_agent_id} is not an active agent; choose one from the list of active agents."
            )
        if agent.id == row.agent_id:
            raise InvalidInput("agent", f"Case {case_id} is already with {agent.display_name}; choose another agent.")
        moved = {"from_agent_id": row.agent_id, "to_agent_id": agent.id}
        session.add(
            AuditLogRow(
                at=now,
                actor_id=actor_id,
                action="reassign_case",
                target=f"case:{case_id}",
                detail=json.dumps({**moved, "reason": reason}),
            )
        )
        row.agent_id = agent.id
        _event(session, case_id, actor_id, "reassigned", now, text=reason, data=moved)
        return _case(session, row)


def reassignments(engine: Engine, case_id: int) -> dict[int, Reassignment]:
    """The case's 'reassigned' events by event id: from which agent to which (for the timeline)."""
    case_id = check_id("case_id", case_id)
    with db.session_scope(engine, readonly=True) as session:
        events = session.execute(
            select(CaseEventRow.id, CaseEventRow.data).where(
                CaseEventRow.case_id == case_id, CaseEventRow.kind == "reassigned"
            )
        ).all()
        moves = {event_id: json.loads(data or "{}") for event_id, data in events}
        ids = {m.get(key) for m in moves.values() for key in ("from_agent_id", "to_agent_id")} - {None}
        names = dict(session.execute(select(UserRow.id, UserRow.display_name).where(UserRow.id.in_(ids))).all())
    return {
        event_id: Reassignment(
            m["from_agent_id"], names.get(m["from_agent_id"], ""), m["to_agent_id"], names.get(m["to_agent_id"], "")
        )
        for event_id, m in moves.items()
        if "from_agent_id" in m and "to_agent_id" in m
    }
