"""The case log in the web app: open, record searches and articles, tick steps, note, close, hand off.

Everything goes through the Flask test client; what the pages say is checked against what
kb.caselog.cases has stored, so a page that claims something the database does not hold fails.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import func, select

from kb.caselog import cases as caselog
from kb.identity.users import create_user
from kb.integrations.webhook import deliver_pending, list_deliveries
from kb.store.engine import session_scope, utcnow
from kb.store.tables import AuditLogRow, CaseEventRow, CaseRow
from tests.conftest import write_kb
from tests.webapp.conftest import PASSWORD, sign_in_as

CUSTOMER = "CUST-778812"
PROBLEM = "Internet light is red since the thunderstorm; modem restarted twice."


@pytest.fixture
def kb_root(tmp_path):
    return write_kb(tmp_path / "articles")


@pytest.fixture
def app(make_app, kb_root):
    return make_app(KB_ARTICLES=str(kb_root))


@pytest.fixture
def engine(app):
    return app.extensions["kb"].engine


@pytest.fixture
def agent(engine):
    return create_user(engine, "anna", PASSWORD, "agent", display_name="Anna de Vries")


@pytest.fixture
def client(app, agent):
    client = app.test_client()
    sign_in_as(client, agent)
    return client


def text_of(response) -> str:
    return response.get_data(as_text=True)


def open_case(client, **fields) -> int:
    data = {"channel": "phone", "customer_ref": CUSTOMER, "problem": PROBLEM, "connection_type": "dsl", **fields}
    response = client.post("/cases/open", data=data)
    assert response.status_code == 302 and response.headers["Location"] == "/", text_of(response)[:400]
    with client.session_transaction() as session:
        return session["case_id"]


def counts(engine) -> tuple[int, int]:
    with session_scope(engine, readonly=True) as session:
        return (
            session.scalar(select(func.count()).select_from(CaseRow)),
            session.scalar(select(func.count()).select_from(CaseEventRow)),
        )


def kinds(engine, case_id) -> list[str]:
    return [e.kind for e in caselog.timeline(engine, case_id)]


# -- the full lifecycle -------------------------------------------------------------------------------


def test_resolve_lifecycle(client, engine, agent):
    case_id = open_case(client)
    case = caselog.get_case(engine, case_id)
    assert (case.agent_id, case.channel, case.customer_ref, case.problem, case.connection_type, case.status) == (
        agent.id,
        "phone",
        CUSTOMER,
        PROBLEM,
        "dsl",
        "open",
    )

    home = text_of(client.get("/"))
    assert f"Case {case_id}" in home and CUSTOMER in home  # the case bar, on every page
    assert 'id="case-prefill"' not in home  # no second case while one is current

    assert client.post("/api/search", json={"query": "dsl light blinking", "lang": "en"}).status_code == 200
    assert client.post("/", data={"query": "forgot my email password", "lang": "en"}).status_code == 200
    article = text_of(client.get("/articles/dsl-no-sync?lang=en"))
    assert f'action="/cases/{case_id}/steps" data-api="/api/cases/{case_id}/steps"' in article
    assert f"close case {case_id} as resolved" in article

    for step, done in ((1, True), (2, True), (2, False)):
        response = client.post(
            f"/api/cases/{case_id}/steps", json={"article_id": "dsl-no-sync", "lang": "en", "step": step, "done": done}
        )
        assert response.status_code == 200, text_of(response)
    assert response.get_json() == {"ticked": [1], "results": {}}
    response = client.post(
        f"/api/cases/{case_id}/steps",
        json={"article_id": "dsl-no-sync", "lang": "en", "step": 1, "done": True, "result": "cable was loose"},
    )
    assert response.get_json() == {"ticked": [1], "results": {"1": "cable was loose"}}
    assert caselog.ticked_steps(engine, case_id) == {("dsl-no-sync", "en"): {1}}
    article = text_of(client.get("/articles/dsl-no-sync?lang=en"))
    assert re.search(r'value="1"\s+data-step="1" checked', article)
    assert re.search(r'name="result-1"[^>]*value="cable was loose"', article)
    assert re.search(r'name="result-2"[^>]*value=""', article)

    assert client.post(f"/cases/{case_id}/notes", data={"text": "Customer removed the splitter."}).status_code == 302
    response = client.post(f"/cases/{case_id}/resolve", data={"article_ids": ["dsl-no-sync", ""], "note": "sync back"})
    # Closed: the agent lands on a fresh search for the next call, with a link back to the case.
    assert response.status_code == 302 and response.headers["Location"] == "/"
    fresh = text_of(client.get("/"))
    assert "Ready for the next call." in fresh and f'href="/cases/{case_id}"' in fresh
    assert 'data-fresh="1"' in fresh and 'id="case-panel"' not in fresh
    assert 'data-fresh="1"' not in text_of(client.get("/"))  # only once

    case = caselog.get_case(engine, case_id)
    assert case.status == "resolved" and case.resolved_by == ("dsl-no-sync",) and case.outcome_note == "sync back"
    assert case.handle_seconds is not None and case.handle_seconds >= 0
    events = caselog.timeline(engine, case_id)
    assert [e.kind for e in events] == [
        "opened",
        "search",
        "search",
        "article_opened",
        "step_ticked",
        "step_ticked",
        "step_unticked",
        "step_ticked",
        "note",
        "resolved",
    ]
    assert [e.text for e in events if e.kind == "search"] == ["dsl light blinking", "forgot my email password"]
    assert [(e.article_id, e.lang, e.step_number, e.text) for e in events if e.kind.startswith("step_")] == [
        ("dsl-no-sync", "en", 1, None),
        ("dsl-no-sync", "en", 2, None),
        ("dsl-no-sync", "en", 2, None),
        ("dsl-no-sync", "en", 1, "cable was loose"),
    ]

    page = text_of(client.get(f"/cases/{case_id}"))
    assert "status-resolved" in page and "DSL light blinking: no DSL sync" in page
    assert "Customer removed the splitter." in page and "“dsl light blinking”" in page
    assert "Steps done: 1" in page
    with client.session_transaction() as session:
        assert "case_id" not in session  # a closed case is no longer current
    assert "Searches and opened articles are added" not in text_of(client.get("/"))


def test_searches_while_typing_are_one_event_and_nothing_is_recorded_without_a_case(client, engine):
    client.post("/api/search", json={"query": "dsl light"})  # no case yet: nothing to record it on
    assert counts(engine) == (0, 0)
    case_id = open_case(client)
    for query in ("dsl", "dsl li", "dsl light blink"):
        client.post("/api/search", json={"query": query})
    assert [e.text for e in caselog.timeline(engine, case_id) if e.kind == "search"] == ["dsl light blink"]


def test_opening_from_the_search_box_prefills_the_problem(client):
    form = text_of(client.post("/cases/prefill", data={"problem": "wifi drops <b>every</b> evening"}))
    assert re.search(
        r'<textarea id="problem" name="problem"[^>]*>wifi drops &lt;b&gt;every&lt;/b&gt; evening</textarea>', form
    )
    assert 'id="customer_ref" name="customer_ref" value=""' in form


def test_escalate_lifecycle_and_handoff_field_by_field(app, client, engine, agent):
    revision = app.extensions["kb"].snapshot().get("fiber-los-red-light", "en").revision
    case_id = open_case(client, channel="chat", connection_type="fibre")
    client.post("/api/search", json={"query": "los light is red", "lang": "en"})
    client.get("/articles/fiber-los-red-light?lang=en")
    client.post(
        f"/api/cases/{case_id}/steps",
        json={
            "article_id": "fiber-los-red-light",
            "lang": "en",
            "step": 2,
            "done": True,
            "result": "Cable bent behind the cupboard.",
        },
    )
    client.post(f"/cases/{case_id}/notes", data={"text": "LOS red on two ONTs.\nNeighbours too."})
    response = client.post(
        f"/cases/{case_id}/escalate", data={"team": "field-service", "reason": "Fibre cut suspected outside."}
    )
    assert response.status_code == 302 and response.headers["Location"] == f"/cases/{case_id}/handoff"

    data = client.get(f"/api/cases/{case_id}/handoff").get_json()
    events = {e.kind: e for e in caselog.timeline(engine, case_id)}
    case = caselog.get_case(engine, case_id)
    assert data["case_id"] == case_id
    assert data["customer_ref"] == CUSTOMER
    assert data["channel"] == "chat"
    assert data["problem"] == PROBLEM
    assert data["connection_type"] == "fibre"
    assert data["status"] == "escalated"
    assert data["agent"] == "Anna de Vries"
    assert data["team"] == "field-service"
    assert data["reason"] == "Fibre cut suspected outside."
    assert data["opened_at"] == case.opened_at.isoformat()
    assert data["escalated_at"] == events["escalated"].at.isoformat() == case.closed_at.isoformat()
    assert data["steps_done"] == [
        {
            "article_id": "fiber-los-red-light",
            "lang": "en",
            "step": 2,
            "done_at": events["step_ticked"].at.isoformat(),
            "action": "Look for a kink in the fibre cable.",
            "expected": "The cable is not bent sharply.",
            "result": "Cable bent behind the cupboard.",
            "revision": revision,
            "title": "Zoek naar een knik in de glasvezelkabel.",
        }
    ]
    assert [(a["article_id"], a["lang"], a["revision"]) for a in data["articles_tried"]] == [
        ("fiber-los-red-light", "en", revision)
    ]
    assert [s["query"] for s in data["searches"]] == ["los light is red"]
    assert [(n["text"], n["author"]) for n in data["notes"]] == [
        ("LOS red on two ONTs.\nNeighbours too.", "Anna de Vries")
    ]

    page = text_of(client.get(f"/cases/{case_id}/handoff"))
    # In Dutch (KB_HANDOFF_LANGUAGE defaults to nl): labels, titles, the Dutch step texts.
    for line in (
        f"Escalatie-overdracht voor case {case_id}",
        "Team: Buitendienst",
        f"Klantreferentie: {CUSTOMER}",
        "Kanaal: Chat",
        "Verbindingstype: Glasvezel",
        "Medewerker: Anna de Vries",
        "- Glasvezelmodem LOS-lampje rood (gelezen in het Engels), geopend ",
        "  Stap 1 overgeslagen: Controleer of de glasvezelkabel in de ONT vastklikt.",
        ": Zoek naar een knik in de glasvezelkabel.",
        "    Resultaat: Cable bent behind the cupboard.",
        "LOS red on two ONTs.",
    ):
        assert line in page, line
    assert caselog.get_case(engine, case_id).status == "escalated"


def test_close_as_unresolved(client, engine):
    case_id = open_case(client)
    response = client.post(f"/cases/{case_id}/unresolved", data={"reason": "Customer not home; call back at 17:00."})
    assert response.status_code == 302
    case = caselog.get_case(engine, case_id)
    assert (case.status, case.outcome_note) == ("unresolved", "Customer not home; call back at 17:00.")
    assert "Unresolved / callback" in text_of(client.get(f"/cases/{case_id}"))


# -- read-only after closing, audited reopen ----------------------------------------------------------------

CHANGES = {
    "note": ("/cases/{id}/notes", {"text": "late note"}),
    "resolve": ("/cases/{id}/resolve", {"article_ids": "dsl-no-sync"}),
    "escalate": ("/cases/{id}/escalate", {"team": "tier2", "reason": "r"}),
    "unresolved": ("/cases/{id}/unresolved", {"reason": "r"}),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_closed_case_is_read_only(client, engine, change):
    case_id = open_case(client)
    if change == "unresolved":
        client.post(f"/cases/{case_id}/resolve", data={"article_ids": "dsl-no-sync"})
    else:
        client.post(f"/cases/{case_id}/unresolved", data={"reason": "callback tomorrow"})
    before = counts(engine)
    path, data = CHANGES[change]
    response = client.post(path.format(id=case_id), data=data)
    assert response.status_code == 409 and "already closed" in text_of(response)
    api = client.post(
        f"/api/cases/{case_id}/steps", json={"article_id": "dsl-no-sync", "lang": "en", "step": 1, "done": True}
    )
    assert api.status_code == 409 and "already closed" in api.get_json()["error"]
    assert counts(engine) == before
    page = text_of(client.get(f"/cases/{case_id}"))
    assert 'id="note-form"' not in page and 'id="resolve-form"' not in page and 'id="reopen-form"' in page


def test_reopen_is_audited(client, engine, agent):
    case_id = open_case(client)
    client.post(f"/cases/{case_id}/resolve", data={"article_ids": "dsl-no-sync"})
    assert client.post(f"/cases/{case_id}/reopen", data={"reason": "  "}).status_code == 400
    assert caselog.get_case(engine, case_id).status == "resolved"
    response = client.post(f"/cases/{case_id}/reopen", data={"reason": "Customer called back: DSL down again."})
    assert response.status_code == 302
    case = caselog.get_case(engine, case_id)
    assert (case.status, case.reopen_count, case.resolved_by) == ("open", 1, ())
    with session_scope(engine, readonly=True) as session:
        [audit] = session.scalars(select(AuditLogRow).where(AuditLogRow.action == "reopen_case")).all()
        assert (audit.actor_id, audit.target) == (agent.id, f"case:{case_id}")
        detail = json.loads(audit.detail)
    assert detail["status"] == "resolved" and detail["resolved_by"] == ["dsl-no-sync"]
    assert detail["reason"] == "Customer called back: DSL down again."
    assert kinds(engine, case_id)[-1] == "reopened"
    assert client.post(f"/cases/{case_id}/reopen", data={"reason": "again"}).status_code == 409


# -- the agent's lists and the current case ------------------------------------------------------------------


def test_my_cases_lists_open_and_recent_closed_cases_of_this_agent_only(app, client, engine, agent):
    other = create_user(engine, "bob", PASSWORD, "agent", display_name="Bob")
    theirs = caselog.open_case(engine, other.id, "email", "THEIR-REF", "their problem")
    first = open_case(client, customer_ref="REF-ONE")
    second = open_case(client, customer_ref="REF-TWO")
    client.post(f"/cases/{first}/escalate", data={"team": "billing", "reason": "invoice dispute"})
    page = text_of(client.get("/cases/"))
    open_part, closed_part = page.split('id="recent-title"')
    assert "REF-TWO" in open_part and "REF-ONE" not in open_part
    assert "REF-ONE" in closed_part and "Billing" in closed_part
    assert "THEIR-REF" not in page
    assert client.get(f"/cases/{theirs.id}").status_code == 404  # someone else's case does not exist for you
    assert client.get(f"/api/cases/{theirs.id}/handoff").status_code == 404
    assert client.post(f"/cases/{theirs.id}/notes", data={"text": "x"}).status_code == 404
    assert kinds(engine, theirs.id) == ["opened"]
    admin = create_user(engine, "ada", PASSWORD, "admin")
    admin_client = app.test_client()
    sign_in_as(admin_client, admin)
    assert "THEIR-REF" in text_of(admin_client.get(f"/cases/{theirs.id}"))
    assert second


def test_switching_and_pausing_the_current_case(client, engine):
    first = open_case(client, customer_ref="REF-ONE")
    second = open_case(client, customer_ref="REF-TWO")
    client.post("/api/search", json={"query": "for the second"})
    assert client.post(f"/cases/{first}/current").status_code == 302
    client.post("/api/search", json={"query": "back on the first"})
    client.post(f"/cases/{first}/leave")
    client.post("/api/search", json={"query": "on no case"})
    assert [e.text for e in caselog.timeline(engine, first) if e.kind == "search"] == ["back on the first"]
    assert [e.text for e in caselog.timeline(engine, second) if e.kind == "search"] == ["for the second"]
    assert caselog.get_case(engine, first).status == "open"


def test_a_case_closed_in_another_tab_stops_being_current(client, engine, agent):
    case_id = open_case(client)
    caselog.close_unresolved(engine, case_id, agent.id, "closed elsewhere")
    assert client.post("/api/search", json={"query": "dsl"}).status_code == 200
    assert client.get("/articles/dsl-no-sync?lang=en").status_code == 200
    assert kinds(engine, case_id) == ["opened", "unresolved"]
    with client.session_transaction() as session:
        assert "case_id" not in session


def test_the_no_js_checklist_form_saves_the_ticked_set(client, engine):
    case_id = open_case(client)
    client.get("/articles/dsl-no-sync?lang=en")
    response = client.post(
        f"/cases/{case_id}/steps", data={"article_id": "dsl-no-sync", "lang": "en", "step": ["1", "2"]}
    )
    assert response.status_code == 302 and response.headers["Location"].startswith("/articles/dsl-no-sync")
    client.post(
        f"/cases/{case_id}/steps",
        data={
            "article_id": "dsl-no-sync",
            "lang": "en",
            "step": ["2"],
            "result-2": "splitter removed",
            "result-1": "ignored: not ticked",
        },
    )
    assert caselog.step_results(engine, case_id) == {("dsl-no-sync", "en"): {2: "splitter removed"}}
    # A result typed next to a step that was not ticked ticks it; an emptied result field clears the result.
    client.post(
        f"/cases/{case_id}/steps",
        data={"article_id": "dsl-no-sync", "lang": "en", "step": ["2"], "result-1": "cable clicked in", "result-2": ""},
    )
    assert caselog.step_results(engine, case_id) == {("dsl-no-sync", "en"): {1: "cable clicked in", 2: None}}


def test_handle_time_is_shown(client, engine, agent):
    case_id = open_case(client)
    with session_scope(engine) as session:  # as if the call started 12 min 5 s ago
        session.get(CaseRow, case_id).opened_at = utcnow() - timedelta(minutes=12, seconds=5)
    assert re.search(r"Handle time</dt><dd class=\"handle-time\">12:0[5-7]", text_of(client.get(f"/cases/{case_id}")))
    client.post(f"/cases/{case_id}/unresolved", data={"reason": "callback"})
    handle = caselog.get_case(engine, case_id).handle_seconds
    assert 725 <= handle <= 727
    assert f'class="handle-time">12:{handle - 720:02d}<' in text_of(client.get(f"/cases/{case_id}"))


# -- bad input: a clear 4xx, nothing changed ------------------------------------------------------------------

OPEN_BAD = [
    ({"channel": "fax"}, "Choose how the customer contacted you"),
    ({"channel": ""}, "Choose how the customer contacted you"),
    ({"customer_ref": ""}, "Fill in the customer reference"),
    ({"customer_ref": "x" * 101}, "at most 100 characters"),
    ({"problem": "   "}, "Describe the customer"),
    ({"problem": "p" * 5001}, "at most 5000 characters"),
    ({"connection_type": "satellite"}, "Choose the connection type"),
]


@pytest.mark.parametrize("fields, message", OPEN_BAD)
def test_opening_with_bad_input_is_refused_and_keeps_what_was_typed(client, engine, fields, message):
    data = {
        "channel": "phone",
        "customer_ref": CUSTOMER,
        "problem": "keeps this text",
        "connection_type": "dsl",
        **fields,
    }
    response = client.post("/cases/open", data=data)
    assert response.status_code == 400 and message in text_of(response)
    assert counts(engine) == (0, 0)
    if "problem" not in fields:
        assert "keeps this text</textarea>" in text_of(response)


FORM_BAD = [
    ("/cases/{id}/notes", {"text": ""}, "Write the note"),
    ("/cases/{id}/notes", {"text": "n" * 5001}, "Write the note (at most 5000 characters)"),
    ("/cases/{id}/resolve", {}, "Choose at least one article"),
    ("/cases/{id}/resolve", {"article_ids": ""}, "Choose at least one article"),
    ("/cases/{id}/resolve", {"article_ids": "no-such-article"}, "That article does not exist"),
    ("/cases/{id}/resolve", {"article_ids": "../etc/passwd"}, "That article does not exist"),
    ("/cases/{id}/resolve", {"article_ids": "dsl-no-sync", "note": "n" * 5001}, "at most 5000 characters"),
    ("/cases/{id}/escalate", {"team": "nobody", "reason": "r"}, "Choose the team"),
    ("/cases/{id}/escalate", {"team": "tier2"}, "Give the reason"),
    ("/cases/{id}/escalate", {"team": "tier2", "reason": "r" * 2001}, "at most 2000 characters"),
    ("/cases/{id}/unresolved", {"reason": ""}, "Give the reason"),
    ("/cases/{id}/steps", {"article_id": "dsl-no-sync", "lang": "en", "step": "9"}, "That step is not in the article"),
    (
        "/cases/{id}/steps",
        {"article_id": "dsl-no-sync", "lang": "en", "step": "one"},
        "That step is not in the article",
    ),
    ("/cases/{id}/steps", {"article_id": "gone", "lang": "en", "step": "1"}, "That article does not exist"),
    ("/cases/{id}/steps", {"article_id": "dsl-no-sync", "lang": "de", "step": "1"}, "That article does not exist"),
    (
        "/cases/{id}/steps",
        {"article_id": "dsl-no-sync", "lang": "en", "step": "1", "result-1": "r" * 5001},
        "The step result must be text of at most 5000",
    ),
]


@pytest.mark.parametrize("path, data, message", FORM_BAD)
def test_case_forms_refuse_bad_input_and_change_nothing(client, engine, path, data, message):
    case_id = open_case(client)
    before = counts(engine)
    response = client.post(path.format(id=case_id), data=data)
    assert response.status_code == 400, text_of(response)[:300]
    assert message in text_of(response)
    assert counts(engine) == before and caselog.get_case(engine, case_id).status == "open"
    if data.get("reason") == "r" * 2001:
        assert "r" * 2001 + "</textarea>" in text_of(response)  # what was typed is not lost


API_BAD = [
    ("not json", "Send a JSON object"),
    ([1, 2], "Send a JSON object"),
    ({"article_id": "dsl-no-sync", "lang": "en", "step": "1", "done": True}, "That step is not in the article"),
    ({"article_id": "dsl-no-sync", "lang": "en", "step": 1, "done": "yes"}, "That step is not in the article"),
    ({"article_id": "dsl-no-sync", "lang": "en", "step": 0, "done": True}, "That step is not in the article"),
    ({"article_id": "dsl-no-sync", "lang": "en", "step": True, "done": True}, "That step is not in the article"),
    ({"article_id": "dsl-no-sync", "lang": "xx", "step": 1, "done": True}, "That article does not exist"),
    ({"article_id": ["dsl-no-sync"], "lang": "en", "step": 1, "done": True}, "That article does not exist"),
    ({"lang": "en", "step": 1, "done": True}, "That article does not exist"),
    (
        {"article_id": "dsl-no-sync", "lang": "en", "step": 1, "done": True, "result": "r" * 5001},
        "The step result must be text of at most 5000",
    ),
    (
        {"article_id": "dsl-no-sync", "lang": "en", "step": 1, "done": True, "result": 7},
        "The step result must be text of at most 5000",
    ),
]


@pytest.mark.parametrize("body, message", API_BAD)
def test_step_api_refuses_bad_input_and_changes_nothing(client, engine, body, message):
    case_id = open_case(client)
    before = counts(engine)
    if isinstance(body, str):
        response = client.post(f"/api/cases/{case_id}/steps", data=body, content_type="application/json")
    else:
        response = client.post(f"/api/cases/{case_id}/steps", json=body)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert counts(engine) == before


def test_unknown_case_ids_are_404_everywhere(client, engine):
    open_case(client)
    before = counts(engine)
    for method, path in (
        ("get", "/cases/999"),
        ("get", "/cases/999/handoff"),
        ("get", "/api/cases/999/handoff"),
        ("post", "/cases/999/notes"),
        ("post", "/cases/999/resolve"),
        ("post", "/cases/999/current"),
        ("post", "/api/cases/999/steps"),
        ("post", "/cases/999/reopen"),
    ):
        response = getattr(client, method)(path, data={"text": "x"} if method == "post" else None)
        assert response.status_code == 404, (method, path)
    assert client.get("/cases/abc").status_code == 404
    assert counts(engine) == before


def test_oversized_bodies_are_refused(client, engine):
    case_id = open_case(client)
    before = counts(engine)
    response = client.post(f"/cases/{case_id}/notes", data={"text": "n" * 300_000})
    assert response.status_code == 413
    assert counts(engine) == before


# -- customer data stays out of URLs and logs ------------------------------------------------------------------


def test_customer_data_never_reaches_a_url_or_a_log(client, caplog):
    caplog.set_level(logging.DEBUG)
    seen_urls = []
    case_id = open_case(client)
    for response in (
        client.get("/cases/"),
        client.get(f"/cases/{case_id}"),
        client.get("/"),
        client.get("/articles/dsl-no-sync?lang=en"),
        client.get(f"/cases/{case_id}/handoff"),
    ):
        seen_urls += re.findall(r'(?:href|action|data-api)="([^"]*)"', text_of(response))
    client.post(f"/cases/{case_id}/escalate", data={"team": "tier2", "reason": "secret reason text"})
    for url in seen_urls:
        assert CUSTOMER not in url and "thunderstorm" not in url
    assert CUSTOMER not in caplog.text and "thunderstorm" not in caplog.text and "secret reason" not in caplog.text


# -- the webhook -------------------------------------------------------------------------------------------------


class Receiver:
    """A real HTTP server on loopback: answers with the queued status codes, keeps what it got."""

    def __init__(self, statuses):
        self.statuses, self.bodies = list(statuses), []
        self.got = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append((self.headers["Content-Type"], json.loads(body)))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()
                receiver.got.set()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 10) -> None:
        for _ in range(int(timeout * 20)):
            if len(self.bodies) >= count:
                return
            self.got.wait(0.05)
        raise AssertionError(f"the receiver got {len(self.bodies)} of {count} POSTs")


@pytest.fixture
def receiver():
    receivers = []

    def make(*statuses):
        receivers.append(Receiver(statuses))
        return receivers[-1]

    yield make
    for r in receivers:
        r.server.shutdown()
        r.server.server_close()


def test_escalation_posts_the_handoff_to_the_webhook_and_retries_failures(make_app, kb_root, receiver):
    hook = receiver(503)  # the receiving system is down at first
    app = make_app(KB_ARTICLES=str(kb_root), KB_WEBHOOK_URL=hook.url)
    engine = app.extensions["kb"].engine
    client = app.test_client()
    sign_in_as(client, create_user(engine, "anna", PASSWORD, "agent", display_name="Anna de Vries"))
    case_id = open_case(client)
    client.post(f"/cases/{case_id}/notes", data={"text": "tried everything"})
    response = client.post(f"/cases/{case_id}/escalate", data={"team": "tier2", "reason": "no sync after all steps"})
    assert response.status_code == 302  # the agent never waits for the receiver

    hook.wait(1)
    for _ in range(100):  # the failure is recorded right after the POST returns
        [delivery] = list_deliveries(engine, case_id=case_id)
        if delivery.attempts:
            break
        time.sleep(0.05)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "HTTPError: HTTP Error 503: Service Unavailable"
    assert caselog.get_case(engine, case_id).status == "escalated"  # the case is kept whatever the receiver does

    # The retry is due after the back-off; run the delivery round as the sender thread would then.
    report = deliver_pending(engine, now=delivery.next_attempt_at + timedelta(seconds=1))
    assert report.delivered == 1
    assert [d.status for d in list_deliveries(engine, case_id=case_id)] == ["delivered"]
    content_type, payload = hook.bodies[-1]
    assert content_type == "application/json; charset=utf-8"
    assert payload == client.get(f"/api/cases/{case_id}/handoff").get_json()
    assert payload["customer_ref"] == CUSTOMER and payload["team"] == "tier2"
    assert [n["text"] for n in payload["notes"]] == ["tried everything"]


def test_without_a_webhook_nothing_is_queued(client, engine):
    case_id = open_case(client)
    client.post(f"/cases/{case_id}/escalate", data={"team": "tier2", "reason": "r"})
    assert list_deliveries(engine) == []


def test_a_content_gap_flagged_during_a_case_is_linked_to_it(client, engine, agent):
    from kb.caselog.gaps import GapTable

    client.post("/api/gaps", json={"query": "tv box shows no signal", "lang": "en"})
    case_id = open_case(client)
    assert client.post("/api/gaps", json={"query": "decoder blinks orange", "lang": "en"}).status_code == 201
    assert client.post("/gaps", data={"query": "decoder remote does nothing", "lang": "en"}).status_code == 200
    assert [(g.query, g.case_id, g.user_id) for g in GapTable(engine).recent()] == [
        ("decoder remote does nothing", case_id, agent.id),
        ("decoder blinks orange", case_id, agent.id),
        ("tv box shows no signal", None, agent.id),
    ]


def test_the_case_bar_carries_the_opening_time_for_its_running_clock(client, engine):
    case_id = open_case(client)
    page = text_of(client.get("/"))
    opened = caselog.get_case(engine, case_id).opened_at.isoformat()
    assert re.search(
        rf'<span class="clock" data-opened="{re.escape(opened)}" data-now="\d{{13}}"[^>]*>0:0\d</span>', page
    )
    assert '<script src="/static/casebar.js" defer></script>' in page
    client.post(f"/cases/{case_id}/unresolved", data={"reason": "callback"})
    assert "casebar.js" not in text_of(client.get("/"))


def test_a_database_hiccup_does_not_break_search_or_forget_the_case(client, engine, monkeypatch, caplog):
    from sqlalchemy.exc import OperationalError

    case_id = open_case(client)

    def locked(*args, **kwargs):
        raise OperationalError("INSERT ...", {}, Exception("database is locked"))

    monkeypatch.setattr(caselog, "record_search", locked)
    response = client.post("/api/search", json={"query": "dsl light blinking"})
    assert response.status_code == 200 and response.get_json()["hits"]
    assert f"could not log locked on case {case_id}: OperationalError" in caplog.text
    assert "dsl light" not in caplog.text
    monkeypatch.setattr(caselog, "get_case", locked)
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        assert session["case_id"] == case_id  # still the current case once the database answers again


@pytest.mark.parametrize(
    "change, status, target",
    [
        ("resolve", "resolved", "/cases/{id}"),
        ("escalate", "escalated", "/cases/{id}/handoff"),
        ("unresolved", "unresolved", "/cases/{id}"),
    ],
)
def test_a_double_click_on_a_close_button_shows_the_result(client, engine, change, status, target):
    case_id = open_case(client)
    path, data = CHANGES[change]
    assert client.post(path.format(id=case_id), data=data).status_code == 302
    before = counts(engine)
    response = client.post(path.format(id=case_id), data=data)
    assert response.status_code == 303 and response.headers["Location"] == target.format(id=case_id)
    assert "was already closed like this" in text_of(client.get(response.headers["Location"]))
    assert counts(engine) == before and caselog.get_case(engine, case_id).status == status


@pytest.mark.parametrize("case_id", ["0", "2147483648", "99999999999999999999"])
def test_case_ids_out_of_range_are_404_not_500(client, case_id):
    for method, path in (
        ("get", "/cases/{}"),
        ("get", "/api/cases/{}/handoff"),
        ("post", "/cases/{}/notes"),
        ("post", "/api/cases/{}/steps"),
        ("post", "/cases/{}/resolve"),
    ):
        assert getattr(client, method)(path.format(case_id)).status_code == 404, path


def test_an_escalation_and_its_notification_commit_together(make_app, kb_root, monkeypatch):
    """A true outbox: when the notification row cannot be written, the escalation is not committed
    either; the agent is told, and the reason they typed is still in the form."""
    from sqlalchemy.exc import OperationalError

    import kb.integrations.webhook
    from kb.integrations.webhook import list_deliveries

    app = make_app(KB_ARTICLES=str(kb_root), KB_WEBHOOK_URL="http://127.0.0.1:9/hook")
    engine = app.extensions["kb"].engine
    client = app.test_client()
    sign_in_as(client, create_user(engine, "anna", PASSWORD, "agent"))
    case_id = open_case(client)

    def database_away(*args, **kwargs):
        raise OperationalError("INSERT ...", {}, Exception("database or disk is full"))

    monkeypatch.setattr(kb.integrations.webhook, "add_delivery", database_away)
    response = client.post(f"/cases/{case_id}/escalate", data={"team": "tier2", "reason": "exchange fault at Zwolle"})
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "Your text is kept" in page and "exchange fault at Zwolle" in page
    assert caselog.get_case(engine, case_id).status == "open"
    assert [e.kind for e in caselog.timeline(engine, case_id)].count("escalated") == 0

    monkeypatch.undo()
    response = client.post(f"/cases/{case_id}/escalate", data={"team": "tier2", "reason": "exchange fault at Zwolle"})
    assert response.status_code == 302
    (delivery,) = list_deliveries(engine, case_id=case_id)
    assert delivery.status == "pending" and delivery.url == "http://127.0.0.1:9/hook"
    assert delivery.payload["status"] == "escalated" and delivery.payload["reason"] == "exchange fault at Zwolle"
    assert delivery.payload["escalated_at"] is not None


def test_an_escalation_stands_when_the_webhook_address_is_refused(make_app, kb_root, caplog):
    """A misconfigured receiver (plain http to another machine) must not stop agents escalating."""
    from kb.integrations.webhook import list_deliveries

    app = make_app(KB_ARTICLES=str(kb_root), KB_WEBHOOK_URL="http://tickets.example.com/hook")
    engine = app.extensions["kb"].engine
    client = app.test_client()
    sign_in_as(client, create_user(engine, "anna", PASSWORD, "agent"))
    case_id = open_case(client)
    response = client.post(f"/cases/{case_id}/escalate", data={"team": "tier2", "reason": "r"})
    assert response.status_code == 302 and response.headers["Location"] == f"/cases/{case_id}/handoff"
    assert "could not be notified automatically" in text_of(client.get(response.headers["Location"]))
    assert caselog.get_case(engine, case_id).status == "escalated"
    assert list_deliveries(engine, case_id=case_id) == []
    assert "hand-offs are not sent to the webhook" in caplog.text and "plain http" in caplog.text


def test_admins_see_failed_and_retried_deliveries(make_app, kb_root):
    from kb.identity.users import create_user as add_user
    from kb.integrations.webhook import deliver_pending as deliver
    from kb.integrations.webhook import queue_handoff

    app = make_app(KB_ARTICLES=str(kb_root))
    engine = app.extensions["kb"].engine
    agent = add_user(engine, "anna", PASSWORD, "agent")
    admin = add_user(engine, "ada", PASSWORD, "admin")
    case = caselog.open_case(engine, agent.id, "phone", "K-1", "no sync", "dsl")
    caselog.escalate_case(engine, case.id, agent.id, "tier2", "exchange fault")
    queue_handoff(engine, case.id, "https://tickets.example.com/hook", {"case_id": case.id})

    def refuse(url, body):
        raise ConnectionRefusedError("connection refused")

    deliver(engine, post=refuse, max_attempts=1)
    client = app.test_client()
    sign_in_as(client, admin)
    page = client.get("/admin/deliveries").get_data(as_text=True)
    assert "Failed (1)" in page and "ConnectionRefusedError: connection refused" in page
    assert f'href="/cases/{case.id}"' in page and "https://tickets.example.com/hook" in page
    sign_in_as(client, agent)
    assert client.get("/admin/deliveries").status_code == 403


def test_the_note_and_open_case_forms_carry_a_fresh_request_id(client):
    ids = set()
    for _ in range(2):
        page = client.get("/cases/").get_data(as_text=True)
        ids.add(
            re.search(r'<form id="open-case"[^>]*data-retry.*?name="request_id" value="([0-9a-f]{32})"', page, re.S)[1]
        )
    assert len(ids) == 2
    case_id = open_case(client)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert re.search(r'<form id="note-form"[^>]*data-retry.*?name="request_id" value="[0-9a-f]{32}"', page, re.S)


def test_a_retried_note_or_open_case_request_is_written_once(client, engine):
    data = {"channel": "phone", "customer_ref": CUSTOMER, "problem": PROBLEM, "request_id": "open-0123456789ab"}
    first, again = client.post("/cases/open", data=data), client.post("/cases/open", data=data)
    assert first.status_code == again.status_code == 302
    with client.session_transaction() as session:
        case_id = session["case_id"]
    assert [c.id for c in caselog.list_cases(engine)] == [case_id]
    note = {"text": "modem vervangen", "request_id": "note-0123456789ab"}
    for _ in range(3):
        assert client.post(f"/cases/{case_id}/notes", data=note).status_code == 302
    assert [e.text for e in caselog.timeline(engine, case_id) if e.kind == "note"] == ["modem vervangen"]
    refused = client.post(f"/cases/{case_id}/notes", data={"text": "x", "request_id": "bad id"})
    assert refused.status_code == 400 and "reload the page and send it again" in refused.get_data(as_text=True)
