"""Known outages on SQLite and PostgreSQL: the register's rules, matching a caller, linking and
closing a case, the callback list, and possible outages detected in a replayed stream of calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kb.caselog import cases as caselog
from kb.errors import InvalidInput
from kb.identity.users import create_user
from kb.outages import callbacks, detect, register
from kb.store import engine as db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def people(engine):
    return (
        create_user(engine, "anna", "correct horse battery", "agent"),
        create_user(engine, "nora", "correct horse battery", "noc"),
    )


def add(engine, **fields):
    defaults = {"areas": ["3011"], "services": ["internet"], "message_nl": "Storing", "message_en": "Outage"}
    return register.add_outage(engine, **{**defaults, **fields})


# -- the register ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"), [("3011AB", "3011AB"), ("3011 ab", "3011AB"), (" 1000aa ", "1000AA"), ("9999ZZ", "9999ZZ")]
)
def test_postcodes_are_normalised(raw, normal):
    assert register.normalise_postcode(raw) == normal
    assert caselog.check_postcode(raw) == normal


@pytest.mark.parametrize("bad", ["0123AB", "3011", "3011A", "30111AB", "3011SS", "ABCD12", "3011 A B", "３０１１AB", 7])
def test_bad_postcodes_are_refused_with_the_format(bad):
    with pytest.raises(InvalidInput, match="1234AB"):
        register.normalise_postcode(bad)
    with pytest.raises(InvalidInput, match="1234AB"):
        caselog.check_postcode(bad)


def test_a_postcode_is_found_in_a_message():
    assert register.postcode_in("Hallo, ik woon op de Coolsingel, 3011 ad Rotterdam, en heb geen internet") == "3011AD"
    assert register.postcode_in("al 3011 minuten geen internet") is None  # four digits alone are just a number
    assert register.postcode_in("mijn modem 1234SS") is None


def test_an_outage_keeps_its_history(engine, people):
    _, noc = people
    start = datetime(2030, 1, 6, 8, 0, tzinfo=UTC)
    outage = add(
        engine, areas="3011, 3012AB OLT-RTM-04", starts_at=start, expected_end="2030-01-06T18:00+01:00", actor_id=noc.id
    )
    assert outage.areas == ("3011", "3012AB") and outage.nodes == ("OLT-RTM-04",)
    register.update_outage(engine, outage.id, noc.id, expected_end="2030-01-06T20:00+01:00")
    register.update_outage(engine, outage.id, None, expected_end=None, notes="cabinet flooded")
    register.end_outage(engine, outage.id, noc.id)
    changes = register.history(engine, outage.id)
    assert [c.actor for c in changes] == ["nora", "nora", None, "nora"]
    assert changes[1].changes["expected_end"] == ["2030-01-06T17:00:00+00:00", "2030-01-06T19:00:00+00:00"]
    assert changes[2].changes["expected_end"][1] is None and changes[2].changes["notes"] == ["…", "…"]
    assert changes[3].changes["status"] == ["investigating", "fixed"]
    assert register.get_outage(engine, outage.id).fixed_at is not None


@pytest.mark.parametrize(
    "fields",
    [
        {"areas": []},
        {"areas": ["0123"]},
        {"services": []},
        {"services": ["gas"]},
        {"connections": ["adsl"]},
        {"message_nl": "  "},
        {"expected_end": "tomorrow"},
        {"expected_end": "2026-12-01T10:00"},  # no time zone
        {"starts_at": "2026-12-01T10:00+01:00", "expected_end": "2026-12-01T09:00+01:00"},
    ],
)
def test_bad_outages_are_refused(engine, fields):
    with pytest.raises(InvalidInput):
        add(engine, **fields)


# -- matching --------------------------------------------------------------------------------------------------


def test_a_full_postcode_is_inside_its_four_digit_area(engine):
    area = add(engine, areas=["3011"])
    street = add(engine, areas=["3012AB"])
    assert [o.id for o in register.matching(engine, "3011XY").here] == [area.id]
    assert [o.id for o in register.matching(engine, "3012AB").here] == [street.id]
    assert register.matching(engine, "3012AC").here == ()
    assert [o.id for o in register.matching(engine, "3012AC").near] == [street.id]  # same area, another street
    assert not register.matching(engine, "4000AA").any


def test_service_and_connection_filters(engine):
    fibre = add(engine, connections=["fibre"])
    phone = add(engine, services=["telephony"])
    found = register.matching(engine, "3011AB", "dsl", ("internet",))
    assert found.here == () and {o.id for o in found.near} == {fibre.id, phone.id}
    assert [o.id for o in register.matching(engine, "3011AB", "fibre", ("internet",)).here] == [fibre.id]
    assert {o.id for o in register.matching(engine, "3011AB", "unknown").here} == {fibre.id, phone.id}


def test_planned_in_the_future_and_ended_outages_do_not_match(engine, people):
    soon = add(engine, planned=True, starts_at=db.utcnow() + timedelta(hours=2))
    over = add(engine)
    register.end_outage(engine, over.id)
    closed = add(engine)
    register.end_outage(engine, closed.id, status="closed")
    assert register.matching(engine, "3011AB").here == ()
    assert [o.id for o in register.matching(engine, "3011AB", now=db.utcnow() + timedelta(hours=3)).here] == [soon.id]


def test_without_a_postcode_every_active_unplanned_outage_is_listed(engine):
    add(engine, areas=["1011"])
    add(engine, areas=["9711"], planned=True)
    assert [o.areas for o in register.matching(engine, None).elsewhere] == [("1011",)]


# -- linking, closing, calling back ----------------------------------------------------------------------------------


def test_link_close_call_back_and_reopen(engine, people):
    agent, noc = people
    outage = add(engine)
    case = caselog.open_case(engine, agent.id, "phone", "K-1", "geen internet", "fibre", postcode="3011 ab")
    assert case.postcode == "3011AB"
    closed = caselog.close_known_outage(engine, case.id, agent.id, outage.id, callback=True)
    assert (closed.status, closed.outage_id, closed.callback) == ("known_outage", outage.id, True)
    assert closed.handle_seconds is not None
    assert callbacks.due(engine) == []  # not fixed yet
    register.end_outage(engine, outage.id, noc.id)
    assert [c.case_id for c in callbacks.due(engine)] == [case.id]
    reopened = caselog.record_callback(engine, case.id, agent.id, "still_broken")
    assert reopened.status == "open" and reopened.callback_result == "still_broken" and reopened.reopen_count == 1
    assert callbacks.due(engine) == []
    kinds = [e.kind for e in caselog.timeline(engine, case.id)]
    assert kinds == ["opened", "known_outage", "called_back", "reopened"]


def test_restored_closes_the_callback(engine, people):
    agent, _ = people
    outage = add(engine)
    case = caselog.open_case(engine, agent.id, "chat", "K-2", "internet plat")
    caselog.close_known_outage(engine, case.id, agent.id, outage.id, callback=True)
    register.end_outage(engine, outage.id)
    assert caselog.record_callback(engine, case.id, agent.id, "restored").status == "known_outage"
    with pytest.raises(InvalidInput, match="already"):
        caselog.record_callback(engine, case.id, agent.id, "restored")


def test_no_callback_without_asking_and_no_unknown_outage(engine, people):
    agent, _ = people
    outage = add(engine)
    case = caselog.open_case(engine, agent.id, "phone", "K-3", "geen tv")
    with pytest.raises(InvalidInput):
        caselog.close_known_outage(engine, case.id, agent.id, 999)
    caselog.close_known_outage(engine, case.id, agent.id, outage.id, callback=False)
    register.end_outage(engine, outage.id)
    assert callbacks.due(engine) == []
    with pytest.raises(InvalidInput, match="not waiting"):
        caselog.record_callback(engine, case.id, agent.id, "restored")


# -- detection from a replayed stream of calls -----------------------------------------------------------------------


def replay(engine, agent, stream, clock):
    """Open the cases of `stream` ((minutes after NOW, postcode), ...) at their times."""
    opened = []
    for minutes, postcode in stream:
        clock.now = NOW + timedelta(minutes=minutes)
        opened.append(caselog.open_case(engine, agent.id, "phone", f"R-{minutes}", "geen internet", postcode=postcode))
    return opened


@pytest.fixture
def clock(monkeypatch):
    from tests.dbfixtures import Clock

    found = Clock(NOW)
    monkeypatch.setattr(db, "utcnow", found)
    return found


def test_five_calls_from_one_area_in_half_an_hour_raise_an_alert(engine, people, clock):
    agent, _ = people
    stream = [(0, "3011AB"), (4, "3011CD"), (9, "2500AA"), (12, "3011AB"), (20, "3011EF"), (27, "3011GH")]
    replay(engine, agent, stream, clock)
    alerts = detect.possible_outages(engine, now=NOW + timedelta(minutes=28), cases=5, window=timedelta(minutes=30))
    assert [(a.area, len(a.case_ids)) for a in alerts] == [("3011", 5)]
    # 31 minutes later the first call is out of the window: four left, no alert
    assert detect.possible_outages(engine, now=NOW + timedelta(minutes=31), cases=5, window=timedelta(minutes=30)) == []
    # once the noc registers the outage, the alert goes
    clock.now = NOW + timedelta(minutes=28)
    add(engine, areas=["3011"])
    assert detect.possible_outages(engine, now=NOW + timedelta(minutes=28), cases=5, window=timedelta(minutes=30)) == []


def test_only_connectivity_cases_count_when_known(engine, people, clock):
    agent, _ = people
    cases = replay(engine, agent, [(m, "3011AB") for m in range(5)], clock)
    for case in cases[:4]:
        caselog.record_search(engine, case.id, agent.id, "geen internet", ["no-internet-all-devices"])
    caselog.record_search(engine, cases[4].id, agent.id, "factuur te hoog", ["billing-question"])
    at = NOW + timedelta(minutes=5)
    assert detect.possible_outages(engine, {"no-internet-all-devices"}, now=at, cases=5) == []
    assert len(detect.possible_outages(engine, {"no-internet-all-devices"}, now=at, cases=4)[0].case_ids) == 4
