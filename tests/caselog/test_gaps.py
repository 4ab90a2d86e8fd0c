"""kb.caselog.gaps.GapTable: flagged content gaps in the content_gaps table, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from kb.caselog.cases import open_case
from kb.caselog.gaps import MAX_RECENT, Gap, GapTable, flag_gap
from kb.errors import InvalidInput, NotFound, QueryError
from kb.identity.users import create_user, get_user
from kb.store import engine as db
from kb.store.engine import current_revision, downgrade, session_scope, upgrade
from kb.store.tables import ContentGapRow
from tests.dbfixtures import run_all


@pytest.fixture
def gaps(engine):
    return GapTable(engine)


def test_flags_come_back_newest_first_with_every_field(gaps, agent, engine, clock):
    case = open_case(engine, agent.id, "phone", "C-1", "no internet")
    first = flag_gap(gaps, "modem  makes\ta noise", "en", agent.id, case_id=case.id)
    clock.advance(5)
    second = flag_gap(gaps, "tv zegt geen signaal", "nl", None)
    clock.advance(5)
    third = flag_gap(gaps, "router smells of smoke", None, agent.id)
    assert gaps.recent() == [third, second, first]
    assert first == Gap("modem makes a noise", "en", agent.id, clock.now - timedelta(seconds=10), case.id)
    stored = gaps.recent()[-1].at
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)  # microseconds survive too


def test_flags_at_the_same_moment_keep_the_order_they_were_added_in(gaps, agent, clock):
    for n in range(3):
        flag_gap(gaps, f"query {n}", "en", agent.id)
    assert [g.query for g in gaps.recent()] == ["query 2", "query 1", "query 0"]


def test_recent_gives_at_most_limit_flags(gaps, agent, clock):
    for n in range(5):
        clock.advance(1)
        flag_gap(gaps, f"query {n}", "en", agent.id)
    assert [g.query for g in gaps.recent(limit=2)] == ["query 4", "query 3"]
    assert len(gaps.recent(limit=MAX_RECENT)) == 5


def test_an_empty_table_has_no_recent_flags(gaps):
    assert gaps.recent() == []


@pytest.mark.parametrize("limit", [0, -1, MAX_RECENT + 1, True, "10", 2.5])
def test_a_bad_limit_is_refused(gaps, limit):
    with pytest.raises(InvalidInput, match="The limit must be a whole number") as info:
        gaps.recent(limit=limit)
    assert info.value.field == "limit"


def test_an_unknown_language_is_refused_by_flag_gap_the_table_and_the_database(gaps, agent, engine, counts):
    before = counts()
    with pytest.raises(QueryError, match="the language 'de' is unknown"):
        flag_gap(gaps, "dsl", "de", agent.id)
    with pytest.raises(InvalidInput, match="language must be one of nl, en") as info:
        gaps.add(Gap("dsl", "de", agent.id, db.utcnow()))
    assert info.value.field == "lang"
    with pytest.raises(IntegrityError):  # even past kb.caselog.gaps, the CHECK constraint holds
        with session_scope(engine) as session:
            session.add(ContentGapRow(query="dsl", lang="de", user_id=agent.id, at=db.utcnow()))
    assert counts() == before


@pytest.mark.parametrize(
    "gap, field",
    [
        (Gap("   ", "en", None, datetime(2026, 1, 1).astimezone()), "query"),
        (Gap("x" * 5001, "en", None, datetime(2026, 1, 1).astimezone()), "query"),
        (Gap(None, "en", None, datetime(2026, 1, 1).astimezone()), "query"),
        (Gap("dsl", "en", 0, datetime(2026, 1, 1).astimezone()), "user_id"),
        (Gap("dsl", "en", True, datetime(2026, 1, 1).astimezone()), "user_id"),
        (Gap("dsl", "en", None, datetime(2026, 1, 1).astimezone(), "7"), "case_id"),
        (Gap("dsl", "en", None, datetime(2026, 1, 1)), "at"),
        (Gap("dsl", "en", None, "2026-01-01T00:00:00+00:00"), "at"),
    ],
)
def test_values_the_table_cannot_hold_are_refused(gaps, counts, gap, field):
    before = counts()
    with pytest.raises(InvalidInput) as info:
        gaps.add(gap)
    assert info.value.field == field
    assert counts() == before


def test_a_flag_links_to_the_case_the_agent_was_working_on(gaps, agent, engine):
    case = open_case(engine, agent.id, "chat", "C-7", "wifi drops")
    flag_gap(gaps, "wifi drops every evening", "en", agent.id, case_id=case.id)
    flag_gap(gaps, "wifi drops at night", "en", agent.id)
    assert [g.case_id for g in gaps.recent()] == [None, case.id]


def test_unknown_users_and_cases_are_refused(gaps, agent, engine, counts):
    before = counts()
    with pytest.raises(NotFound, match="no case 4242"):
        flag_gap(gaps, "dsl", "en", agent.id, case_id=4242)
    with pytest.raises(NotFound, match="no user with id 4242"):
        flag_gap(gaps, "dsl", "en", 4242)
    with pytest.raises(IntegrityError):  # the foreign keys hold past kb.caselog.gaps too
        with session_scope(engine) as session:
            session.add(ContentGapRow(query="dsl", lang="en", case_id=4242, at=db.utcnow()))
    assert counts() == before


def test_threads_flagging_at_once_lose_nothing(gaps, agent, engine):
    users = [create_user(engine, f"agent{n}", "correct horse battery", "agent") for n in range(4)]

    def flag(n):
        for i in range(8):
            flag_gap(gaps, f"query {n}-{i} " + "x" * 900, "en", users[n % 4].id)

    run_all(flag, 8)
    stored = gaps.recent(limit=MAX_RECENT)
    assert sorted(g.query for g in stored) == sorted(f"query {n}-{i} " + "x" * 900 for n in range(8) for i in range(8))
    assert sorted(g.user_id for g in stored) == sorted(users[n % 4].id for n in range(8) for _ in range(8))


def test_two_engines_flagging_at_once_lose_nothing(engine, make_engines, agent):
    stores = [GapTable(engine), GapTable(make_engines())]
    run_all(lambda n: [flag_gap(stores[n % 2], f"host {n} query {i}", "nl", agent.id) for i in range(5)], 6)
    seen = GapTable(make_engines()).recent(limit=MAX_RECENT)
    assert sorted(g.query for g in seen) == sorted(f"host {n} query {i}" for n in range(6) for i in range(5))


def test_queries_never_reach_a_log(gaps, agent, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # even with SQL logging switched on
    try:
        flag_gap(gaps, "customer SECRET-QUERY at Dorpsstraat 1", "nl", agent.id)
        with pytest.raises(NotFound):
            flag_gap(gaps, "customer SECRET-QUERY again", "nl", agent.id, case_id=4242)
        [gap] = gaps.recent()
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert "INSERT INTO content_gaps" in caplog.text  # the SQL was logged ...
    assert "SECRET-QUERY" not in caplog.text  # ... but never the query
    assert "SECRET-QUERY" not in repr(gap)


def test_the_migration_creates_the_table(make_engines):
    fresh = make_engines()
    upgrade(fresh, "0001")
    assert "content_gaps" not in inspect(fresh).get_table_names()
    with fresh.begin() as conn:  # a user as 0001 stored them (the current model has newer columns)
        conn.execute(
            text(
                "INSERT INTO users (username, password_hash, role, display_name, is_active, created_at) "
                "VALUES ('anna', 'x', 'agent', 'Anna', :yes, :now)"
            ),
            {"yes": True, "now": db.utcnow().replace(tzinfo=None)},
        )
    upgrade(fresh)
    assert current_revision(fresh) == "0013"
    agent = get_user(fresh, 1)
    inspector = inspect(fresh)
    assert inspector.get_pk_constraint("content_gaps")["name"] == "pk_content_gaps"
    assert {fk["name"] for fk in inspector.get_foreign_keys("content_gaps")} == {
        "fk_content_gaps_user_id_users",
        "fk_content_gaps_case_id_cases",
    }
    assert {ck["name"] for ck in inspector.get_check_constraints("content_gaps")} == {"ck_content_gaps_lang"}
    assert {ix["name"] for ix in inspector.get_indexes("content_gaps")} == {"ix_content_gaps_at"}
    store = GapTable(fresh)
    flag_gap(store, "modem on fire", "nl", agent.id)
    assert [g.query for g in store.recent()] == ["modem on fire"]


def test_downgrading_to_0001_drops_only_the_gaps(engine, agent, gaps):
    flag_gap(gaps, "modem on fire", "nl", agent.id)
    downgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    tables = set(inspect(engine).get_table_names())
    assert "content_gaps" not in tables and "users" in tables
    upgrade(engine)
    assert gaps.recent() == []
