"""The escalation hand-off: what the next team needs so the customer never has to repeat anything.

`build_handoff` collects it from the case log; `as_text()` gives labelled lines to paste into
another ticket system, `as_dict()` the same as JSON-ready data (ISO 8601 UTC timestamps).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kb.caselog.cases import _case, _find
from kb.caselog.revisions import articles_at
from kb.store import engine as db
from kb.store.tables import CaseEventRow, UserRow, check_id

StepText = Callable[[str, str, int], "tuple[str, str] | None"]


@dataclass(frozen=True)
class HandoffStep:
    article_id: str
    lang: str
    step_number: int
    done_at: datetime
    action: str | None = None  # the step's instruction as the agent saw it (from its revision)
    expected: str | None = None  # its expected result
    result: str | None = field(default=None, repr=False)  # what the agent recorded it showed
    revision: str | None = None  # the article version the step was ticked in


@dataclass(frozen=True)
class HandoffArticle:
    article_id: str
    lang: str
    opened_at: datetime
    revision: str | None = None


@dataclass(frozen=True)
class HandoffSearch:
    query: str
    at: datetime


@dataclass(frozen=True)
class HandoffNote:
    text: str
    at: datetime
    author: str


@dataclass(frozen=True)
class Handoff:
    case_id: int
    customer_ref: str = field(repr=False)
    channel: str
    problem: str = field(repr=False)
    connection_type: str
    status: str
    agent_name: str
    opened_at: datetime
    escalated_at: datetime | None
    team: str | None
    reason: str | None = field(repr=False)
    steps: tuple[HandoffStep, ...]
    articles_tried: tuple[HandoffArticle, ...]
    searches: tuple[HandoffSearch, ...]
    notes: tuple[HandoffNote, ...] = field(repr=False)

    def as_dict(self) -> dict:
        """JSON-ready: plain types, timestamps as ISO 8601 strings in UTC."""
        iso = lambda t: t.isoformat() if t else None  # noqa: E731
        return {
            "case_id": self.case_id,
            "customer_ref": self.customer_ref,
            "channel": self.channel,
            "problem": self.problem,
            "connection_type": self.connection_type,
            "status": self.status,
            "agent": self.agent_name,
            "opened_at": iso(self.opened_at),
            "escalated_at": iso(self.escalated_at),
            "team": self.team,
            "reason": self.reason,
            "steps_done": [
                {
                    "article_id": s.article_id,
                    "lang": s.lang,
                    "step": s.step_number,
                    "done_at": iso(s.done_at),
                    "action": s.action,
                    "expected": s.expected,
                    "result": s.result,
                    "revision": s.revision,
                }
                for s in self.steps
            ],
            "articles_tried": [
                {"article_id": a.article_id, "lang": a.lang, "opened_at": iso(a.opened_at), "revision": a.revision}
                for a in self.articles_tried
            ],
            "searches": [{"query": s.query, "at": iso(s.at)} for s in self.searches],
            "notes": [{"text": n.text, "at": iso(n.at), "author": n.author} for n in self.notes],
        }

    def as_text(self) -> str:
        """Plain text with one labelled line per fact, ready to paste into another ticket system."""
        lines = [
            f"Escalation hand-off for case {self.case_id}",
            f"Team: {_line(self.team or '-')}",
            f"Reason: {_indent(self.reason or '-')}",
            f"Customer reference: {_line(self.customer_ref)}",
            f"Channel: {_line(self.channel)}",
            f"Connection type: {_line(self.connection_type)}",
            f"Agent: {_line(self.agent_name)}",
            f"Opened: {_time(self.opened_at)}",
            f"Escalated: {_time(self.escalated_at) if self.escalated_at else '-'}",
            f"Problem: {_indent(self.problem)}",
            "",
            f"Steps done ({len(self.steps)}):",
        ]
        for s in self.steps:
            version = f", revision {s.revision}" if s.revision else ""
            lines.append(f"- {s.article_id} ({s.lang}{version}) step {s.step_number}, done {_time(s.done_at)}")
            if s.action:
                lines.append(f"  Action: {_indent(s.action, 4)}")
            if s.expected:
                lines.append(f"  Expected: {_indent(s.expected, 4)}")
            if s.result:
                lines.append(f"  Result: {_indent(s.result, 4)}")
        lines += ["", f"Articles tried ({len(self.articles_tried)}):"]
        lines += [
            f"- {a.article_id} ({a.lang}{', revision ' + a.revision if a.revision else ''}), "
            f"opened {_time(a.opened_at)}"
            for a in self.articles_tried
        ]
        lines += ["", f"Searches ({len(self.searches)}):"]
        lines += [f"- {_time(s.at)}: {json.dumps(s.query, ensure_ascii=False)}" for s in self.searches]
        lines += ["", f"Agent notes ({len(self.notes)}):"]
        lines += [f"- {_time(n.at)} {_line(n.author)}: {_indent(n.text, 2)}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _line(text: str) -> str:
    """A field that must stay on its own labelled line: line breaks (and other white space) become spaces."""
    return " ".join(str(text).split())


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _indent(text: str, spaces: int = 2) -> str:
    return ("\n" + " " * spaces).join(text.splitlines()) if text else text


def build_handoff(engine: Engine, case_id: int, step_text: StepText | None = None) -> Handoff:
    """The hand-off for a case (normally an escalated one; for an open case team and reason are None).

    Each step's texts come from the article revision it was ticked in, so the hand-off shows what
    the agent read even after the article changed. For events recorded before revisions existed,
    `step_text(article_id, lang, step_number)` may give the current (action, expected) texts.
    """
    case_id = check_id("case_id", case_id)
    with db.session_scope(engine, readonly=True) as session:  # case and events from one snapshot
        return handoff_in(session, case_id, step_text)


def handoff_in(session: Session, case_id: int, step_text: StepText | None = None) -> Handoff:
    """The hand-off as `session` sees the case: inside the transaction that escalates it, that is
    the escalated case (its notification is written in the same transaction, see escalate_case)."""
    case = _case(session, _find(session, case_id))
    events = session.execute(
        select(CaseEventRow, UserRow.display_name)
        .join(UserRow, UserRow.id == CaseEventRow.actor_id)
        .where(CaseEventRow.case_id == case_id)
        .order_by(CaseEventRow.id)
    ).all()
    versions = articles_at(session, {e.revision for e, _ in events if e.revision})
    ticked: dict[tuple[str, str, int], tuple[datetime, str | None, str | None]] = {}
    opened: dict[tuple[str, str], tuple[datetime, str | None]] = {}
    searches, notes, escalated_at = [], [], None
    for event, author in events:
        if event.kind == "step_ticked":
            key = (event.article_id, event.lang, event.step_number)
            # Ticked again: the first time, the newest result, the revision of the newest tick.
            at, result, _ = ticked.get(key, (event.at, None, None))
            ticked[key] = (at, (event.text or None) if event.text is not None else result, event.revision)
        elif event.kind == "step_unticked":
            ticked.pop((event.article_id, event.lang, event.step_number), None)
        elif event.kind == "article_opened":
            opened.setdefault((event.article_id, event.lang), (event.at, event.revision))
        elif event.kind == "search":
            searches.append(HandoffSearch(event.text, event.at))
        elif event.kind == "note":
            notes.append(HandoffNote(event.text, event.at, author))
        elif event.kind == "escalated":
            escalated_at = event.at
    steps = []
    for (article_id, lang, number), (at, result, revision) in sorted(ticked.items(), key=lambda item: item[1][0]):
        if revision is not None:
            texts = _texts_at(versions.get(revision), number)
        else:
            texts = _step_texts(step_text, article_id, lang, number)
        steps.append(HandoffStep(article_id, lang, number, at, *texts, result=result, revision=revision))
    return Handoff(
        case.id,
        case.customer_ref,
        case.channel,
        case.problem,
        case.connection_type,
        case.status,
        case.agent_name,
        case.opened_at,
        escalated_at if case.status == "escalated" else None,
        case.escalation_team,
        case.escalation_reason,
        tuple(steps),
        tuple(HandoffArticle(a, lang, at, revision) for (a, lang), (at, revision) in opened.items()),
        tuple(searches),
        tuple(notes),
    )


def _texts_at(version, number: int) -> tuple:
    step = next((s for s in version.steps if s.number == number), None) if version is not None else None
    return (step.action, step.expected) if step else (None, None)


def _step_texts(step_text: StepText | None, article_id: str, lang: str, number: int) -> tuple:
    if step_text is None:
        return (None, None)
    try:
        texts = step_text(article_id, lang, number)
    except LookupError:  # the article or step is gone since the agent ticked it
        return (None, None)
    return tuple(texts) if texts else (None, None)
