"""Writes a client may send twice: a note and an open-case request carry a request id; the second
copy of a request changes nothing (also when both arrive at once), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from kb.caselog.cases import add_note, close_unresolved, list_cases, open_case, timeline
from kb.errors import InvalidInput
from kb.store.engine import session_scope
from kb.store.tables import CaseRow

RID = "3f2b8c1e9a7d4e0f8b6a5c4d3e2f1a0b"


def notes(engine, case_id) -> list[str]:
    return [e.text for e in timeline(engine, case_id) if e.kind == "note"]


def test_a_note_sent_twice_is_stored_once(engine, agent, clock):
    case = open_case(engine, agent.id, "phone", "K-1", "no internet")
    assert add_note(engine, case.id, agent.id, "modem restarted", request_id=RID) is True
    assert add_note(engine, case.id, agent.id, "modem restarted", request_id=RID) is False
    assert notes(engine, case.id) == ["modem restarted"]
    # The same words without an id, or with another id, are another note.
    add_note(engine, case.id, agent.id, "modem restarted")
    add_note(engine, case.id, agent.id, "modem restarted", request_id=RID[::-1])
    assert len(notes(engine, case.id)) == 3


def test_a_retried_note_is_no_error_after_the_case_was_closed(engine, agent, clock):
    case = open_case(engine, agent.id, "chat", "K-1", "no internet")
    add_note(engine, case.id, agent.id, "customer will call back", request_id=RID)
    close_unresolved(engine, case.id, agent.id, "callback")
    assert add_note(engine, case.id, agent.id, "customer will call back", request_id=RID) is False


def test_request_ids_are_per_case(engine, agent, clock):
    first = open_case(engine, agent.id, "phone", "K-1", "a")
    second = open_case(engine, agent.id, "phone", "K-2", "b")
    assert add_note(engine, first.id, agent.id, "x", request_id=RID)
    assert add_note(engine, second.id, agent.id, "x", request_id=RID)


def test_an_open_case_request_sent_twice_opens_one_case(engine, agent, clock):
    first = open_case(engine, agent.id, "phone", "K-1", "no internet", "dsl", request_id=RID)
    again = open_case(engine, agent.id, "phone", "K-1", "no internet", "dsl", request_id=RID)
    assert again.id == first.id
    assert [c.id for c in list_cases(engine, agent_id=agent.id)] == [first.id]
    assert [e.kind for e in timeline(engine, first.id)] == ["opened"]


def test_request_ids_are_per_agent(engine, agent, clock):
    from kb.identity.users import create_user

    other = create_user(engine, "bram", "correct horse battery", "agent")
    a = open_case(engine, agent.id, "phone", "K-1", "x", request_id=RID)
    b = open_case(engine, other.id, "phone", "K-2", "y", request_id=RID)
    assert a.id != b.id and b.agent_id == other.id


@pytest.mark.parametrize("bad", ["short", "x" * 65, "has space 123", "semi;colon-123", 12345678, ["a" * 10]])
def test_a_malformed_request_id_is_refused_and_nothing_is_written(engine, agent, clock, bad):
    with pytest.raises(InvalidInput) as refused:
        open_case(engine, agent.id, "phone", "K-1", "x", request_id=bad)
    assert refused.value.field == "request_id" and "reload the page" in refused.value.message
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == 0


def test_the_same_request_arriving_twice_at_once_opens_one_case(engine, make_engines, agent, clock):
    """Two workers, each with its own engine, get the same retried request at the same moment."""
    engines = [make_engines(), make_engines()]
    start, results, errors = threading.Barrier(2), [], []

    def send(own):
        start.wait()
        try:
            results.append(open_case(own, agent.id, "phone", "K-1", "no internet", request_id=RID).id)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 2 and results[0] == results[1]
    assert len(list_cases(engine, agent_id=agent.id)) == 1


def test_the_same_note_arriving_twice_at_once_is_stored_once(engine, make_engines, agent, clock):
    case = open_case(engine, agent.id, "phone", "K-1", "no internet")
    engines = [make_engines(), make_engines()]
    start, results, errors = threading.Barrier(2), [], []

    def send(own):
        start.wait()
        try:
            results.append(add_note(own, case.id, agent.id, "router replaced", request_id=RID))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(results) == [False, True]
    assert notes(engine, case.id) == ["router replaced"]
