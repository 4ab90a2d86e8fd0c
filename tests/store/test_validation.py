"""Bad input for every case, hand-off and webhook function: a clear error, and nothing changes."""

from __future__ import annotations

import pytest

from kb.caselog import cases, handoff
from kb.errors import InvalidInput, NotFound
from kb.integrations import webhook

LONG = "x" * 5001
UNKNOWN = 987654

# name -> (call(engine, case_id, user_id), expected exception, field for InvalidInput)
BAD = {
    "open: agent id as text": (
        lambda e, c, u: cases.open_case(e, str(u), "phone", "C-1", "p"),
        InvalidInput,
        "agent_id",
    ),
    "open: agent id bool": (lambda e, c, u: cases.open_case(e, True, "phone", "C-1", "p"), InvalidInput, "agent_id"),
    "open: unknown agent": (lambda e, c, u: cases.open_case(e, UNKNOWN, "phone", "C-1", "p"), NotFound, None),
    "open: channel": (lambda e, c, u: cases.open_case(e, u, "fax", "C-1", "p"), InvalidInput, "channel"),
    "open: channel missing": (lambda e, c, u: cases.open_case(e, u, None, "C-1", "p"), InvalidInput, "channel"),
    "open: empty customer ref": (
        lambda e, c, u: cases.open_case(e, u, "chat", "   ", "p"),
        InvalidInput,
        "customer_ref",
    ),
    "open: customer ref not text": (
        lambda e, c, u: cases.open_case(e, u, "chat", 1234, "p"),
        InvalidInput,
        "customer_ref",
    ),
    "open: customer ref too long": (
        lambda e, c, u: cases.open_case(e, u, "chat", "C" * 101, "p"),
        InvalidInput,
        "customer_ref",
    ),
    "open: problem missing": (lambda e, c, u: cases.open_case(e, u, "chat", "C-1", None), InvalidInput, "problem"),
    "open: problem too long": (lambda e, c, u: cases.open_case(e, u, "chat", "C-1", LONG), InvalidInput, "problem"),
    "open: connection type": (
        lambda e, c, u: cases.open_case(e, u, "chat", "C-1", "p", "adsl"),
        InvalidInput,
        "connection_type",
    ),
    "search: empty query": (lambda e, c, u: cases.record_search(e, c, u, "", []), InvalidInput, "query"),
    "search: query too long": (lambda e, c, u: cases.record_search(e, c, u, "q" * 5001, []), InvalidInput, "query"),
    "search: query not text": (lambda e, c, u: cases.record_search(e, c, u, ["q"], []), InvalidInput, "query"),
    "search: top ids a string": (
        lambda e, c, u: cases.record_search(e, c, u, "q", "dsl-no-sync"),
        InvalidInput,
        "top_ids",
    ),
    "search: top id not an id": (
        lambda e, c, u: cases.record_search(e, c, u, "q", ["DSL No Sync"]),
        InvalidInput,
        "top_ids",
    ),
    "search: top ids None": (lambda e, c, u: cases.record_search(e, c, u, "q", None), InvalidInput, "top_ids"),
    "search: unknown case": (lambda e, c, u: cases.record_search(e, UNKNOWN, u, "q", []), NotFound, None),
    "search: unknown actor": (lambda e, c, u: cases.record_search(e, c, UNKNOWN, "q", []), NotFound, None),
    "search: case id as text": (lambda e, c, u: cases.record_search(e, str(c), u, "q", []), InvalidInput, "case_id"),
    "opened: article id empty": (
        lambda e, c, u: cases.record_article_opened(e, c, u, "", "en"),
        InvalidInput,
        "article_id",
    ),
    "opened: article id path": (
        lambda e, c, u: cases.record_article_opened(e, c, u, "../etc/passwd", "en"),
        InvalidInput,
        "article_id",
    ),
    "opened: article id too long": (
        lambda e, c, u: cases.record_article_opened(e, c, u, "a" * 201, "en"),
        InvalidInput,
        "article_id",
    ),
    "opened: lang": (lambda e, c, u: cases.record_article_opened(e, c, u, "dsl-no-sync", "de"), InvalidInput, "lang"),
    "opened: unknown case": (
        lambda e, c, u: cases.record_article_opened(e, UNKNOWN, u, "dsl-no-sync", "en"),
        NotFound,
        None,
    ),
    "tick: step zero": (lambda e, c, u: cases.tick_step(e, c, u, "dsl-no-sync", "en", 0), InvalidInput, "step_number"),
    "tick: step as text": (
        lambda e, c, u: cases.tick_step(e, c, u, "dsl-no-sync", "en", "2"),
        InvalidInput,
        "step_number",
    ),
    "tick: step bool": (
        lambda e, c, u: cases.tick_step(e, c, u, "dsl-no-sync", "en", True),
        InvalidInput,
        "step_number",
    ),
    "tick: step too big": (
        lambda e, c, u: cases.tick_step(e, c, u, "dsl-no-sync", "en", 1000),
        InvalidInput,
        "step_number",
    ),
    "tick: lang": (lambda e, c, u: cases.tick_step(e, c, u, "dsl-no-sync", None, 1), InvalidInput, "lang"),
    "tick: unknown case": (lambda e, c, u: cases.tick_step(e, UNKNOWN, u, "dsl-no-sync", "en", 1), NotFound, None),
    "untick: step negative": (
        lambda e, c, u: cases.untick_step(e, c, u, "dsl-no-sync", "en", -1),
        InvalidInput,
        "step_number",
    ),
    "untick: article id": (lambda e, c, u: cases.untick_step(e, c, u, 5, "en", 1), InvalidInput, "article_id"),
    "untick: unknown actor": (lambda e, c, u: cases.untick_step(e, c, UNKNOWN, "dsl-no-sync", "en", 1), NotFound, None),
    "ticked: unknown case": (lambda e, c, u: cases.ticked_steps(e, UNKNOWN), NotFound, None),
    "ticked: case id None": (lambda e, c, u: cases.ticked_steps(e, None), InvalidInput, "case_id"),
    "note: empty": (lambda e, c, u: cases.add_note(e, c, u, " \n "), InvalidInput, "text"),
    "note: too long": (lambda e, c, u: cases.add_note(e, c, u, LONG), InvalidInput, "text"),
    "note: not text": (lambda e, c, u: cases.add_note(e, c, u, 5), InvalidInput, "text"),
    "note: unknown case": (lambda e, c, u: cases.add_note(e, UNKNOWN, u, "hello"), NotFound, None),
    "resolve: no articles": (lambda e, c, u: cases.resolve_case(e, c, u, []), InvalidInput, "article_ids"),
    "resolve: articles None": (lambda e, c, u: cases.resolve_case(e, c, u, None), InvalidInput, "article_ids"),
    "resolve: articles a string": (
        lambda e, c, u: cases.resolve_case(e, c, u, "dsl-no-sync"),
        InvalidInput,
        "article_ids",
    ),
    "resolve: bad article id": (
        lambda e, c, u: cases.resolve_case(e, c, u, ["dsl-no-sync", "Bad Id"]),
        InvalidInput,
        "article_ids",
    ),
    "resolve: note too long": (
        lambda e, c, u: cases.resolve_case(e, c, u, ["dsl-no-sync"], LONG),
        InvalidInput,
        "note",
    ),
    "resolve: note not text": (lambda e, c, u: cases.resolve_case(e, c, u, ["dsl-no-sync"], 3), InvalidInput, "note"),
    "resolve: unknown case": (lambda e, c, u: cases.resolve_case(e, UNKNOWN, u, ["dsl-no-sync"]), NotFound, None),
    "resolve: unknown actor": (lambda e, c, u: cases.resolve_case(e, c, UNKNOWN, ["dsl-no-sync"]), NotFound, None),
    "escalate: team": (lambda e, c, u: cases.escalate_case(e, c, u, "the-moon", "why"), InvalidInput, "team"),
    "escalate: team missing": (lambda e, c, u: cases.escalate_case(e, c, u, None, "why"), InvalidInput, "team"),
    "escalate: reason missing": (lambda e, c, u: cases.escalate_case(e, c, u, "tier2", ""), InvalidInput, "reason"),
    "escalate: reason too long": (
        lambda e, c, u: cases.escalate_case(e, c, u, "tier2", "r" * 2001),
        InvalidInput,
        "reason",
    ),
    "escalate: unknown case": (lambda e, c, u: cases.escalate_case(e, UNKNOWN, u, "tier2", "why"), NotFound, None),
    "unresolved: reason missing": (lambda e, c, u: cases.close_unresolved(e, c, u, None), InvalidInput, "reason"),
    "unresolved: reason too long": (
        lambda e, c, u: cases.close_unresolved(e, c, u, "r" * 2001),
        InvalidInput,
        "reason",
    ),
    "unresolved: unknown actor": (lambda e, c, u: cases.close_unresolved(e, c, UNKNOWN, "why"), NotFound, None),
    "reopen: reason missing": (lambda e, c, u: cases.reopen_case(e, c, u, ""), InvalidInput, "reason"),
    "reopen: unknown case": (lambda e, c, u: cases.reopen_case(e, UNKNOWN, u, "why"), NotFound, None),
    "reopen: unknown actor": (lambda e, c, u: cases.reopen_case(e, c, UNKNOWN, "why"), NotFound, None),
    "get: unknown case": (lambda e, c, u: cases.get_case(e, UNKNOWN), NotFound, None),
    "get: case id float": (lambda e, c, u: cases.get_case(e, 1.0), InvalidInput, "case_id"),
    "timeline: unknown case": (lambda e, c, u: cases.timeline(e, UNKNOWN), NotFound, None),
    "list: status": (lambda e, c, u: cases.list_cases(e, status="closed"), InvalidInput, "status"),
    "list: limit zero": (lambda e, c, u: cases.list_cases(e, limit=0), InvalidInput, "limit"),
    "list: limit text": (lambda e, c, u: cases.list_cases(e, limit="10"), InvalidInput, "limit"),
    "list: agent id": (lambda e, c, u: cases.list_cases(e, agent_id="me"), InvalidInput, "agent_id"),
    "handoff: unknown case": (lambda e, c, u: handoff.build_handoff(e, UNKNOWN), NotFound, None),
    "handoff: case id text": (lambda e, c, u: handoff.build_handoff(e, "1"), InvalidInput, "case_id"),
    "queue: url scheme": (lambda e, c, u: webhook.queue_handoff(e, c, "ftp://x/y", {}), InvalidInput, "url"),
    "queue: url empty": (lambda e, c, u: webhook.queue_handoff(e, c, "", {}), InvalidInput, "url"),
    "queue: url too long": (
        lambda e, c, u: webhook.queue_handoff(e, c, "https://x/" + "a" * 2000, {}),
        InvalidInput,
        "url",
    ),
    "queue: payload not a dict": (
        lambda e, c, u: webhook.queue_handoff(e, c, "https://x/", "{}"),
        InvalidInput,
        "payload",
    ),
    "queue: payload not JSON": (
        lambda e, c, u: webhook.queue_handoff(e, c, "https://x/", {"a": {1, 2}}),
        InvalidInput,
        "payload",
    ),
    "queue: unknown case": (lambda e, c, u: webhook.queue_handoff(e, UNKNOWN, "https://x/", {}), NotFound, None),
    "deliveries: status": (lambda e, c, u: webhook.list_deliveries(e, status="lost"), InvalidInput, "status"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_refused_and_changes_nothing(engine, agent, clock, counts, name):
    case = cases.open_case(engine, agent.id, "phone", "C-1", "no internet", "fibre")
    cases.tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", 1)
    before, events = counts(), cases.timeline(engine, case.id)
    call, error, field = BAD[name]
    clock.advance(30)
    with pytest.raises(error) as info:
        call(engine, case.id, agent.id)
    message = str(info.value)
    assert message[0].isupper() and len(message) > 20  # a sentence for the user, not a code
    if error is InvalidInput:
        assert info.value.field == field
    else:
        assert str(UNKNOWN) in message
    assert counts() == before
    assert cases.get_case(engine, case.id) == case and cases.timeline(engine, case.id) == events


def test_messages_say_what_to_do(engine, agent):
    with pytest.raises(InvalidInput, match=r"too long \(101 characters\); shorten it to at most 100"):
        cases.open_case(engine, agent.id, "phone", "C" * 101, "p")
    with pytest.raises(InvalidInput, match="The problem description is required; fill it in"):
        cases.open_case(engine, agent.id, "phone", "C-1", "")
    with pytest.raises(InvalidInput, match="must be one of phone, chat, email"):
        cases.open_case(engine, agent.id, "fax", "C-1", "p")
    case = cases.open_case(engine, agent.id, "phone", "C-1", "p")
    with pytest.raises(InvalidInput, match="Choose at least one article that solved the problem"):
        cases.resolve_case(engine, case.id, agent.id, [])
    with pytest.raises(NotFound, match=f"There is no case {UNKNOWN}; check the case number"):
        cases.get_case(engine, UNKNOWN)


def test_limits_are_inclusive(engine, agent):
    case = cases.open_case(engine, agent.id, "phone", "C" * 100, "p" * 5000)
    cases.record_search(engine, case.id, agent.id, "q" * 1000, [])
    cases.add_note(engine, case.id, agent.id, "n" * 5000)
    closed = cases.close_unresolved(engine, case.id, agent.id, "r" * 2000)
    assert len(closed.customer_ref) == 100 and len(closed.problem) == 5000 and len(closed.outcome_note) == 2000


HOSTILE_TEXTS = ["\ud800", "a\udfffb", "nul\x00byte", "bell\x07", "esc\x1b[31mred", "\ufeffbom", "emoji 😀 ok"]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_hostile_text_is_cleaned_in_every_stored_field(engine, agent, text):
    case = cases.open_case(engine, agent.id, "chat", f"K-{text}", f"problem {text}", "dsl")
    cases.record_search(engine, case.id, agent.id, f"query {text}", [])
    cases.add_note(engine, case.id, agent.id, f"note {text}")
    cases.tick_step(engine, case.id, agent.id, "dsl-no-sync", "en", 1, f"result {text}")
    cases.escalate_case(engine, case.id, agent.id, "tier2", f"reason {text}")
    stored = [cases.get_case(engine, case.id).customer_ref, cases.get_case(engine, case.id).problem]
    stored += [e.text for e in cases.timeline(engine, case.id) if e.text]
    for value in stored:
        value.encode("utf-8")  # every stored text can be sent to a browser or a driver
        assert not any(0xD800 <= ord(ch) <= 0xDFFF or ord(ch) < 0x09 or ch == "\x1b" for ch in value), repr(value)
    assert any("😀" in value for value in stored) == ("😀" in text)
