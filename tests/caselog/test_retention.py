"""Retention: old closed cases lose their customer details and keep what analytics count."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from kb.caselog.cases import add_note, escalate_case, get_case, open_case, record_search, tick_step, timeline
from kb.caselog.gaps import GapTable, flag_gap
from kb.caselog.retention import PURGED, purge
from kb.errors import InvalidInput, LoginFailed
from kb.identity.users import authenticate
from kb.integrations.webhook import list_deliveries, queue_handoff
from kb.store.engine import session_scope
from kb.store.tables import LoginAttemptRow


def a_worked_case(engine, agent, ref):
    case = open_case(engine, agent.id, "phone", ref, f"problem of {ref}", "dsl")
    record_search(engine, case.id, agent.id, f"search by {ref}", ["dsl-no-sync"])
    tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", 1, f"result for {ref}")
    add_note(engine, case.id, agent.id, f"note about {ref}")
    return case


def test_old_closed_cases_lose_customer_details_and_keep_their_shape(engine, agent, clock):
    old = a_worked_case(engine, agent, "KLANT-OLD")
    escalate_case(engine, old.id, agent.id, "tier2", "reason about KLANT-OLD")
    queue_handoff(engine, old.id, "https://tickets.example.com/hook", {"customer_ref": "KLANT-OLD"})
    flag_gap(GapTable(engine), "gap query by KLANT-OLD", "nl", agent.id)
    with pytest.raises(LoginFailed):
        authenticate(engine, "anna", "wrong password", "10.0.0.1")
    clock.advance(100 * 24 * 3600)
    still_open = a_worked_case(engine, agent, "KLANT-OPEN")
    recent = a_worked_case(engine, agent, "KLANT-NEW")
    escalate_case(engine, recent.id, agent.id, "tier2", "reason about KLANT-NEW")
    kinds_before = [e.kind for e in timeline(engine, old.id)]
    cutoff = clock.now - timedelta(days=90)

    dry = purge(engine, cutoff, dry_run=True)
    assert (dry.cases, dry.events, dry.deliveries, dry.gaps, dry.login_attempts) == (1, 4, 1, 1, 1)
    assert get_case(engine, old.id).customer_ref == "KLANT-OLD"  # a dry run changes nothing

    report = purge(engine, cutoff)
    assert report == dry
    purged = get_case(engine, old.id)
    assert (purged.customer_ref, purged.problem, purged.escalation_reason) == (PURGED, PURGED, None)
    assert (purged.status, purged.escalation_team, purged.handle_seconds) == ("escalated", "tier2", 0)
    events = timeline(engine, old.id)
    assert [e.kind for e in events] == kinds_before
    assert all(e.text in (None, PURGED) for e in events)
    assert [(e.article_id, e.step_number) for e in events if e.kind == "step_ticked"] == [("dsl-no-sync", 1)]
    assert list_deliveries(engine, case_id=old.id) == []
    assert [g.query for g in GapTable(engine).recent()] == [PURGED]
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(LoginAttemptRow)) == 0
    for case, ref in ((still_open, "KLANT-OPEN"), (recent, "KLANT-NEW")):
        assert get_case(engine, case.id).customer_ref == ref
        assert any(e.text and ref in e.text for e in timeline(engine, case.id))
    assert purge(engine, cutoff).cases == 0  # again: nothing more to do


def test_the_cut_off_must_be_aware(engine):
    with pytest.raises(InvalidInput, match="timezone-aware"):
        purge(engine, datetime(2026, 1, 1))
