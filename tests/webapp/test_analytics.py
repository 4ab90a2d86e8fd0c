"""The analysts' pages through the Flask client: figures with formulas, charts, drill-down, exports, roles."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

import kb.store.engine
from kb.analytics.export import safe_cell, to_csv
from kb.caselog import cases as caselog
from kb.caselog.gaps import GapTable
from kb.identity.users import create_user
from tests.webapp.conftest import PASSWORD, sign_in_as

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PERIOD = "period=custom&since=2026-11-02&until=2026-11-08"
HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


@pytest.fixture
def data(app, monkeypatch):
    engine = app.extensions["kb"].engine
    now = {"t": T0}
    monkeypatch.setattr(kb.store.engine, "utcnow", lambda: now["t"])

    def at(days=0, minutes=0):
        now["t"] = T0 + timedelta(days=days, minutes=minutes)

    agent = create_user(engine, "anna", PASSWORD, "agent", team="helpdesk-a")
    ids = {}
    at(0)
    ids["resolved"] = caselog.open_case(engine, agent.id, "phone", "SECRET-REF-1", "dsl blinking", "dsl").id
    caselog.record_article_opened(engine, ids["resolved"], agent.id, "dsl-no-sync", "en")
    caselog.tick_step(engine, ids["resolved"], agent.id, "dsl-no-sync", "en", 1)
    at(0, 7)
    caselog.resolve_case(engine, ids["resolved"], agent.id, ["dsl-no-sync"])
    at(1)
    ids["escalated"] = caselog.open_case(engine, agent.id, "chat", "SECRET-REF-2", "no sync at all", "dsl").id
    caselog.record_article_opened(engine, ids["escalated"], agent.id, "dsl-no-sync", "en")
    caselog.tick_step(engine, ids["escalated"], agent.id, "dsl-no-sync", "en", 2)
    at(1, 4)
    caselog.escalate_case(engine, ids["escalated"], agent.id, "tier2", "line fault")
    for n, text in enumerate(HOSTILE):
        at(2, n)
        GapTable(engine).add_weak(f"{text} gap {n}", "en", agent.id, None)
    monkeypatch.setattr(kb.store.engine, "utcnow", lambda: T0 + timedelta(days=10))
    return ids


def client_as(app, role, team=None):
    client_as.n = getattr(client_as, "n", 0) + 1
    user = create_user(app.extensions["kb"].engine, f"user-{role}-{client_as.n}", PASSWORD, role, team=team)
    client = app.test_client()
    sign_in_as(client, user)
    return client


def test_the_dashboard_shows_figures_with_formulas_and_charts(app, data):
    page = client_as(app, "analyst").get(f"/analytics/?{PERIOD}").get_data(as_text=True)
    assert "Cases closed" in page and "First-contact resolution" in page
    assert "Resolved, never reopened, and no new case for the same customer within 7 days" in page
    assert re.search(r'<svg id="trend-rates" class="chart"[^>]*role="img"', page)
    assert '<title id="trend-rates-title">Weekly rates</title>' in page and "<desc" in page
    assert "The numbers as a table" in page  # each chart's numbers one click away
    assert "SECRET-REF" not in page  # the customer reference is never shown
    closed = re.search(r"Cases closed</abbr></dt>\s*<dd class=\"figure-value\"><a href=\"([^\"]+)\">2</a>", page)
    assert closed, page[page.find("Headline") : page.find("Headline") + 1500]


def test_drill_down_to_the_cases_and_a_read_only_timeline(app, data):
    client = client_as(app, "analyst")
    page = client.get(f"/analytics/cases?{PERIOD}&metric=escalated").get_data(as_text=True)
    assert f'href="/analytics/cases/{data["escalated"]}"' in page
    assert f'href="/analytics/cases/{data["resolved"]}"' not in page
    timeline = client.get(f"/analytics/cases/{data['escalated']}").get_data(as_text=True)
    assert "no sync at all" in timeline and "SECRET-REF" not in timeline and "Step done" in timeline
    assert client.get(f"/analytics/cases?{PERIOD}&metric=nonsense").status_code == 404


def test_per_article_and_per_step(app, data):
    page = client_as(app, "analyst").get(f"/analytics/articles?{PERIOD}").get_data(as_text=True)
    assert "low volume" in page and "most escalations" in page
    assert re.search(r'<tr class="highlight"><td>2 <strong class="badge">most escalations', page)


def test_csv_opens_safely_in_a_spreadsheet(app, data):
    response = client_as(app, "analyst").get(f"/analytics/export/gap_queries.csv?{PERIOD}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["query", "searches"] and len(rows) == 1 + len(HOSTILE)
    stored = [query for query, _ in rows[1:]]
    risky = [q for q in stored if q.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert len(risky) >= 4  # tabs and carriage returns at the start were cleaned away when stored
    assert all(q.startswith("'") for q in risky), risky


def test_json_exports_use_the_metric_names(app, data):
    client = client_as(app, "analyst")
    head = {r["figure"]: r["value"] for r in json.loads(client.get(f"/analytics/export/headline.json?{PERIOD}").data)}
    assert head["cases_closed"] == 2 and head["escalation_rate"] == 0.5 and head["fcr_rate"] == 0.5
    articles = json.loads(client.get(f"/analytics/export/articles.json?{PERIOD}").data)
    assert articles[0]["article_id"] == "dsl-no-sync" and articles[0]["used"] == 2 and articles[0]["low_volume"]


def test_editors_get_the_per_article_part_only(app, data):
    editor = client_as(app, "editor")
    assert editor.get(f"/analytics/?{PERIOD}").status_code == 403
    assert editor.get(f"/analytics/articles?{PERIOD}").status_code == 200
    assert editor.get(f"/analytics/export/articles.csv?{PERIOD}").status_code == 200
    assert editor.get(f"/analytics/export/headline.csv?{PERIOD}").status_code == 403


def test_agents_get_403_everywhere(app, data):
    agent = client_as(app, "agent")
    for path in ("/analytics/", "/analytics/articles", "/analytics/cases", "/analytics/export/headline.csv"):
        assert agent.get(path).status_code == 403, path


def test_a_bad_period_says_what_to_do(app, data):
    response = client_as(app, "analyst").get("/analytics/?period=custom&since=2026-13-45&until=x")
    assert response.status_code == 400 and "two dates (YYYY-MM-DD)" in response.get_data(as_text=True)
    reversed_ = client_as(app, "analyst", team=None)  # a second analyst
    assert reversed_.get("/analytics/?period=custom&since=2026-11-08&until=2026-11-01").status_code == 400


def test_filters_narrow_the_figures(app, data):
    client = client_as(app, "analyst")
    chat = {
        r["figure"]: r["value"]
        for r in json.loads(client.get(f"/analytics/export/headline.json?{PERIOD}&channel=chat").data)
    }
    assert chat["cases_closed"] == 1 and chat["escalated"] == 1


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_cells_are_neutralised(value):
    assert safe_cell(value) == "'" + value
    assert safe_cell(-3) == -3 and safe_cell("plain") == "plain"
    text = to_csv(["a"], [[value]]).decode("utf-8-sig")
    assert text.splitlines()[1].lstrip('"').startswith("'")
