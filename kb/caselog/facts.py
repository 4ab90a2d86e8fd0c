"""Case facts: one row per closed case with what analytics count (docs/metrics.md), kept current.

Computing the figures from the raw event log means reading every event of every case of the
period; with 100,000 cases that takes seconds. Instead each closing writes the case's facts (in
the same transaction): outcome, closing day, handle time, whether an article was linked, the
searches and weak searches, the last step ticked, and the articles used. Reopening removes them
until the case closes again. `repeat` (the same customer opened another case within
KB_REPEAT_DAYS after this one closed) is set when that later case is opened, and worked out again
whenever the facts are written. The facts hold no customer data, so the counts outlive retention.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from kb.store.tables import (
    CaseEventRow,
    CaseFactArticleRow,
    CaseFactRow,
    CaseResolutionRow,
    CaseRow,
    UserRow,
)

LINK_KINDS = ("article_opened", "step_ticked")
WEAK_MARK = '"weak": true'  # how record_search stores a weak match in the event's JSON data


def repeat_days() -> int:
    raw = os.environ.get("KB_REPEAT_DAYS") or "7"
    try:
        return max(1, int(raw))
    except ValueError:
        return 7


def _facts_from(case: CaseRow, team: str | None, events, resolutions, repeat: bool):
    searches = weak = 0
    last_step = None
    used: dict[str, dict] = {}
    for event in events:  # oldest first
        if event.kind == "search":
            searches += 1
            weak += bool(event.data and WEAK_MARK in event.data)
        elif event.kind in LINK_KINDS and event.article_id:
            entry = used.setdefault(event.article_id, {"lang": event.lang, "opened": False, "resolved": False})
            entry["opened"] |= event.kind == "article_opened"
            if event.kind == "step_ticked":
                last_step = (event.article_id, event.step_number)
    for article_id in resolutions:
        used.setdefault(article_id, {"lang": None, "opened": False, "resolved": False})["resolved"] = True
    fact = CaseFactRow(
        case_id=case.id,
        closed_at=case.closed_at,
        closed_day=case.closed_at.date().isoformat(),
        status=case.status,
        reopen_count=case.reopen_count or 0,
        handle_seconds=case.handle_seconds or 0,
        channel=case.channel,
        escalation_team=case.escalation_team,
        agent_team=team,
        is_demo=bool(case.is_demo),
        linked=bool(used),
        repeat=repeat,
        searches=searches,
        weak_searches=weak,
        last_step_article=last_step[0] if last_step else None,
        last_step=last_step[1] if last_step else None,
    )
    articles = [
        CaseFactArticleRow(case_id=case.id, article_id=a, lang=v["lang"], opened=v["opened"], resolved=v["resolved"])
        for a, v in used.items()
    ]
    return fact, articles


def _came_back(session: Session, case: CaseRow) -> bool:
    found = session.scalar(
        select(func.count())
        .select_from(CaseRow)
        .where(
            CaseRow.customer_ref == case.customer_ref,
            CaseRow.id != case.id,
            CaseRow.opened_at > case.closed_at,
            CaseRow.opened_at <= case.closed_at + timedelta(days=repeat_days()),
        )
    )
    return bool(found)


def forget(session: Session, case_id: int) -> None:
    """The case is open again: it is in no closed-case figure until it closes."""
    session.execute(delete(CaseFactArticleRow).where(CaseFactArticleRow.case_id == case_id))
    session.execute(delete(CaseFactRow).where(CaseFactRow.case_id == case_id))


def record(session: Session, case: CaseRow) -> None:
    """Write the facts of a case that has just been closed (call after its resolutions are added)."""
    session.flush()
    forget(session, case.id)
    events = session.scalars(
        select(CaseEventRow).where(CaseEventRow.case_id == case.id).order_by(CaseEventRow.id)
    ).all()
    resolutions = session.scalars(select(CaseResolutionRow.article_id).where(CaseResolutionRow.case_id == case.id))
    team = session.scalar(select(UserRow.team).where(UserRow.id == case.agent_id))
    fact, articles = _facts_from(case, team, events, list(resolutions), _came_back(session, case))
    session.add(fact)
    session.flush()
    session.add_all(articles)


def customer_returned(session: Session, case: CaseRow) -> None:
    """A new case for this customer: their cases closed within the window before it are repeats."""
    earlier = select(CaseRow.id).where(
        CaseRow.customer_ref == case.customer_ref,
        CaseRow.id != case.id,
        CaseRow.closed_at.is_not(None),
        CaseRow.closed_at < case.opened_at,
        CaseRow.closed_at >= case.opened_at - timedelta(days=repeat_days()),
    )
    session.execute(update(CaseFactRow).where(CaseFactRow.case_id.in_(earlier)).values(repeat=True))


def rebuild(engine: Engine) -> int:
    """Write the facts of every closed case from the log (a bulk load, a repair); returns the count."""
    from kb.store import engine as db

    with db.session_scope(engine) as session:
        return rebuild_in(session)


def rebuild_in(session: Session, batch: int = 2000) -> int:
    """`rebuild` inside the caller's transaction (the migration that adds the facts uses it)."""
    session.execute(delete(CaseFactArticleRow))
    session.execute(delete(CaseFactRow))
    ids = session.scalars(select(CaseRow.id).where(CaseRow.status != "open").order_by(CaseRow.id)).all()
    teams = dict(session.execute(select(UserRow.id, UserRow.team)).all())
    window = timedelta(days=repeat_days())
    for start in range(0, len(ids), batch):
        part = ids[start : start + batch]
        cases = session.scalars(select(CaseRow).where(CaseRow.id.in_(part))).all()
        events = defaultdict(list)
        for event in session.scalars(
            select(CaseEventRow)
            .where(CaseEventRow.case_id.in_(part), CaseEventRow.kind.in_(("search", *LINK_KINDS)))
            .order_by(CaseEventRow.id)
        ):
            events[event.case_id].append(event)
        resolutions = defaultdict(list)
        for case_id, article_id in session.execute(
            select(CaseResolutionRow.case_id, CaseResolutionRow.article_id).where(CaseResolutionRow.case_id.in_(part))
        ):
            resolutions[case_id].append(article_id)
        refs = {c.customer_ref for c in cases}
        openings = defaultdict(list)
        for ref, opened in session.execute(
            select(CaseRow.customer_ref, CaseRow.opened_at).where(CaseRow.customer_ref.in_(refs))
        ):
            openings[ref].append(opened)
        facts, articles = [], []
        for case in cases:
            came_back = any(case.closed_at < o <= case.closed_at + window for o in openings[case.customer_ref])
            fact, used = _facts_from(case, teams.get(case.agent_id), events[case.id], resolutions[case.id], came_back)
            facts.append(fact)
            articles.extend(used)
        session.add_all(facts)
        session.flush()
        session.add_all(articles)
        session.flush()
        session.expunge_all()
    return len(ids)
