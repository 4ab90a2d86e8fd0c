"""The analysts' page with known outages: the headline's known-outage rate with its drill-down, the
Outages section (per outage: linked cases, handle times, calls before registration, callbacks), its
exports, in English and Dutch, and no customer data."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

import kb.store.engine
from kb.identity.users import create_user
from tests.outages.scenario import build, minutes
from tests.webapp.conftest import PASSWORD, sign_in_as

PERIOD = "period=custom&since=2026-11-10&until=2026-11-10"


@pytest.fixture
def outages(app, users, monkeypatch):
    engine = app.extensions["kb"].engine
    now = {"t": minutes(0)}
    monkeypatch.setattr(kb.store.engine, "utcnow", lambda: now["t"])
    agent = create_user(engine, "outage-agent", PASSWORD, "agent", team="helpdesk-a")
    return build(engine, agent.id, lambda at: now.update(t=at))


@pytest.fixture
def analyst(app, users):
    client = app.test_client()
    sign_in_as(client, users["analyst"])
    return client


def outage_row(page: str, outage_id: int) -> str:
    table = page[page.index('id="outage-figures"') :]
    row = re.search(rf"<tr>\s*<td data-sort=\"{outage_id}\">.*?</tr>", table, re.S)
    assert row, table[:3000]
    return re.sub(r"\s+", " ", row.group(0))


def test_the_headline_shows_the_known_outage_rate_and_drills_down(analyst, outages):
    page = analyst.get(f"/analytics/?{PERIOD}").get_data(as_text=True)
    figure = re.search(r'Known outage</abbr></dt>\s*<dd class="figure-value"><a href="([^"]+)">([^<]+)</a>', page)
    assert figure and figure.group(2) == "33.3%", page[page.find("Headline") : page.find("Headline") + 3000]
    assert "Closed as part of a known outage, linked to it / closed cases." in page
    order = [page.index(f"{name}</abbr>") for name in ("Escalated", "Unresolved / callback", "Known outage")]
    assert order == sorted(order)  # next to resolved / escalated / unresolved
    drill = analyst.get(figure.group(1).replace("&amp;", "&")).get_data(as_text=True)
    linked = [outages[n] for n in ("linked_callback", "linked", "no_postcode")]
    for case_id in linked:
        assert f'href="/analytics/cases/{case_id}"' in drill
    assert f'href="/analytics/cases/{outages["early"]}"' not in drill  # unresolved, not linked
    assert "Cases behind the figure (3)" in drill


def test_the_outages_section_has_the_figures_per_outage(analyst, outages):
    page = analyst.get(f"/analytics/?{PERIOD}").get_data(as_text=True)
    assert '<h2 id="outages-title">Outages</h2>' in page
    assert re.search(r"Cases linked to an outage: <strong>3</strong>", page)
    a = outage_row(page, outages["a"])
    assert "3011, 3011AA, 3012AB" in a and "Internet" in a and "Fixed" in a
    cells = re.findall(r"<td[^>]*>(.*?)</td>", a)
    assert cells[4] == "4"  # linked
    assert cells[5].startswith("4:00") and "(3 closed)" in cells[5]  # median 240 s over 3 closed
    assert cells[6].startswith("6:40") and "(2 closed)" in cells[6]  # unlinked median 400 s
    assert cells[7].startswith("2") and "first 25 min before registration" in cells[7]
    assert cells[8].startswith("2 / 3") and "1 restored, 1 still broken" in cells[8]
    assert cells[9] == "1"
    b = outage_row(page, outages["b"])
    assert "ongoing" in b and "Investigating" in b and "waiting for the fix" not in b
    for secret in ("REF-", "3011CC", "3011EE", "1234AB"):  # no customer reference, no caller's postcode
        assert secret not in page


def test_the_outages_export_and_the_headline_export(analyst, outages):
    body = analyst.get(f"/analytics/export/outages.json?{PERIOD}").get_data(as_text=True)
    rows = {r["id"]: r for r in json.loads(body)}
    a = rows[outages["a"]]
    assert (a["linked_cases"], a["calls_before_registration"], a["minutes_late"], a["callbacks_due"]) == (4, 2, 25.0, 1)
    assert a["areas"] == "3011 3011AA 3012AB" and a["median_handle_seconds_unlinked"] == 400
    text = analyst.get(f"/analytics/export/outages.csv?{PERIOD}").get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r["id"] for r in table} == {str(outages["a"]), str(outages["b"])}
    head = json.loads(analyst.get(f"/analytics/export/headline.json?{PERIOD}").get_data(as_text=True))
    values = {r["figure"]: r["value"] for r in head}
    assert values["known_outage"] == 3 and values["outage_linked_cases"] == 3


def test_in_dutch(app, analyst, outages):
    page = analyst.get(f"/analytics/?{PERIOD}", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    assert "Bekende storing</abbr>" in page and "33,3%" in page
    assert '<h2 id="outages-title">Storingen</h2>' in page and "Gekoppelde cases" in page
    assert "eerste 25 min vóór registratie" in page and "loopt nog" in page
    assert "Oorzaak gevonden" not in page and "In onderzoek" in page


def test_no_outages(analyst):
    page = analyst.get(f"/analytics/?{PERIOD}").get_data(as_text=True)
    assert "No outages in the period." in page


@pytest.mark.parametrize("role", ["agent", "noc"])
def test_agents_and_the_noc_do_not_see_the_figures(app, users, role):
    client = app.test_client()
    sign_in_as(client, users[role])
    assert client.get(f"/analytics/?{PERIOD}").status_code == 403
    assert client.get(f"/analytics/export/outages.csv?{PERIOD}").status_code == 403
