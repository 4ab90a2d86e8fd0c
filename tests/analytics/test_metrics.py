"""Every figure of docs/metrics.md on a small hand-built case log, with the answers worked out by hand.

The week of Monday 2 November 2026 is the period; the week before it is the previous period.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from kb.analytics import metrics as m
from kb.caselog import cases as caselog
from kb.caselog.gaps import GapTable
from kb.identity.users import create_user

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Monday
PERIOD = m.Filters(date(2026, 11, 2), date(2026, 11, 8))
CATEGORIES = {"dsl-no-sync": "connectivity", "router-restart": "router"}


def at(clock, days=0, minutes=0):
    clock.now = T0 + timedelta(days=days, minutes=minutes)


@pytest.fixture
def log(engine, clock):
    """The hand-built case log; returns the case ids by letter."""
    a1 = create_user(engine, "anna", "correct horse battery", "agent", team="helpdesk-a")
    b1 = create_user(engine, "bram", "correct horse battery", "agent", team="helpdesk-b")
    ids = {}

    def opened(letter, agent, ref, day, minute=0, channel="phone"):
        at(clock, day, minute)
        ids[letter] = caselog.open_case(engine, agent.id, channel, ref, f"problem {letter}", "dsl").id
        return ids[letter]

    # A: resolved with dsl-no-sync after steps 1 and 2, 10 minutes; first-contact resolution.
    a = opened("A", a1, "R1", 0)
    caselog.record_search(engine, a, a1.id, "dsl light blinking", ["dsl-no-sync"], weak=False)
    caselog.record_article_opened(engine, a, a1.id, "dsl-no-sync", "en")
    caselog.tick_step(engine, a, a1.id, "dsl-no-sync", "en", 1)
    caselog.tick_step(engine, a, a1.id, "dsl-no-sync", "en", 2)
    at(clock, 0, 10)
    caselog.resolve_case(engine, a, a1.id, ["dsl-no-sync"])
    # B: router-restart step 1, escalated to tier2 after 5 minutes; the customer calls back (C).
    b = opened("B", b1, "R2", 1, channel="chat")
    caselog.record_search(engine, b, b1.id, "wifi weg", [], weak=True)
    caselog.record_search(engine, b, b1.id, "router restart", ["router-restart"], weak=False)
    caselog.record_article_opened(engine, b, b1.id, "router-restart", "en")
    caselog.tick_step(engine, b, b1.id, "router-restart", "en", 1)
    at(clock, 1, 5)
    caselog.escalate_case(engine, b, b1.id, "tier2", "no sync")
    # C: same customer two days later, resolved with router-restart (unopened), 2 minutes.
    c = opened("C", a1, "R2", 3)
    at(clock, 3, 2)
    caselog.resolve_case(engine, c, a1.id, ["router-restart"])
    # D: escalated to network-operations without any article, 20 minutes.
    d = opened("D", b1, "R3", 2)
    at(clock, 2, 20)
    caselog.escalate_case(engine, d, b1.id, "network-operations", "area outage")
    # E: two resolving articles, then reopened and resolved again: not first-contact.
    e = opened("E", a1, "R4", 2, 30)
    caselog.record_article_opened(engine, e, a1.id, "dsl-no-sync", "nl")
    caselog.record_article_opened(engine, e, a1.id, "router-restart", "nl")
    caselog.tick_step(engine, e, a1.id, "router-restart", "nl", 2)
    at(clock, 2, 34)
    caselog.resolve_case(engine, e, a1.id, ["dsl-no-sync", "router-restart"])
    at(clock, 4, 0)
    caselog.reopen_case(engine, e, a1.id, "came back")
    at(clock, 4, 6)
    caselog.resolve_case(engine, e, a1.id, ["router-restart"])
    # F: unresolved; the customer's next case (G) comes 8 days later: outside the 7-day window.
    f = opened("F", b1, "R5", 0, 60, channel="email")
    at(clock, 0, 90)
    caselog.close_unresolved(engine, f, b1.id, "callback")
    opened("G", a1, "R5", 8, 91)  # still open, and after the period
    # H: resolved on the last day; the customer comes back two days after the period: a repeat.
    h = opened("H", a1, "R6", 6, 600)
    at(clock, 6, 603)
    caselog.resolve_case(engine, h, a1.id, ["dsl-no-sync"])
    opened("K", b1, "R6", 8, 0)
    # I: opened in the period, still open. J: closed the week before.
    opened("I", a1, "R7", 5)
    j = opened("J", a1, "R8", -3)
    at(clock, -3, 4)
    caselog.resolve_case(engine, j, a1.id, ["dsl-no-sync"])
    at(clock, 3)
    GapTable(engine).add_weak("printer via wifi weg", "nl", a1.id, None)
    at(clock, 20)
    return ids


def test_the_closed_cases_of_the_period(engine, log):
    facts = {f.id: f for f in m.closed_cases(engine, PERIOD, CATEGORIES)}
    assert set(facts) == {log[x] for x in "ABCDEFH"}  # not G, I, K (open), not J (previous week)
    assert facts[log["B"]].repeat and facts[log["H"]].repeat  # H: the window runs past the period
    assert not facts[log["F"]].repeat  # G came 8 days later
    assert [x for x in "ABCDEFH" if facts[log[x]].fcr] == ["A", "C"]  # E was reopened, H repeated
    assert [x for x in "ABCDEFH" if facts[log[x]].linked] == ["A", "B", "C", "E", "H"]


def test_headline_figures(engine, log):
    h = m.headline(engine, PERIOD, CATEGORIES)
    assert (h.cases_closed, h.resolved, h.escalated, h.unresolved) == (7, 4, 2, 1)
    assert h.cases_opened == 8  # A B C D E F H I opened in the period (G and K after it, J before)
    assert h.l1_resolution_rate == pytest.approx(4 / 7)
    assert h.fcr_rate == pytest.approx(2 / 7)
    assert h.escalation_rate == pytest.approx(2 / 7) and h.unresolved_rate == pytest.approx(1 / 7)
    assert h.link_rate == pytest.approx(5 / 7)
    assert h.repeat_contact_rate == pytest.approx(2 / 7)
    # Handle times: A 600, B 300, C 120, D 1200, E 240 + 360 = 600, F 1800, H 180.
    assert h.median_handle_seconds == 600 and h.p90_handle_seconds == 1800
    assert h.searches_per_case == pytest.approx(3 / 7) and h.weak_search_share == pytest.approx(1 / 3)
    assert h.content_gap_searches == 1 and h.demo_cases == 0


def test_per_article_with_intervals(engine, log):
    rows = {a.article_id: a for a in m.per_article(engine, PERIOD, CATEGORIES)}
    dsl, router = rows["dsl-no-sync"], rows["router-restart"]
    # dsl-no-sync: used on A, E, H (H resolved with it unopened); resolved with it on A and H
    # (E's final resolution was router-restart).
    assert (dsl.used, dsl.opened, dsl.resolved_with, dsl.escalated, dsl.repeats) == (3, 2, 2, 0, 1)
    # router-restart: used on B, C, E; resolved with it on C and E; B escalated and repeated.
    assert (router.used, router.opened, router.resolved_with, router.escalated, router.repeats) == (3, 2, 2, 1, 1)
    assert router.resolution.value == pytest.approx(2 / 3) and router.resolution.low_volume
    low, high = router.resolution.interval
    assert 0.2 < low < 0.21 and 0.93 < high < 0.95  # Wilson 95 % of 2/3
    assert m.wilson(1, 1)[0] < 0.21  # 1 of 1 is no certainty
    assert dsl.median_handle_seconds == 600  # A 600, E 600, H 180


def test_per_step_last_ticked_before_the_end(engine, log):
    steps = m.per_step(engine, PERIOD, CATEGORIES)
    assert [(s.step, s.resolved, s.escalated, s.unresolved) for s in steps["dsl-no-sync"]] == [(2, 1, 0, 0)]
    router = {s.step: s for s in steps["router-restart"]}
    assert (router[1].escalated, router[1].highlight) == (1, True)  # B escalated after step 1
    assert (router[2].resolved, router[2].highlight) == (1, False)  # E's last step


def test_teams_categories_and_weeks(engine, log):
    teams = m.per_escalation_team(engine, PERIOD, CATEGORIES)
    assert sorted(teams) == [("network-operations", 1, 1 / 7), ("tier2", 1, 1 / 7)]
    agents = {g.name: g for g in m.per_agent_team(engine, PERIOD, CATEGORIES)}
    assert agents["helpdesk-a"].closed == 4 and agents["helpdesk-a"].fcr.part == 2  # A C E H
    assert agents["helpdesk-b"].closed == 3 and agents["helpdesk-b"].escalated.part == 2  # B D F
    categories = {g.name: g.closed for g in m.per_category(engine, PERIOD, CATEGORIES)}
    assert categories == {"connectivity": 3, "router": 3, "none": 2}  # A E H; B C E; D F
    weeks = m.weekly(engine, PERIOD, CATEGORIES)
    assert [(w.start, w.closed, w.fcr_rate) for w in weeks] == [(date(2026, 11, 2), 7, 2 / 7)]


def test_filters(engine, log):
    only_chat = m.headline(engine, m.Filters(PERIOD.since, PERIOD.until, channel="chat"), CATEGORIES)
    assert only_chat.cases_closed == 1 and only_chat.escalated == 1  # B
    router = m.closed_cases(engine, m.Filters(PERIOD.since, PERIOD.until, category="router"), CATEGORIES)
    assert sorted(c.id for c in router) == sorted(log[x] for x in "BCE")
    dutch = m.closed_cases(engine, m.Filters(PERIOD.since, PERIOD.until, lang="nl"), CATEGORIES)
    assert [c.id for c in dutch] == [log["E"]]
    tier2 = m.closed_cases(engine, m.Filters(PERIOD.since, PERIOD.until, team="tier2"), CATEGORIES)
    assert [c.id for c in tier2] == [log["B"]]
    team_b = m.closed_cases(engine, m.Filters(PERIOD.since, PERIOD.until, agent_team="helpdesk-b"), CATEGORIES)
    assert sorted(c.id for c in team_b) == sorted(log[x] for x in "BDF")


def test_previous_period_and_drill_down(engine, log):
    previous = m.headline(engine, PERIOD.previous(), CATEGORIES)
    assert previous.cases_closed == 1 and previous.fcr_rate == 1.0  # J
    escalated = m.drill_down(engine, PERIOD, "escalated", CATEGORIES)
    assert sorted(c.id for c in escalated) == sorted(log[x] for x in "BD")
    assert [c.id for c in m.drill_down(engine, PERIOD, "unlinked", CATEGORIES)] == [log["F"], log["D"]] or sorted(
        c.id for c in m.drill_down(engine, PERIOD, "unlinked", CATEGORIES)
    ) == sorted([log["D"], log["F"]])
    with_router = m.drill_down(engine, PERIOD, "closed", CATEGORIES, article="router-restart")
    assert sorted(c.id for c in with_router) == sorted(log[x] for x in "BCE")


def test_bad_periods_are_refused():
    from kb.errors import InvalidInput

    with pytest.raises(InvalidInput, match="ends before it starts"):
        m.Filters(date(2026, 11, 8), date(2026, 11, 2))
    with pytest.raises(InvalidInput, match="channel"):
        m.Filters(date(2026, 11, 2), date(2026, 11, 8), channel="fax")
