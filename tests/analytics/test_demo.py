"""The demo history: written through the case log, realistic, deterministic, refused next to real cases, removable."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from kb.analytics.demo import DemoRefused, DemoReport, generate, has_real_cases, remove
from kb.caselog.cases import escalation_teams, open_case, reopen_case, resolve_case, tick_step
from kb.caselog.gaps import GapTable, flag_gap
from kb.content.articles import load_articles
from kb.errors import InvalidInput
from kb.store import engine as db
from kb.store.tables import AuditLogRow, Base, CaseEventRow, CaseResolutionRow, CaseRow, ContentGapRow, UserRow
from tests.conftest import ROOT

ARTICLES = load_articles(ROOT / "articles")
BY_KEY = {(a.id, a.lang): a for a in ARTICLES}
NOW = datetime(2026, 12, 9, 16, 45, 12, tzinfo=UTC)  # a Wednesday afternoon
DAYS = 30
CASES = 200


def history(engine, **kwargs) -> DemoReport:
    return generate(engine, ARTICLES, **({"cases": CASES, "days": DAYS, "seed": 1, "now": NOW} | kwargs))


def rows(engine, query):
    with engine.connect() as conn:
        return conn.execute(query).all()


def outcomes(engine) -> list[tuple]:
    """Every case as the reports see it, in time order."""
    return [
        tuple(r)
        for r in rows(
            engine,
            select(
                CaseRow.opened_at,
                CaseRow.closed_at,
                CaseRow.status,
                CaseRow.channel,
                CaseRow.connection_type,
                CaseRow.customer_ref,
                CaseRow.problem,
                CaseRow.escalation_team,
                CaseRow.handle_seconds,
                CaseRow.reopen_count,
            ).order_by(CaseRow.opened_at, CaseRow.id),
        )
    ]


def test_a_realistic_history_of_demo_cases(engine):
    calls = []
    report = history(engine, progress=lambda done, total: calls.append((done, total)))

    assert calls == [(100, CASES), (CASES, CASES)]
    cases = rows(engine, select(CaseRow.is_demo, CaseRow.customer_ref, CaseRow.status, CaseRow.channel))
    assert len(cases) == report.cases == CASES
    assert all(is_demo for is_demo, *_ in cases) and not has_real_cases(engine)
    assert all(ref.startswith("DEMO-") for _, ref, *_ in cases)

    status = Counter(s for _, _, s, _ in cases)
    assert (status["resolved"], status["escalated"], status["unresolved"]) == (
        report.resolved,
        report.escalated,
        report.unresolved,
    )
    assert 0.6 <= report.resolved / CASES <= 0.85
    assert 0.1 <= report.escalated / CASES <= 0.3
    assert 0 < report.unresolved / CASES <= 0.15
    assert status["open"] <= 5
    channels = Counter(c for *_, c in cases)
    assert channels.most_common(1)[0][0] == "phone" and channels["chat"] > channels["email"] > 0

    # Repeat contacts: the same customer again within a few days.
    assert 0 < report.repeats <= 0.2 * CASES
    per_customer = Counter(ref for _, ref, *_ in cases)
    assert sum(n - 1 for n in per_customer.values()) == report.repeats

    # Twelve agents in three teams did the work.
    agents = rows(engine, select(UserRow.username, UserRow.role, UserRow.team).order_by(UserRow.username))
    assert report.agents == len(agents) == 12
    assert [a.username for a in agents] == [f"demo-agent-{i:02}" for i in range(1, 13)]
    assert {a.role for a in agents} == {"agent"} and len({a.team for a in agents}) == 3

    teams = {t for (t,) in rows(engine, select(CaseRow.escalation_team).where(CaseRow.status == "escalated"))}
    assert teams <= set(escalation_teams()) and "tier2" in teams

    # Searches: about one in ten is weak, and each weak one is kept for the editors' worklist.
    searches = rows(engine, select(CaseEventRow.data).where(CaseEventRow.kind == "search"))
    assert len(searches) == report.searches >= CASES * 0.9
    weak = sum('"weak": true' in data for (data,) in searches)
    assert 0.03 <= weak / len(searches) <= 0.2
    gaps = Counter(source for (source,) in rows(engine, select(ContentGapRow.source)))
    assert gaps["weak"] == weak and gaps["flagged"] > 0

    # A few cases were escalated without any article opened, a few reopened.
    opened = {c for (c,) in rows(engine, select(CaseEventRow.case_id).where(CaseEventRow.kind == "article_opened"))}
    escalated = {c for (c,) in rows(engine, select(CaseRow.id).where(CaseRow.status == "escalated"))}
    assert 0 < len(escalated - opened) <= 0.1 * CASES
    assert 0 < rows(engine, select(func.count()).where(CaseRow.reopen_count > 0))[0][0] <= 0.05 * CASES


def test_times_lie_in_the_period_in_order_and_ticks_match_the_article(engine):
    history(engine)
    cases = {r.id: r for r in rows(engine, select(CaseRow))}
    events: dict[int, list] = {}
    for event in rows(engine, select(CaseEventRow).order_by(CaseEventRow.id)):
        events.setdefault(event.case_id, []).append(event)
    resolutions: dict[int, set] = {}
    for case_id, article_id in rows(engine, select(CaseResolutionRow.case_id, CaseResolutionRow.article_id)):
        resolutions.setdefault(case_id, set()).add(article_id)

    start = NOW - timedelta(days=DAYS)
    for case_id, case in cases.items():
        timeline = events[case_id]
        assert start <= case.opened_at < NOW
        assert timeline[0].kind == "opened" and timeline[0].at == case.opened_at
        times = [e.at for e in timeline]
        assert times == sorted(times), case_id
        if case.status == "open":
            assert case.closed_at is None and times[-1] < NOW
        else:
            assert timeline[-1].kind == case.status
            assert case.closed_at == times[-1] <= NOW
            assert 0 < case.handle_seconds <= (case.closed_at - case.opened_at).total_seconds() + 1
        seen = set()
        for event in timeline:
            if event.kind == "article_opened":
                seen.add((event.article_id, event.lang))
                assert event.revision == BY_KEY[(event.article_id, event.lang)].revision
            elif event.kind in ("step_ticked", "step_unticked"):
                assert (event.article_id, event.lang) in seen, case_id
                article = BY_KEY[(event.article_id, event.lang)]
                assert event.step_number in {s.number for s in article.steps}
        if case.status == "resolved":
            assert resolutions[case_id] and resolutions[case_id] <= {a for a, _ in seen}

    # Office hours: nobody opens a case in the middle of the night.
    hours = Counter(c.opened_at.hour for c in cases.values())
    assert sum(n for h, n in hours.items() if 1 <= h <= 4) == 0
    # Phone calls take minutes, e-mails hours.
    handle = {
        ch: sorted(c.handle_seconds for c in cases.values() if c.channel == ch and c.handle_seconds)
        for ch in ("phone", "email")
    }
    assert 4 * 60 <= handle["phone"][len(handle["phone"]) // 2] <= 15 * 60
    assert handle["email"][len(handle["email"]) // 2] > 2 * handle["phone"][len(handle["phone"]) // 2]


def test_the_same_seed_gives_the_same_history(engine):
    first = history(engine, cases=80)
    before = outcomes(engine)
    assert remove(engine) == 80
    again = history(engine, cases=80)
    assert again == first
    assert outcomes(engine) == before

    remove(engine)
    other = history(engine, cases=80, seed=2)
    assert outcomes(engine) != before
    assert other.cases == 80


def test_the_default_end_is_now_and_the_clock_is_given_back(engine, clock):
    report = generate(engine, ARTICLES, cases=30, days=7)
    assert db.utcnow is clock
    assert report.cases == 30
    for opened_at, closed_at in rows(engine, select(CaseRow.opened_at, CaseRow.closed_at)):
        assert clock.now - timedelta(days=7) <= opened_at < clock.now
        assert closed_at is None or closed_at <= clock.now


def test_refused_when_a_real_case_exists(engine, agent, counts):
    open_case(engine, agent.id, "phone", "KLANT-1", "Internet down", "dsl")
    assert has_real_cases(engine)
    before = counts()
    with pytest.raises(DemoRefused, match="real cases"):
        history(engine)
    assert counts() == before


def test_refused_twice_and_on_bad_arguments(engine, counts):
    history(engine, cases=20)
    before = counts()
    with pytest.raises(DemoRefused, match="kb demo --remove"):
        history(engine, cases=20)
    for bad in ({"cases": 0}, {"cases": True}, {"days": 0}, {"days": "90"}, {"now": datetime(2026, 12, 1)}):
        with pytest.raises(InvalidInput):
            history(engine, **bad)
    with pytest.raises(InvalidInput, match="articles"):
        generate(engine, [], cases=5, now=NOW)
    assert counts() == before


def test_remove_takes_the_demo_rows_and_nothing_else(engine, agent, counts):
    empty = counts()
    report = history(engine, cases=150)
    demo_ids = {i for (i,) in rows(engine, select(CaseRow.id))}

    # Then real work starts in the same database: a case by a real agent, one by a demo agent.
    article = BY_KEY[("dsl-no-sync", "en")]
    real = open_case(engine, agent.id, "phone", "KLANT-778812", "DSL light blinking", "dsl")
    tick_step(engine, real.id, agent.id, article.id, "en", 1, "still blinking", version=article)
    resolve_case(engine, real.id, agent.id, [article.id], current={article.id: article})
    reopen_case(engine, real.id, agent.id, "customer called back")
    flag_gap(GapTable(engine), "modem smells burnt", "en", agent.id, real.id)
    demo_agent = rows(engine, select(UserRow.id).where(UserRow.username == "demo-agent-03"))[0][0]
    kept = open_case(engine, demo_agent, "chat", "KLANT-5", "Wifi slow upstairs", "cable")
    real_rows = counts()

    assert remove(engine) == report.cases == len(demo_ids)

    assert rows(engine, select(CaseRow.id).order_by(CaseRow.id)) == [(real.id,), (kept.id,)]
    for table in Base.metadata.sorted_tables:  # events, resolutions, gaps, flags, deliveries, facts ...
        if "case_id" in table.c:
            assert not rows(engine, select(table.c.case_id).where(table.c.case_id.in_(demo_ids))), table.name
    targets = [t for (t,) in rows(engine, select(AuditLogRow.target))]
    assert targets == [f"case:{real.id}"]
    users = [u for (u,) in rows(engine, select(UserRow.username).order_by(UserRow.username))]
    assert users == ["anna", "demo-agent-03"]  # the demo agent with a real case stays

    after = counts()
    assert after["case_events"] == 5  # the real case: opened, ticked, resolved, reopened; the other: opened
    assert after["users"] == 2 and real_rows["users"] == 13
    assert after["content_gaps"] == 1 and after["audit_log"] == 1
    assert after["login_attempts"] == empty["login_attempts"]
    assert remove(engine) == 0
