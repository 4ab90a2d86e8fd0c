"""`kb report` and `kb demo` from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import kb.store.engine
from kb.cli import main
from kb.cli.registry import database_url
from kb.store.engine import make_engine, upgrade
from tests.conftest import ROOT, write_kb


def test_report_json_has_the_metric_names(tmp_path, monkeypatch, capsys):
    from kb.caselog import cases as caselog
    from kb.identity.users import create_user

    monkeypatch.setenv("KB_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    engine = make_engine(database_url())
    upgrade(engine)
    agent = create_user(engine, "anna", "correct horse battery", "agent")
    t0 = datetime(2026, 11, 3, 9, tzinfo=UTC)
    monkeypatch.setattr(kb.store.engine, "utcnow", lambda: t0)
    case = caselog.open_case(engine, agent.id, "phone", "R1", "no sync", "dsl")
    monkeypatch.setattr(kb.store.engine, "utcnow", lambda: t0 + timedelta(minutes=5))
    caselog.escalate_case(engine, case.id, agent.id, "tier2", "line fault")
    monkeypatch.undo()
    monkeypatch.setenv("KB_INSTANCE", str(tmp_path / "instance"))
    assert main(["report", "--since", "2026-11-01", "--until", "2026-11-30", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["cases_closed"] == 1 and figures["escalation_rate"] == 1.0 and figures["fcr_rate"] == 0.0
    assert {"l1_resolution_rate", "link_rate", "median_handle_seconds"} <= set(figures)
    assert figures["median_handle_seconds"] == 300
    assert main(["report", "--since", "2026-11-01", "--until", "2026-11-30"]) == 0
    assert "escalation_rate" in capsys.readouterr().out


def test_demo_fills_an_empty_database_and_refuses_real_cases(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KB_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    assert main(["demo", "--cases", "30", "--days", "10", "--articles", str(ROOT / "articles")]) == 0
    assert "wrote 30 demo cases" in capsys.readouterr().out
    assert main(["demo", "--remove"]) == 0
    assert "removed 30 demo case(s)" in capsys.readouterr().out
    from kb.caselog import cases as caselog
    from kb.identity.users import create_user

    engine = make_engine(database_url())
    agent = create_user(engine, "anna", "correct horse battery", "agent")
    caselog.open_case(engine, agent.id, "phone", "REAL-1", "real problem", "dsl")
    assert main(["demo", "--cases", "5", "--articles", str(write_kb(tmp_path / "kb"))]) == 2
    assert "real" in capsys.readouterr().err.lower()
