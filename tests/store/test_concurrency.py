"""Several agents (threads, and separate engines as separate processes would have) writing at once."""

from __future__ import annotations

from collections import Counter

from kb.caselog.cases import add_note, open_case, record_search, resolve_case, tick_step, timeline
from kb.errors import CaseClosed, InvalidInput
from kb.identity.users import create_user, list_users
from kb.store.engine import make_engine
from tests.dbfixtures import run_all

WORKERS, WRITES = 8, 15


def writer(engine, case_id, agent_id, worker):
    own = open_case(engine, agent_id, "phone", f"C-{worker}", "parallel")
    for n in range(WRITES):
        add_note(engine, case_id, agent_id, f"worker {worker} note {n}")
        record_search(engine, own.id, agent_id, f"search number {n} of worker {worker}", ["dsl-no-sync"])
        tick_step(engine, case_id, agent_id, "dsl-no-sync", "en", worker * 100 + n + 1)
    return own.id


def check_nothing_lost(engine, shared_id, own_ids):
    events = timeline(engine, shared_id)
    notes = {e.text for e in events if e.kind == "note"}
    assert notes == {f"worker {w} note {n}" for w in range(WORKERS) for n in range(WRITES)}
    assert Counter(e.kind for e in events) == {"opened": 1, "note": WORKERS * WRITES, "step_ticked": WORKERS * WRITES}
    assert len(set(own_ids)) == WORKERS
    for own in own_ids:
        assert [e.kind for e in timeline(engine, own)] == ["opened"] + ["search"] * WRITES


def test_threads_on_one_engine_lose_nothing(engine, agent):
    shared = open_case(engine, agent.id, "chat", "C-shared", "shared case")
    own_ids = run_all(lambda w: writer(engine, shared.id, agent.id, w), WORKERS)
    check_nothing_lost(engine, shared.id, own_ids)


def test_two_engines_on_one_database_lose_nothing(engine, make_engines, agent):
    second = make_engines()
    shared = open_case(engine, agent.id, "chat", "C-shared", "shared case")
    own_ids = run_all(lambda w: writer(engine if w % 2 else second, shared.id, agent.id, w), WORKERS)
    check_nothing_lost(make_engines(), shared.id, own_ids)


def test_two_engines_on_one_sqlite_file(tmp_path):
    """The same on SQLite without the fixtures: two engines, as two web workers would open it."""
    from kb.store.engine import upgrade

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = make_engine(url), make_engine(url)
    upgrade(first)
    agent = create_user(first, "anna", "correct horse battery", "agent")
    shared = open_case(second, agent.id, "chat", "C-shared", "shared case")
    own_ids = run_all(lambda w: writer(first if w % 2 else second, shared.id, agent.id, w), WORKERS)
    check_nothing_lost(first, shared.id, own_ids)
    first.dispose()
    second.dispose()


def test_closing_while_others_write_is_all_or_nothing(engine, make_engines, agent):
    """Every note either lands before the case closes or is refused with CaseClosed: none in between."""
    second = make_engines()
    case = open_case(engine, agent.id, "phone", "C-race", "race")

    def act(i):
        if i == WORKERS // 2:
            return resolve_case(second, case.id, agent.id, ["dsl-no-sync"]).status
        stored = 0
        for n in range(WRITES):
            try:
                add_note(engine if i % 2 else second, case.id, agent.id, f"{i}-{n}")
                stored += 1
            except CaseClosed:
                pass
        return stored

    results = run_all(act, WORKERS)
    assert results[WORKERS // 2] == "resolved"
    events = timeline(engine, case.id)
    notes = [e for e in events if e.kind == "note"]
    assert len(notes) == sum(r for r in results if isinstance(r, int))
    assert events[-1].kind == "resolved"  # no note was written after the case closed


def test_concurrent_create_user_has_one_winner(engine):
    def attempt(i):
        try:
            return create_user(engine, "same.name", f"password number {i}", "agent").id
        except InvalidInput as exc:
            assert exc.field == "username"
            return None

    results = run_all(attempt, 6)
    assert sum(r is not None for r in results) == 1
    assert [u.username for u in list_users(engine)] == ["same.name"]


def test_concurrent_wrong_passwords_are_counted_before_they_are_judged(engine):
    from kb.errors import LoginFailed, LoginThrottled
    from kb.identity.users import MAX_USER_FAILURES, authenticate

    def guess(n, name):
        try:
            authenticate(engine, name, f"wrong guess {n}", f"10.0.0.{n}")
        except LoginThrottled:
            return "throttled"
        except LoginFailed:
            return "failed"
        return "in"

    for count in (12, 30):
        create_user(engine, f"anna{count}", "correct horse battery", "agent")
        outcomes = Counter(run_all(lambda n, name=f"anna{count}": guess(n, name), count))
        assert outcomes["failed"] <= MAX_USER_FAILURES and outcomes["in"] == 0, outcomes
        assert outcomes["throttled"] == count - outcomes["failed"]
