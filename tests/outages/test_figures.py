"""The outage figures (kb.outages.figures) on SQLite and PostgreSQL: linked cases, handle times
linked vs unlinked in the area and window, calls before registration, callbacks."""

from __future__ import annotations

from datetime import timedelta

from kb.caselog import cases as caselog
from kb.outages import figures as of
from kb.outages import register
from tests.outages.scenario import T0, build, minutes


def scenario(engine, agent, clock):
    def set_now(at):
        clock.now = at

    return build(engine, agent.id, set_now)


def test_figures_of_one_outage(engine, agent, clock):
    ids = scenario(engine, agent, clock)
    (a,) = of.figures(engine, [ids["a"]])
    assert (a.outage_id, a.status, a.areas, a.services) == (
        ids["a"],
        "fixed",
        ("3011", "3011AA", "3012AB"),
        ("internet",),
    )
    assert a.starts_at == T0 and a.registered_at == minutes(30) and a.fixed_at == a.window_end == minutes(120)
    # linked: linked_callback, linked, no_postcode, still_broken (reopened: still linked, no handle time)
    assert (a.linked_cases, a.linked_closed) == (4, 3)
    assert a.median_handle_linked == 240  # 120, 240, 600 s
    # in the areas during the window: early, early_open, linked_callback, linked, unlinked, still_broken
    assert a.area_calls == 6
    assert (a.unlinked_closed, a.median_handle_unlinked) == (2, 400)  # early 300 s, unlinked 500 s
    assert a.calls_before_registration == 2  # early (counted once though in two areas), early_open
    assert a.first_call_before_registration == minutes(5) and a.minutes_late == 25.0
    assert (a.callbacks_asked, a.callbacks_restored, a.callbacks_still_broken, a.callbacks_done) == (3, 1, 1, 2)
    assert (a.callbacks_due, a.callbacks_waiting) == (1, 0)  # no_postcode is on the worklist
    shown = a.as_dict()
    assert shown["minutes_late"] == 25.0 and shown["median_handle_seconds_unlinked"] == 400
    assert shown["fixed_at"] == minutes(120).isoformat()


def test_an_active_outage_runs_to_now_and_callbacks_wait_for_the_fix(engine, agent, clock):
    ids = scenario(engine, agent, clock)
    (b,) = of.figures(engine, [ids["b"]])
    assert b.fixed_at is None and b.window_end == minutes(300)
    assert (b.linked_cases, b.area_calls, b.calls_before_registration, b.minutes_late) == (0, 0, 0, None)
    assert b.median_handle_linked is None and b.median_handle_unlinked is None
    clock.now = minutes(310)
    case = caselog.open_case(engine, agent.id, "chat", "R-b", "no internet", "dsl", postcode="3011AA").id
    clock.now = minutes(312)
    caselog.close_known_outage(engine, case, agent.id, ids["b"], callback=True)
    (b,) = of.figures(engine, [ids["b"]])
    assert (b.linked_cases, b.area_calls, b.callbacks_asked, b.callbacks_waiting, b.callbacks_due) == (1, 1, 1, 1, 0)
    assert b.unlinked_closed == 0 and b.median_handle_linked == 120
    register.end_outage(engine, ids["b"])
    (b,) = of.figures(engine, [ids["b"]])
    assert (b.callbacks_waiting, b.callbacks_due) == (0, 1)


def test_registered_before_the_first_call_is_not_late(engine, agent, clock):
    clock.now = T0
    outage = register.add_outage(
        engine,
        areas=["4000"],
        services=["tv"],
        message_nl="Onderhoud",
        message_en="Maintenance",
        planned=True,
        starts_at=T0 + timedelta(hours=1),
    )
    clock.now = T0 + timedelta(minutes=90)
    caselog.open_case(engine, agent.id, "phone", "R", "no tv", "cable", postcode="4000AB")
    (f,) = of.figures(engine, [outage.id])
    assert (f.area_calls, f.calls_before_registration, f.minutes_late) == (1, 0, None)


def test_the_outages_of_a_period(engine, agent, clock):
    ids = scenario(engine, agent, clock)
    day = timedelta(days=1)
    # A fixed at T0+2h; B from T0+200 min, active: both overlap the day of T0, newest start first.
    assert of.outages_in(engine, T0, T0 + day) == [ids["b"], ids["a"]]
    assert of.outages_in(engine, minutes(121), minutes(199)) == []  # A fixed, B not started
    assert of.outages_in(engine, T0 - day, minutes(1)) == [ids["a"]]
    clock.now = T0 + 5 * day
    assert of.outages_in(engine, T0 + 4 * day, T0 + 6 * day) == [ids["b"]]  # B still runs
    clock.now = minutes(250)
    future = register.add_outage(
        engine,
        areas=["5000"],
        services=["internet"],
        message_nl="x",
        message_en="y",
        planned=True,
        starts_at=T0 + 3 * day,
    )
    assert future.id not in of.outages_in(engine, T0, T0 + 10 * day)  # not started yet: no window
    assert [f.outage_id for f in of.in_period(engine, T0, T0 + day)] == [ids["b"], ids["a"]]
    assert of.figures(engine, []) == [] and of.figures(engine, [999999]) == []


def test_node_areas_cover_no_case(engine, agent, clock):
    clock.now = T0
    outage = register.add_outage(
        engine, areas=["OLT-RTD-01"], services=["internet"], message_nl="x", message_en="y", starts_at=T0
    )
    caselog.open_case(engine, agent.id, "phone", "R", "no internet", "fibre", postcode="3011AB")
    (f,) = of.figures(engine, [outage.id])
    assert f.nodes == ("OLT-RTD-01",) and f.areas == () and f.area_calls == 0
