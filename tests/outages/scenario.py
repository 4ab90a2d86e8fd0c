"""One outage with calls before and after its registration, linked and unlinked cases and callbacks,
shared by the figure tests (tests/outages), `kb report` (tests/cli) and the analytics page (tests/webapp).

The clock is set through `set_now(datetime)`; T0 is the outage's start. Outage A covers 3011 (a
four-digit area), 3011AA (inside it, so its cases must count once) and 3012AB (one postcode); it
starts at T0, is registered at T0+30 min and fixed at T0+120 min. Outage B (3011AA only) is
registered at its start, T0+200 min, and is still active.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kb.caselog import cases as caselog
from kb.outages import register

T0 = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def build(engine, agent_id: int, set_now) -> dict:
    """The scenario; returns the ids: outages "a", "b" and the cases by name."""
    ids: dict = {}

    def call(name, at, postcode, connection="fibre"):
        set_now(minutes(at))
        ids[name] = caselog.open_case(
            engine, agent_id, "phone", f"REF-{name}", "no internet", connection, postcode=postcode
        ).id
        return ids[name]

    def unresolved(name, at):
        set_now(minutes(at))
        caselog.close_unresolved(engine, ids[name], agent_id, "reboot did not help")

    def link(name, at, callback):
        set_now(minutes(at))
        caselog.close_known_outage(engine, ids[name], agent_id, ids["a"], callback=callback)

    call("before_start", -10, "3011DD")  # before the outage started: not its call
    unresolved("before_start", -5)
    call("early", 5, "3011AA")  # before registration (in 3011 and in 3011AA: counted once)
    unresolved("early", 10)  # 5 minutes, unlinked
    call("early_open", 20, "3011BB")  # before registration, still open
    set_now(minutes(30))
    ids["a"] = register.add_outage(
        engine,
        areas=["3011", "3011AA", "3012AB"],
        services=["internet"],
        message_nl="Storing",
        message_en="Outage",
        starts_at=T0,
    ).id
    call("linked_callback", 40, "3012AB")
    link("linked_callback", 42, True)  # 2 minutes
    call("next_door", 45, "3012AC")  # 3012AB is one postcode: 3012AC is outside
    unresolved("next_door", 46)
    call("linked", 50, "3011CC")
    link("linked", 54, False)  # 4 minutes
    call("no_postcode", 55, None)
    link("no_postcode", 65, True)  # 10 minutes; linked without a postcode
    call("unlinked", 60, "3011EE")
    unresolved("unlinked", 60 + 500 / 60)  # 500 s
    call("still_broken", 70, "3011FF")
    link("still_broken", 73, True)
    call("other_area", 80, "1234AB")
    unresolved("other_area", 81)
    set_now(minutes(120))
    register.end_outage(engine, ids["a"])
    call("after_fix", 130, "3011GG")  # after the fix: outside the window
    unresolved("after_fix", 131)
    set_now(minutes(140))
    caselog.record_callback(engine, ids["linked_callback"], agent_id, "restored")
    caselog.record_callback(engine, ids["still_broken"], agent_id, "still_broken")  # reopens it
    set_now(minutes(200))
    ids["b"] = register.add_outage(
        engine, areas=["3011AA"], services=["internet"], message_nl="Storing", message_en="Outage"
    ).id
    set_now(minutes(300))
    return ids
