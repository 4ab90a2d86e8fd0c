"""Supervision: the open-case overview and audited reassignment (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event, select

from kb.caselog.assign import (
    Agent,
    OpenCase,
    Reassignment,
    active_agents,
    open_cases_overview,
    reassign_case,
    reassignments,
)
from kb.caselog.cases import (
    add_note,
    close_unresolved,
    list_cases,
    open_case,
    record_article_opened,
    record_search,
    resolve_case,
    timeline,
)
from kb.errors import CaseClosed, InvalidInput, NotFound
from kb.identity.users import create_user, disable_user
from kb.store.engine import session_scope
from kb.store.tables import AuditLogRow, CaseEventRow

REF = "KLANT-778812"


@pytest.fixture
def bert(engine):
    return create_user(engine, "bert", "correct horse battery", "agent", display_name="Bert Bakker")


@pytest.fixture
def case(engine, agent, clock):
    return open_case(engine, agent.id, "phone", REF, "Internet down since the storm", "dsl")


def audit_rows(engine) -> list[AuditLogRow]:
    with session_scope(engine, readonly=True) as session:
        rows = session.scalars(select(AuditLogRow).where(AuditLogRow.action == "reassign_case")).all()
        session.expunge_all()
        return list(rows)


def test_overview_lists_every_open_case_with_agent_age_and_current_article(engine, agent, bert, clock, case):
    opened = clock.now
    clock.advance(60)
    record_article_opened(engine, case.id, agent.id, "dsl-no-sync", "en")
    clock.advance(60)
    record_search(engine, case.id, agent.id, "modem no sync", ["dsl-no-sync"])
    clock.advance(60)
    record_article_opened(engine, case.id, agent.id, "fiber-los-red-light", "nl")
    clock.advance(30)
    add_note(engine, case.id, agent.id, "customer restarts the modem")
    last = clock.now
    clock.advance(60)
    berts = open_case(engine, bert.id, "chat", "C-2", "mail bounces")
    closed = open_case(engine, bert.id, "email", "C-3", "slow wifi")
    close_unresolved(engine, closed.id, bert.id, "customer will call back")

    assert open_cases_overview(engine) == [
        OpenCase(case.id, agent.id, "Anna de Vries", "phone", opened, last, "fiber-los-red-light", "nl"),
        OpenCase(berts.id, bert.id, "Bert Bakker", "chat", clock.now, clock.now, None, None),
    ]


def test_overview_shows_no_customer_data(engine, case):
    [row] = open_cases_overview(engine)
    assert REF not in repr(row) and "storm" not in repr(row)


def test_overview_is_one_query_however_many_cases(engine, agent, bert, clock):
    for i in range(30):
        opened = open_case(engine, (agent, bert)[i % 2].id, "phone", f"C-{i}", "no sync")
        record_article_opened(engine, opened.id, opened.agent_id, "dsl-no-sync", "en")
    statements = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        found = open_cases_overview(engine)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(found) == 30 and all(c.article_id == "dsl-no-sync" for c in found)
    assert len(statements) == 1


def test_reassign_moves_the_case_with_an_event_and_an_audit_row(engine, agent, bert, admin, clock, case):
    clock.advance(120)
    moved = reassign_case(engine, case.id, admin.id, bert.id, "  Anna's shift ends  ")
    assert (moved.agent_id, moved.agent_name, moved.status) == (bert.id, "Bert Bakker", "open")
    assert [c.id for c in list_cases(engine, agent_id=bert.id, status="open")] == [case.id]
    assert list_cases(engine, agent_id=agent.id, status="open") == []
    assert open_cases_overview(engine)[0].agent_name == "Bert Bakker"

    last = timeline(engine, case.id)[-1]
    assert (last.kind, last.text, last.actor_name, last.at) == (
        "reassigned",
        "Anna's shift ends",
        "Ada Admin",
        clock.now,
    )
    assert reassignments(engine, case.id) == {last.id: Reassignment(agent.id, "Anna de Vries", bert.id, "Bert Bakker")}
    [audit] = audit_rows(engine)
    assert (audit.actor_id, audit.target, audit.at) == (admin.id, f"case:{case.id}", clock.now)
    assert json.loads(audit.detail) == {
        "from_agent_id": agent.id,
        "to_agent_id": bert.id,
        "reason": "Anna's shift ends",
    }
    assert REF not in audit.detail and REF not in audit.target


def test_the_new_agent_works_on_the_case_and_closes_it(engine, agent, bert, admin, case):
    reassign_case(engine, case.id, admin.id, bert.id, "shift change")
    record_article_opened(engine, case.id, bert.id, "dsl-no-sync", "en")
    assert open_cases_overview(engine)[0].article_id == "dsl-no-sync"
    assert resolve_case(engine, case.id, bert.id, ["dsl-no-sync"]).status == "resolved"
    assert open_cases_overview(engine) == []


def test_a_closed_case_cannot_be_reassigned(engine, agent, bert, admin, case, counts):
    close_unresolved(engine, case.id, agent.id, "callback tomorrow")
    before = counts()
    with pytest.raises(CaseClosed, match=f"Case {case.id} is unresolved"):
        reassign_case(engine, case.id, admin.id, bert.id, "shift change")
    assert counts() == before


@pytest.mark.parametrize("who", ["editor", "admin", "disabled agent", "no such user", "not a number", "too big"])
def test_only_an_active_agent_can_take_a_case(engine, agent, bert, admin, case, counts, who):
    if who == "editor":
        new = create_user(engine, "eddie", "correct horse battery", "editor").id
    elif who == "admin":
        new = admin.id
    elif who == "disabled agent":
        disable_user(engine, "bert")
        new = bert.id
    else:
        new = {"no such user": 999, "not a number": "2", "too big": 2**40}[who]
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        reassign_case(engine, case.id, admin.id, new, "shift change")
    assert refused.value.field == "agent" and "active agent" in str(refused.value)
    assert counts() == before
    assert list_cases(engine, status="open")[0].agent_id == agent.id


def test_not_to_the_agent_who_has_it(engine, agent, admin, case, counts):
    before = counts()
    with pytest.raises(InvalidInput, match="already with Anna de Vries; choose another agent") as refused:
        reassign_case(engine, case.id, admin.id, agent.id, "shift change")
    assert refused.value.field == "agent" and counts() == before


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 2001])
def test_a_reason_is_required(engine, bert, admin, case, counts, reason):
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        reassign_case(engine, case.id, admin.id, bert.id, reason)
    assert refused.value.field == "reason" and counts() == before


def test_unknown_case_or_actor(engine, bert, admin, case):
    with pytest.raises(NotFound, match="There is no case 999"):
        reassign_case(engine, 999, admin.id, bert.id, "shift change")
    with pytest.raises(NotFound, match="There is no user with id 999"):
        reassign_case(engine, case.id, 999, bert.id, "shift change")


def test_the_event_records_from_and_to_in_its_data(engine, agent, bert, admin, case):
    reassign_case(engine, case.id, admin.id, bert.id, "shift change")
    reassign_case(engine, case.id, admin.id, agent.id, "Anna is back")
    with session_scope(engine, readonly=True) as session:
        data = session.scalars(
            select(CaseEventRow.data).where(CaseEventRow.kind == "reassigned").order_by(CaseEventRow.id)
        ).all()
    assert [json.loads(d) for d in data] == [
        {"from_agent_id": agent.id, "to_agent_id": bert.id},
        {"from_agent_id": bert.id, "to_agent_id": agent.id},
    ]
    assert [(m.from_agent_name, m.to_agent_name) for m in reassignments(engine, case.id).values()] == [
        ("Anna de Vries", "Bert Bakker"),
        ("Bert Bakker", "Anna de Vries"),
    ]
    assert len(audit_rows(engine)) == 2


def test_active_agents_are_the_choices(engine, agent, bert, admin):
    create_user(engine, "eddie", "correct horse battery", "editor")
    create_user(engine, "carla", "correct horse battery", "agent", display_name="Carla Claes")
    disable_user(engine, "carla")
    assert active_agents(engine) == [Agent(agent.id, "Anna de Vries"), Agent(bert.id, "Bert Bakker")]
