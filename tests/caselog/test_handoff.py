"""The escalation hand-off, checked field by field, as data, as a dict and as text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from kb.caselog.cases import (
    add_note,
    escalate_case,
    open_case,
    record_article_opened,
    record_search,
    reopen_case,
    tick_step,
    untick_step,
)
from kb.caselog.handoff import Handoff, HandoffArticle, HandoffNote, HandoffSearch, HandoffStep, build_handoff
from kb.identity.users import create_user

STEPS = {
    ("dsl-no-sync", "en", 1): ("Check the telephone cable.", "The cable clicks in."),
    ("dsl-no-sync", "en", 2): ("Remove any splitter.", "The DSL light goes steady."),
}


def step_text(article_id, lang, number):
    return STEPS[(article_id, lang, number)]  # KeyError for unknown steps, as a dict lookup gives


@pytest.fixture
def escalated(engine, agent, clock):
    t0 = clock.now
    case = open_case(engine, agent.id, "chat", "KLANT-42", "No internet.\nDSL light blinks.", "dsl")
    clock.advance(10)
    record_search(engine, case.id, agent.id, 'dsl "blinking"', ["dsl-no-sync"])
    clock.advance(10)
    record_article_opened(engine, case.id, agent.id, "dsl-no-sync", "en")
    clock.advance(10)
    record_article_opened(engine, case.id, agent.id, "check-area-outage", "nl")
    record_article_opened(engine, case.id, agent.id, "dsl-no-sync", "en")  # again: listed once
    clock.advance(10)
    for step in (1, 2, 3):
        tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", step)
        clock.advance(10)
    untick_step(engine, case.id, agent.id, "dsl-no-sync", "en", 3)
    tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", 2, "Steady for a minute.")
    tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", 2, " Steady, then blinking again. ")  # newest wins
    colleague = create_user(engine, "bert", "another password", "agent", display_name="Bert Jansen")
    add_note(engine, case.id, colleague.id, "Customer already rebooted twice.")
    clock.advance(30)
    escalate_case(engine, case.id, agent.id, "tier2", "Still no sync after all steps.")
    return case, t0


def test_handoff_field_by_field(engine, escalated):
    case, t0 = escalated
    h = build_handoff(engine, case.id, step_text=step_text)
    at = lambda seconds: t0 + timedelta(seconds=seconds)  # noqa: E731
    assert h == Handoff(
        case_id=case.id,
        customer_ref="KLANT-42",
        channel="chat",
        problem="No internet.\nDSL light blinks.",
        connection_type="dsl",
        status="escalated",
        agent_name="Anna de Vries",
        opened_at=t0,
        escalated_at=at(100),
        team="tier2",
        reason="Still no sync after all steps.",
        steps=(
            HandoffStep("dsl-no-sync", "en", 1, at(40), "Check the telephone cable.", "The cable clicks in."),
            HandoffStep(
                "dsl-no-sync",
                "en",
                2,
                at(50),
                "Remove any splitter.",
                "The DSL light goes steady.",
                "Steady, then blinking again.",
            ),
        ),
        articles_tried=(HandoffArticle("dsl-no-sync", "en", at(20)), HandoffArticle("check-area-outage", "nl", at(30))),
        searches=(HandoffSearch('dsl "blinking"', at(10)),),
        notes=(HandoffNote("Customer already rebooted twice.", at(70), "Bert Jansen"),),
    )


def test_without_step_text_the_step_texts_are_empty(engine, escalated):
    case, _ = escalated
    steps = build_handoff(engine, case.id).steps
    assert [(s.step_number, s.action, s.expected) for s in steps] == [(1, None, None), (2, None, None)]


def test_step_text_may_not_know_a_step(engine, agent, escalated):
    case, _ = escalated
    reopen_case(engine, case.id, agent.id, "one more step")
    tick_step(engine, case.id, agent.id, "dsl-no-sync", "nl", 9)
    steps = build_handoff(engine, case.id, step_text=step_text).steps
    assert (steps[-1].step_number, steps[-1].action) == (9, None)


def test_as_dict_is_json_ready(engine, escalated):
    case, t0 = escalated
    d = json.loads(json.dumps(build_handoff(engine, case.id, step_text=step_text).as_dict()))
    assert d["customer_ref"] == "KLANT-42" and d["team"] == "tier2" and d["agent"] == "Anna de Vries"
    assert d["opened_at"] == t0.isoformat() and d["opened_at"].endswith("+00:00")
    assert d["escalated_at"] == (t0 + timedelta(seconds=100)).isoformat()
    assert d["steps_done"][1] == {
        "article_id": "dsl-no-sync",
        "lang": "en",
        "step": 2,
        "done_at": (t0 + timedelta(seconds=50)).isoformat(),
        "action": "Remove any splitter.",
        "expected": "The DSL light goes steady.",
        "result": "Steady, then blinking again.",
        "revision": None,
    }
    assert [a["article_id"] for a in d["articles_tried"]] == ["dsl-no-sync", "check-area-outage"]
    assert d["searches"] == [{"query": 'dsl "blinking"', "at": (t0 + timedelta(seconds=10)).isoformat()}]
    assert d["notes"][0]["author"] == "Bert Jansen" and d["reason"] == "Still no sync after all steps."


def test_as_text_has_labelled_lines(engine, escalated):
    case, _ = escalated
    text = build_handoff(engine, case.id, step_text=step_text).as_text()
    lines = text.splitlines()
    assert lines[0] == f"Escalation hand-off for case {case.id}"
    for expected in (
        "Team: tier2",
        "Reason: Still no sync after all steps.",
        "Customer reference: KLANT-42",
        "Channel: chat",
        "Connection type: dsl",
        "Agent: Anna de Vries",
        "Opened: 2026-11-25 09:00:00 UTC",
        "Escalated: 2026-11-25 09:01:40 UTC",
        "Problem: No internet.",
        "  DSL light blinks.",
        "Steps done (2):",
        "- dsl-no-sync (en) step 1, done 2026-11-25 09:00:40 UTC",
        "  Action: Check the telephone cable.",
        "  Expected: The cable clicks in.",
        "  Result: Steady, then blinking again.",
        "Articles tried (2):",
        "- check-area-outage (nl), opened 2026-11-25 09:00:30 UTC",
        "Searches (1):",
        '- 2026-11-25 09:00:10 UTC: "dsl \\"blinking\\""',
        "Agent notes (1):",
        "- 2026-11-25 09:01:10 UTC Bert Jansen: Customer already rebooted twice.",
    ):
        assert expected in lines, expected
    assert "step 3" not in text  # unticked
    assert text.endswith("\n")


def test_handoff_of_an_open_case_has_no_team(engine, agent):
    case = open_case(engine, agent.id, "phone", "C-9", "slow")
    h = build_handoff(engine, case.id)
    assert (h.status, h.team, h.reason, h.escalated_at, h.steps, h.notes) == ("open", None, None, None, (), ())
    assert "Team: -" in h.as_text() and "Steps done (0):" in h.as_text()


def test_repr_hides_customer_data(engine, escalated):
    case, _ = escalated
    assert "KLANT-42" not in repr(build_handoff(engine, case.id))


def test_no_field_can_forge_a_labelled_line(engine, clock):
    forger = create_user(engine, "mallory", "another password", "agent", display_name="Eve\nTeam: security")
    assert forger.display_name == "Eve Team: security"  # names are one line from the start
    case = open_case(engine, forger.id, "chat", "KLANT-1\rTeam: billing", "No internet.\nTeam: billing", "dsl")
    add_note(engine, case.id, forger.id, "line one\nTeam: billing\u2028Reason: none")
    escalate_case(engine, case.id, forger.id, "tier2", "why\nCustomer reference: SOMEONE-ELSE")
    text = build_handoff(engine, case.id).as_text()
    labelled = [line for line in text.splitlines() if re.match(r"^[A-Z][a-z ]+: ", line)]
    assert [line.split(":")[0] for line in labelled] == [
        "Team",
        "Reason",
        "Customer reference",
        "Channel",
        "Connection type",
        "Agent",
        "Opened",
        "Escalated",
        "Problem",
    ]


def test_a_name_stored_with_a_line_break_stays_on_one_line():
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    h = Handoff(
        1,
        "K-1",
        "chat",
        "p",
        "dsl",
        "escalated",
        "Eve\nTeam: security",
        now,
        now,
        "tier2",
        "r",
        (),
        (),
        (),
        (HandoffNote("n", now, "Bob\nReason: x"),),
    )
    lines = h.as_text().splitlines()
    assert "Agent: Eve Team: security" in lines and not any(line.startswith("Team: security") for line in lines)
    assert any(line.endswith("Bob Reason: x: n") for line in lines)
