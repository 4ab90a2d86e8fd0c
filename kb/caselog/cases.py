"""The case log: one case per customer contact, with everything the agent searched, opened and did.

A case is open until it is resolved (by named articles), escalated (to a team) or closed as
unresolved / callback. A closed case is read-only; only `reopen_case` changes it, and that is
written to the audit log. Each function validates its input, then changes the database in one
transaction that is committed before it returns. Nothing here writes case contents to a log.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb.caselog import facts
from kb.caselog.revisions import check_version, remember
from kb.content.articles import Article
from kb.errors import CaseClosed, InvalidInput, NotFound
from kb.store import engine as db
from kb.store.tables import (
    CHANNELS,
    CONNECTION_TYPES,
    LANGUAGES,
    STATUSES,
    AuditLogRow,
    CaseEventRow,
    CaseResolutionRow,
    CaseRow,
    ScreenPopRow,
    UserRow,
    check_article,
    check_articles,
    check_choice,
    check_id,
    check_request_id,
    check_step,
    check_text,
)

__all__ = [
    "CHANNELS",
    "CONNECTION_TYPES",
    "STATUSES",
    "Case",
    "Event",
    "escalation_teams",
    "open_case",
    "record_search",
    "record_article_opened",
    "tick_step",
    "untick_step",
    "ticked_steps",
    "step_results",
    "add_note",
    "set_connection_type",
    "last_search",
    "take_screen_pop",
    "resolve_case",
    "escalate_case",
    "close_unresolved",
    "reopen_case",
    "get_case",
    "timeline",
    "list_cases",
]

DEFAULT_TEAMS = ("tier2", "network-operations", "field-service", "billing", "security", "tv", "mobile", "sales")


@dataclass(frozen=True)
class Case:
    id: int
    agent_id: int
    agent_name: str
    channel: str
    customer_ref: str = field(repr=False)  # kept out of repr so a logged Case leaks nothing
    problem: str = field(repr=False)
    connection_type: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    handle_seconds: int | None
    escalation_team: str | None
    escalation_reason: str | None = field(repr=False)
    outcome_note: str | None = field(repr=False)
    resolved_by: tuple[str, ...]
    reopen_count: int
    postcode: str | None = field(default=None, repr=False)  # customer data, like customer_ref
    outage_id: int | None = None
    callback: bool = False
    callback_result: str | None = None
    called_back_at: datetime | None = None


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    kind: str
    actor_name: str
    article_id: str | None
    lang: str | None
    step_number: int | None
    text: str | None = field(repr=False)
    revision: str | None = None  # the article version an article event refers to


def escalation_teams() -> tuple[str, ...]:
    """The teams a case can be escalated to: $KB_ESCALATION_TEAMS (comma separated) or the defaults."""
    configured = tuple(t.strip() for t in os.environ.get("KB_ESCALATION_TEAMS", "").split(",") if t.strip())
    return configured or DEFAULT_TEAMS


# -- reading rows -----------------------------------------------------------------------------------


def _to_case(row: CaseRow, agent_name: str, resolved_by: Iterable[str]) -> Case:
    return Case(
        row.id,
        row.agent_id,
        agent_name,
        row.channel,
        row.customer_ref,
        row.problem,
        row.connection_type,
        row.status,
        row.opened_at,
        row.closed_at,
        row.handle_seconds,
        row.escalation_team,
        row.escalation_reason,
        row.outcome_note,
        tuple(sorted(resolved_by)),
        row.reopen_count,
        row.postcode,
        row.outage_id,
        bool(row.callback),
        row.callback_result,
        row.called_back_at,
    )


def _case(session: Session, row: CaseRow) -> Case:
    session.flush()
    name = session.scalar(select(UserRow.display_name).where(UserRow.id == row.agent_id))
    resolved = session.scalars(select(CaseResolutionRow.article_id).where(CaseResolutionRow.case_id == row.id))
    return _to_case(row, name, resolved)


def _find(session: Session, case_id: int, *, lock: bool = False) -> CaseRow:
    row = session.get(CaseRow, case_id, with_for_update={"key_share": True} if lock else None)
    if row is None:
        raise NotFound(f"There is no case {case_id}; check the case number or open a new case.")
    return row


def _open_for_change(session: Session, case_id: int, actor_id: int) -> CaseRow:
    """The case, locked against concurrent status changes; refuses closed cases and unknown actors."""
    if session.get(UserRow, actor_id) is None:
        raise NotFound(f"There is no user with id {actor_id}; log in again.")
    row = _find(session, case_id, lock=True)
    if row.status != "open":
        raise CaseClosed(
            f"Case {case_id} is {row.status} and can no longer be changed; reopen it first if something must be added."
        )
    return row


def _event(
    session: Session,
    case_id: int,
    actor_id: int,
    kind: str,
    at: datetime,
    *,
    article_id: str | None = None,
    lang: str | None = None,
    step_number: int | None = None,
    text: str | None = None,
    data: dict | None = None,
    version: Article | None = None,
    request_id: str | None = None,
) -> None:
    revision = remember(session, version) if version is not None else None
    session.add(
        CaseEventRow(
            case_id=case_id,
            actor_id=actor_id,
            at=at,
            kind=kind,
            article_id=article_id,
            lang=lang,
            step_number=step_number,
            text=text,
            revision=revision,
            data=json.dumps(data) if data is not None else None,
            request_id=request_id,
        )
    )


def _record(engine: Engine, case_id: object, actor_id: object, kind: str, **fields) -> None:
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    with db.session_scope(engine) as session:
        _open_for_change(session, case_id, actor_id)
        _event(session, case_id, actor_id, kind, db.utcnow(), **fields)


# -- the case lifecycle --------------------------------------------------------------------------------


def open_case(
    engine: Engine,
    agent_id: int,
    channel: str,
    customer_ref: str,
    problem: str,
    connection_type: str = "unknown",
    *,
    request_id: str | None = None,
    demo: bool = False,
    screen_pop: bool = False,
    postcode: str | None = None,
) -> Case:
    """Start a case for one customer contact; logs an 'opened' event. `demo` marks `kb demo` history.

    `screen_pop`: opened by another system (the telephony): the problem may be empty (the agent's
    first search fills it in), and the agent's browser makes the case current (take_screen_pop).

    `request_id` is the page's id for this request: sent again (a retry after a time-out that was
    committed anyway), it returns the case opened the first time instead of opening a second one.
    """
    agent_id = check_id("agent_id", agent_id)
    channel = check_choice("channel", channel, CHANNELS, label="channel")
    customer_ref = check_text("customer_ref", customer_ref, label="customer reference", one_line=True)
    problem = check_text("problem", problem, label="problem description", required=not screen_pop)
    connection_type = check_choice("connection_type", connection_type, CONNECTION_TYPES, label="connection type")
    request_id = check_request_id(request_id)
    postcode = check_postcode(postcode)
    now = db.utcnow()
    try:
        with db.session_scope(engine) as session:
            if session.get(UserRow, agent_id) is None:
                raise NotFound(f"There is no user with id {agent_id}; log in again.")
            earlier = _case_by_request(session, agent_id, request_id)
            if earlier is not None:
                return _case(session, earlier)
            row = CaseRow(
                agent_id=agent_id,
                channel=channel,
                customer_ref=customer_ref,
                problem=problem,
                connection_type=connection_type,
                status="open",
                opened_at=now,
                reopen_count=0,
                request_id=request_id,
                is_demo=bool(demo),
                postcode=postcode,
            )
            session.add(row)
            session.flush()
            _event(session, row.id, agent_id, "opened", now)
            facts.customer_returned(session, row)
            if screen_pop:
                session.merge(ScreenPopRow(agent_id=agent_id, case_id=row.id, at=now))
            return _case(session, row)
    except IntegrityError:
        if request_id is None:
            raise
    # The same request arrived twice at once and the other one won: return its case.
    with db.session_scope(engine, readonly=True) as session:
        return _case(session, _case_by_request(session, agent_id, request_id))


def _case_by_request(session: Session, agent_id: int, request_id: str | None) -> CaseRow | None:
    if request_id is None:
        return None
    return session.scalar(select(CaseRow).where(CaseRow.agent_id == agent_id, CaseRow.request_id == request_id))


REFINE_WINDOW_SECONDS = 30


def _refines(earlier: str, later: str) -> bool:
    """True when `later` is `earlier` typed on or backspaced (search-as-you-type sends every pause)."""
    a, b = earlier.casefold(), later.casefold()
    return a.startswith(b) or b.startswith(a)


def record_search(
    engine: Engine, case_id: int, actor_id: int, query: str, top_ids: list[str], weak: bool | None = None
) -> None:
    """Log a search made for the case and the article ids it showed first.

    Search-as-you-type sends "intern", "internet li", "internet light red" within seconds; when the
    case's newest event is a search by the same agent that this query extends or shortens, made
    less than REFINE_WINDOW_SECONDS ago, that event is updated instead, so the log keeps the
    searches the agent settled on, not every keystroke pause.
    """
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    query = check_text("query", query, label="search query")
    top_ids = check_articles("top_ids", top_ids, required=False)
    data = {"top_ids": top_ids, **({"weak": bool(weak)} if weak is not None else {})}  # weak: no good match
    now = db.utcnow()
    with db.session_scope(engine) as session:
        row = _open_for_change(session, case_id, actor_id)
        last = _last_event(session, case_id)
        if (
            last is not None
            and last.kind == "search"
            and last.actor_id == actor_id
            and (now - last.at).total_seconds() < REFINE_WINDOW_SECONDS
            and _refines(last.text or "", query)
        ):
            if row.problem == last.text:  # the problem came from this search as it was being typed
                row.problem = query
            last.text, last.at, last.data = query, now, json.dumps(data)
        else:
            _event(session, case_id, actor_id, "search", now, text=query, data=data)
        if not row.problem:  # opened by the telephony without a problem: the agent's search says it
            row.problem = query


def _last_event(session: Session, case_id: int, kinds: tuple[str, ...] | None = None) -> CaseEventRow | None:
    query = select(CaseEventRow).where(CaseEventRow.case_id == case_id)
    if kinds:
        query = query.where(CaseEventRow.kind.in_(kinds))
    return session.scalars(query.order_by(CaseEventRow.id.desc()).limit(1)).first()


def _article(article_id: object, lang: object) -> dict:
    return {
        "article_id": check_article("article_id", article_id),
        "lang": check_choice("lang", lang, LANGUAGES, label="article language"),
    }


def record_article_opened(
    engine: Engine, case_id: int, actor_id: int, article_id: str, lang: str, version: Article | None = None
) -> None:
    """Log that the agent opened an article for the case; `version` is the text they were shown.

    Coming back to the article being worked on (a reload, a return after ticking steps or writing
    a note) is not logged again; it is after another search, another article or another revision.
    """
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    fields = _article(article_id, lang)
    check_version(fields["article_id"], fields["lang"], version)
    with db.session_scope(engine) as session:
        _open_for_change(session, case_id, actor_id)
        last = _last_event(session, case_id, ("search", "article_opened"))
        if (
            last is not None
            and last.kind == "article_opened"
            and last.actor_id == actor_id
            and (last.article_id, last.lang) == (fields["article_id"], fields["lang"])
            and last.revision == (version.revision if version else None)
        ):
            return
        _event(session, case_id, actor_id, "article_opened", db.utcnow(), version=version, **fields)


def tick_step(
    engine: Engine,
    case_id: int,
    actor_id: int,
    article_id: str,
    lang: str,
    step_number: int,
    result: str | None = None,
    version: Article | None = None,
) -> None:
    """Log that a step of an article was done, optionally with what it showed ("light still red").

    `version` is the article text the agent ticked it in (its step text goes into the hand-off).
    Ticking a ticked step again records a new result ("" clears it; None keeps the one there is);
    the step keeps its first time.
    """
    fields = _article(article_id, lang) | {"step_number": check_step(step_number)}
    check_version(fields["article_id"], fields["lang"], version)
    if result is not None:
        result = check_text("result", result, label="step result", required=False, limit="note")
    _record(engine, case_id, actor_id, "step_ticked", text=result, version=version, **fields)


def untick_step(engine: Engine, case_id: int, actor_id: int, article_id: str, lang: str, step_number: int) -> None:
    """Log that a step ticked earlier was not done after all."""
    fields = _article(article_id, lang) | {"step_number": check_step(step_number)}
    _record(engine, case_id, actor_id, "step_unticked", **fields)


def ticked_steps(engine: Engine, case_id: int) -> dict[tuple[str, str], set[int]]:
    """The steps ticked now (the last tick or untick of each step wins), per (article_id, lang)."""
    return {key: set(steps) for key, steps in step_results(engine, case_id).items()}


def step_results(engine: Engine, case_id: int) -> dict[tuple[str, str], dict[int, str | None]]:
    """The steps ticked now with the result recorded for each (None if none or cleared), per (article_id, lang)."""
    case_id = check_id("case_id", case_id)
    with db.session_scope(engine, readonly=True) as session:
        _find(session, case_id)
        events = session.execute(
            select(
                CaseEventRow.kind,
                CaseEventRow.article_id,
                CaseEventRow.lang,
                CaseEventRow.step_number,
                CaseEventRow.text,
            )
            .where(CaseEventRow.case_id == case_id, CaseEventRow.kind.in_(("step_ticked", "step_unticked")))
            .order_by(CaseEventRow.id)
        ).all()
    state: dict[tuple[str, str], dict[int, str | None]] = {}
    for kind, article_id, lang, step, text in events:
        steps = state.setdefault((article_id, lang), {})
        if kind == "step_unticked":
            steps.pop(step, None)
        else:
            steps[step] = (text or None) if text is not None else steps.get(step)
    return {key: steps for key, steps in state.items() if steps}


def add_note(engine: Engine, case_id: int, actor_id: int, text: str, *, request_id: str | None = None) -> bool:
    """Add a free-text note by the agent to the case; False if this `request_id` was stored already.

    A retried request (its first try timed out but was committed) changes nothing the second time,
    also when the case was closed in between.
    """
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    text = check_text("text", text, label="note", limit="note")
    request_id = check_request_id(request_id)
    try:
        with db.session_scope(engine) as session:
            if request_id is not None and _event_by_request(session, case_id, request_id):
                return False
            _open_for_change(session, case_id, actor_id)
            _event(session, case_id, actor_id, "note", db.utcnow(), text=text, request_id=request_id)
            return True
    except IntegrityError:
        if request_id is None:
            raise
    with db.session_scope(engine, readonly=True) as session:  # the same request, at the same moment
        if _event_by_request(session, case_id, request_id):
            return False
    raise RuntimeError("a note write failed on its request id, yet no note has that id")  # pragma: no cover


def set_connection_type(engine: Engine, case_id: int, actor_id: int, connection_type: str) -> Case:
    """Set or correct the connection type of an open case (the agent asked the customer again).

    Logged as a `connection_set` event with the type it replaced; setting the same type again
    changes nothing and logs nothing.
    """
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    connection_type = check_choice("connection_type", connection_type, CONNECTION_TYPES, label="connection type")
    with db.session_scope(engine) as session:
        row = _open_for_change(session, case_id, actor_id)
        if row.connection_type != connection_type:
            previous, row.connection_type = row.connection_type, connection_type
            _event(
                session, case_id, actor_id, "connection_set", db.utcnow(), text=connection_type, data={"from": previous}
            )
        return _case(session, row)


def take_screen_pop(engine: Engine, agent_id: int) -> int | None:
    """The case another system opened for the agent since their last page, once (then forgotten);
    None if there is none or it is no longer open."""
    with db.session_scope(engine) as session:
        pop = session.get(ScreenPopRow, agent_id)
        if pop is None:
            return None
        case_id = pop.case_id
        session.delete(pop)
        row = session.get(CaseRow, case_id)
        return case_id if row is not None and row.status == "open" and row.agent_id == agent_id else None


def has_screen_pop(engine: Engine, agent_id: int) -> bool:
    with db.session_scope(engine, readonly=True) as session:
        return session.get(ScreenPopRow, agent_id) is not None


def last_search(engine: Engine, case_id: int) -> str | None:
    """The query of the newest search logged on the case (the one the agent settled on), or None."""
    case_id = check_id("case_id", case_id)
    with db.session_scope(engine, readonly=True) as session:
        last = _last_event(session, case_id, ("search",))
        return last.text if last is not None else None


def _event_by_request(session: Session, case_id: int, request_id: str) -> bool:
    found = session.scalar(
        select(CaseEventRow.id).where(CaseEventRow.case_id == case_id, CaseEventRow.request_id == request_id)
    )
    return found is not None


CLOSING_KINDS = ("resolved", "escalated", "unresolved", "known_outage")


def _close(session: Session, row: CaseRow, status: str, now: datetime) -> None:
    """Close the case; its handle time is the time it was open, summed over reopenings
    (the days a case lay closed before a customer called back are not handling time)."""
    row.status, row.closed_at = status, now
    marks = session.execute(
        select(CaseEventRow.kind, CaseEventRow.at)
        .where(CaseEventRow.case_id == row.id, CaseEventRow.kind.in_(("opened", "reopened", *CLOSING_KINDS)))
        .order_by(CaseEventRow.id)
    ).all()
    seconds, started = 0.0, row.opened_at
    for kind, at in marks:
        if kind in CLOSING_KINDS and started is not None:
            seconds, started = seconds + (at - started).total_seconds(), None
        elif kind == "reopened":
            started = at
    if started is not None:
        seconds += (now - started).total_seconds()
    row.handle_seconds = max(0, round(seconds))


def resolve_case(
    engine: Engine,
    case_id: int,
    actor_id: int,
    article_ids: list[str],
    note: str = "",
    current: dict[str, Article] | None = None,
) -> Case:
    """Close the case as resolved by these articles (at least one).

    Each article is recorded with the revision the agent last worked with on this case (opened or
    ticked); one never opened on the case gets its version in `current` (what the KB shows now).
    """
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    ids = check_articles("article_ids", article_ids, required=True)
    note = check_text("note", note, label="note", required=False)
    now = db.utcnow()
    with db.session_scope(engine) as session:
        row = _open_for_change(session, case_id, actor_id)
        seen = _revisions_seen(session, case_id)
        revisions = {}
        for article_id in ids:
            revisions[article_id] = seen.get(article_id)
            if revisions[article_id] is None and current and current.get(article_id) is not None:
                check_version(article_id, current[article_id].lang, current[article_id])
                revisions[article_id] = remember(session, current[article_id])
        _close(session, row, "resolved", now)
        row.outcome_note = note or None
        session.add_all(CaseResolutionRow(case_id=case_id, article_id=a, revision=revisions[a]) for a in ids)
        known = {a: r for a, r in revisions.items() if r}
        _event(
            session,
            case_id,
            actor_id,
            "resolved",
            now,
            text=note or None,
            data={"article_ids": ids, **({"revisions": known} if known else {})},
        )
        facts.record(session, row)
        return _case(session, row)


def _revisions_seen(session: Session, case_id: int) -> dict[str, str]:
    """Per article id, the revision of the last article event on the case that recorded one."""
    rows = session.execute(
        select(CaseEventRow.article_id, CaseEventRow.revision)
        .where(CaseEventRow.case_id == case_id, CaseEventRow.revision.is_not(None))
        .order_by(CaseEventRow.id)
    ).all()
    return {article_id: revision for article_id, revision in rows}


def escalate_case(
    engine: Engine,
    case_id: int,
    actor_id: int,
    team: str,
    reason: str,
    *,
    outbox: Callable[[Session, int], object] | None = None,
    outages: list[dict] | None = None,
) -> Case:
    """Close the case as escalated to `team` (one of escalation_teams()), saying why.

    `outages`: the known outages at the caller's postcode now ({"id", "status", "message_nl",
    "message_en"}), recorded with the escalation so that the hand-off says it happened during one.

    `outbox(session, case_id)` runs inside the escalating transaction, after the case is closed:
    a notification it writes (kb.integrations.webhook.add_delivery) is committed with the
    escalation or not at all, so no escalation goes unannounced and no announcement is false.
    """
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    team = check_choice("team", team, escalation_teams(), label="team")
    reason = check_text("reason", reason, label="reason for escalating")
    now = db.utcnow()
    with db.session_scope(engine) as session:
        row = _open_for_change(session, case_id, actor_id)
        _close(session, row, "escalated", now)
        row.escalation_team, row.escalation_reason = team, reason
        data = {"team": team, **({"outages": list(outages)} if outages else {})}
        _event(session, case_id, actor_id, "escalated", now, text=reason, data=data)
        facts.record(session, row)
        if outbox is not None:
            session.flush()
            outbox(session, case_id)
        return _case(session, row)


def close_unresolved(engine: Engine, case_id: int, actor_id: int, reason: str) -> Case:
    """Close the case as unresolved / callback, saying why."""
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    reason = check_text("reason", reason, label="reason")
    now = db.utcnow()
    with db.session_scope(engine) as session:
        row = _open_for_change(session, case_id, actor_id)
        _close(session, row, "unresolved", now)
        row.outcome_note = reason
        _event(session, case_id, actor_id, "unresolved", now, text=reason)
        facts.record(session, row)
        return _case(session, row)


POSTCODE = re.compile(r"\s*([1-9][0-9]{3})\s?([A-Za-z]{2})\s*\Z")


def check_postcode(value: object) -> str | None:
    """A Dutch postcode normalised to 1234AB ("3011 ab" too), or None for none; InvalidInput otherwise.
    (The same rule as kb.outages.register.normalise_postcode, which this layer cannot import.)"""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match = POSTCODE.match(value) if isinstance(value, str) else None
    if match is None or match.group(2).upper() in ("SA", "SD", "SS"):
        raise InvalidInput("postcode", "A Dutch postcode looks like 1234AB (four digits, two letters).")
    return match.group(1) + match.group(2).upper()


def set_postcode(engine: Engine, case_id: int, actor_id: int, postcode: object) -> Case:
    """Set or correct the postcode of an open case (None or "": remove it). Not logged as an event:
    it is customer data, kept on the case only (and purged with the customer reference)."""
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    postcode = check_postcode(postcode)
    with db.session_scope(engine) as session:
        row = _open_for_change(session, case_id, actor_id)
        row.postcode = postcode
        return _case(session, row)


def close_known_outage(
    engine: Engine, case_id: int, actor_id: int, outage_id: int, callback: bool = False, note: str = ""
) -> Case:
    """Close the case as part of a known outage: linked to it, optionally to be called back when it
    is fixed. Neither a first-line resolution nor an escalation (kb.analytics counts it apart)."""
    from kb.store.tables import OutageRow

    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    outage_id = check_id("outage_id", outage_id)
    if outage_id > 2**31 - 1:
        raise InvalidInput("outage_id", f"There is no outage {outage_id}; reload the page.")
    note = check_text("note", note, label="note", required=False)
    if not isinstance(callback, bool):
        raise InvalidInput("callback", "Say whether the customer wants a callback (true or false).")
    now = db.utcnow()
    with db.session_scope(engine) as session:
        row = _open_for_change(session, case_id, actor_id)
        if session.get(OutageRow, outage_id) is None:
            raise InvalidInput("outage_id", f"There is no outage {outage_id}; reload the page.")
        _close(session, row, "known_outage", now)
        row.outage_id, row.callback, row.outcome_note = outage_id, callback, note or None
        row.callback_result = row.called_back_at = None
        _event(
            session,
            case_id,
            actor_id,
            "known_outage",
            now,
            text=note or None,
            data={"outage_id": outage_id, "callback": callback},
        )
        facts.record(session, row)
        return _case(session, row)


CALLBACK_RESULTS = ("restored", "still_broken")


def record_callback(engine: Engine, case_id: int, actor_id: int, result: str, note: str = "") -> Case:
    """The customer of a known-outage case was called back: `restored` (done), or `still_broken`
    (the case is reopened as a normal one, with the callback as the reason)."""
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    result = check_choice("result", result, CALLBACK_RESULTS, label="callback result")
    note = check_text("note", note, label="note", required=False)
    now = db.utcnow()
    with db.session_scope(engine) as session:
        if session.get(UserRow, actor_id) is None:
            raise NotFound(f"There is no user with id {actor_id}; log in again.")
        row = _find(session, case_id, lock=True)
        if row.status != "known_outage" or not row.callback:
            raise InvalidInput("case_id", f"Case {case_id} is not waiting for a callback.")
        if row.callback_result is not None:
            raise InvalidInput("case_id", f"Case {case_id} was called back already.")
        row.callback_result, row.called_back_at = result, now
        _event(session, case_id, actor_id, "called_back", now, text=note or None, data={"result": result})
    if result == "still_broken":
        return reopen_case(engine, case_id, actor_id, note or "Called back after the outage: still broken.")
    return get_case(engine, case_id)


def reopen_case(engine: Engine, case_id: int, actor_id: int, reason: str) -> Case:
    """Open a closed case again; the old outcome goes to the audit log and a 'reopened' event."""
    case_id, actor_id = check_id("case_id", case_id), check_id("actor_id", actor_id)
    reason = check_text("reason", reason, label="reason for reopening")
    now = db.utcnow()
    with db.session_scope(engine) as session:
        if session.get(UserRow, actor_id) is None:
            raise NotFound(f"There is no user with id {actor_id}; log in again.")
        row = _find(session, case_id, lock=True)
        if row.status == "open":
            raise InvalidInput("case_id", f"Case {case_id} is already open; there is nothing to reopen.")
        before = _case(session, row)
        session.add(
            AuditLogRow(
                at=now,
                actor_id=actor_id,
                action="reopen_case",
                target=f"case:{case_id}",
                detail=json.dumps(
                    {
                        "reason": reason,
                        "status": before.status,
                        "closed_at": before.closed_at.isoformat(),
                        "handle_seconds": before.handle_seconds,
                        "escalation_team": before.escalation_team,
                        "resolved_by": list(before.resolved_by),
                    }
                ),
            )
        )
        session.execute(delete(CaseResolutionRow).where(CaseResolutionRow.case_id == case_id))
        facts.forget(session, case_id)
        row.status, row.closed_at, row.handle_seconds = "open", None, None
        row.escalation_team = row.escalation_reason = row.outcome_note = None
        row.reopen_count += 1
        _event(session, case_id, actor_id, "reopened", now, text=reason, data={"previous_status": before.status})
        return _case(session, row)


# -- reading -----------------------------------------------------------------------------------------


def get_case(engine: Engine, case_id: int) -> Case:
    """The case with this id; NotFound if there is none."""
    case_id = check_id("case_id", case_id)
    with db.session_scope(engine, readonly=True) as session:
        return _case(session, _find(session, case_id))


def timeline(engine: Engine, case_id: int) -> list[Event]:
    """Everything logged for the case, oldest first."""
    case_id = check_id("case_id", case_id)
    with db.session_scope(engine, readonly=True) as session:
        _find(session, case_id)
        rows = session.execute(
            select(CaseEventRow, UserRow.display_name)
            .join(UserRow, UserRow.id == CaseEventRow.actor_id)
            .where(CaseEventRow.case_id == case_id)
            .order_by(CaseEventRow.id)
        ).all()
    return [
        Event(e.id, e.at, e.kind, name, e.article_id, e.lang, e.step_number, e.text, e.revision) for e, name in rows
    ]


def list_cases(engine: Engine, agent_id: int | None = None, status: str | None = None, limit: int = 50) -> list[Case]:
    """The newest cases first, optionally only one agent's and/or one status."""
    query = select(CaseRow, UserRow.display_name).join(UserRow, UserRow.id == CaseRow.agent_id)
    if agent_id is not None:
        query = query.where(CaseRow.agent_id == check_id("agent_id", agent_id))
    if status is not None:
        query = query.where(CaseRow.status == check_choice("status", status, STATUSES, label="status"))
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput("limit", "The limit must be a whole number from 1 to 1000.")
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(query.order_by(CaseRow.opened_at.desc(), CaseRow.id.desc()).limit(limit)).all()
        resolved: dict[int, list[str]] = {}
        for case_id, article_id in session.execute(
            select(CaseResolutionRow.case_id, CaseResolutionRow.article_id).where(
                CaseResolutionRow.case_id.in_([r.id for r, _ in rows])
            )
        ):
            resolved.setdefault(case_id, []).append(article_id)
    return [_to_case(row, name, resolved.get(row.id, ())) for row, name in rows]
