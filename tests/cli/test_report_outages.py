"""`kb report` with known outages: known_outage_rate, outage_linked_cases and the per-outage figures."""

from __future__ import annotations

import json

import kb.store.engine
from kb.cli import main
from kb.cli.registry import database_url
from kb.store.engine import make_engine, upgrade
from tests.outages.scenario import build, minutes


def test_report_has_the_outage_figures(tmp_path, monkeypatch, capsys):
    from kb.identity.users import create_user

    monkeypatch.setenv("KB_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    engine = make_engine(database_url())
    upgrade(engine)
    agent = create_user(engine, "anna", "correct horse battery", "agent")
    now = {"t": minutes(0)}
    monkeypatch.setattr(kb.store.engine, "utcnow", lambda: now["t"])
    ids = build(engine, agent.id, lambda at: now.update(t=at))
    assert main(["report", "--since", "2026-11-10", "--until", "2026-11-10", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    # closed that day: before_start, early, next_door, unlinked, other_area, after_fix unresolved;
    # linked_callback, linked, no_postcode known outage (still_broken was reopened)
    assert figures["cases_closed"] == 9 and figures["known_outage"] == 3
    assert figures["known_outage_rate"] == 3 / 9
    assert figures["outage_linked_cases"] == 3
    assert [o["id"] for o in figures["outages"]] == [ids["b"], ids["a"]]
    a = figures["outages"][1]
    assert a["linked_cases"] == 4 and a["median_handle_seconds_linked"] == 240
    assert a["median_handle_seconds_unlinked"] == 400 and a["unlinked_closed"] == 2
    assert a["calls_before_registration"] == 2 and a["minutes_late"] == 25.0
    assert (a["callbacks_asked"], a["callbacks_done"], a["callbacks_due"]) == (3, 2, 1)
    assert a["areas"] == ["3011", "3011AA", "3012AB"] and a["services"] == ["internet"]
    assert "REF-" not in json.dumps(figures)  # no customer reference, no postcode of a case
    assert "3011CC" not in json.dumps(figures)

    assert main(["report", "--since", "2026-11-10", "--until", "2026-11-10"]) == 0
    text = capsys.readouterr().out
    assert "known_outage_rate" in text and "33.3%" in text and "outage_linked_cases" in text
    assert "outages in the period: 2" in text
    line = next(line for line in text.splitlines() if line.startswith(f"  #{ids['a']} "))
    assert "linked 4" in line and "median linked 4.0 min vs unlinked 6.7 min" in line
    assert "calls before registration 2 (first 25 min before)" in line and "due 1" in line

    now["t"] = minutes(3 * 24 * 60)  # 13 November: B still active
    assert main(["report", "--since", "2026-11-12", "--until", "2026-11-12", "--json"]) == 0
    later = json.loads(capsys.readouterr().out)
    assert later["outage_linked_cases"] == 0 and later["known_outage_rate"] is None
    assert [o["id"] for o in later["outages"]] == [ids["b"]]  # A was fixed on the 10th
