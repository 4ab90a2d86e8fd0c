"""POST /api/search and POST /api/gaps: JSON in and out, input checks, roles, CSRF, Server-Timing."""

from __future__ import annotations

import re

import pytest

from kb.caselog.gaps import GapTable
from kb.errors import IndexMissing
from kb.identity.users import create_user
from tests.webapp.conftest import csrf_token, sign_in_as


@pytest.fixture
def agent(client, users):
    sign_in_as(client, users["agent"])
    return client


def api(client, body, status=200, path="/api/search", **kwargs):
    response = client.post(path, json=body, **kwargs) if body is not None else client.post(path, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    return response


def test_search_returns_hits_with_snippets_urls_and_confidence(agent, searcher):
    response = api(agent, {"query": "dsl light blinking", "lang": "en", "k": 3})
    data = response.get_json()
    expected = searcher.search("dsl light blinking", k=3, lang="en")
    assert [h["id"] for h in data["hits"]] == [h.article_id for h in expected.hits]
    assert data["weak"] == expected.weak and data["confidence"] == expected.confidence
    top = data["hits"][0]
    assert top["title"] == "DSL light blinking: no DSL sync" and top["lang"] == "en"
    assert top["category"] == "connectivity" and top["category_label"] == "Connectivity"
    assert top["url"].startswith("/articles/dsl-no-sync?lang=en")
    assert set(top["match"]) == {"kind", "step", "heading", "label"}
    assert top["snippet"]["html"] == "the <mark>dsl</mark> <mark>light</mark> keeps <mark>blinking</mark>"
    assert top["snippet"]["parts"] == [
        ["the ", False],
        ["dsl", True],
        [" ", False],
        ["light", True],
        [" keeps ", False],
        ["blinking", True],
    ]
    assert 0 < top["score"] <= 1 and data["timing_ms"]["search"] > 0
    assert "query" not in data  # the customer's words are not echoed back


def test_a_step_match_links_to_the_step(agent):
    data = api(agent, {"query": "remove any splitter or extension cable", "lang": "en", "k": 1}).get_json()
    hit = data["hits"][0]
    assert hit["match"]["kind"] == "step" and hit["match"]["label"] == f"Step {hit['match']['step']}"
    step = hit["match"]["step"]  # the words name this step: the link lands on it and highlights it
    assert hit["url"] == f"/articles/dsl-no-sync?lang=en&match={step}#step-{step}"


def test_server_timing_header_reports_the_search_time(agent):
    response = api(agent, {"query": "los light is red"})
    timing = response.headers["Server-Timing"]
    search_ms = float(re.search(r"\bsearch;dur=([\d.]+)", timing).group(1))
    app_ms = float(re.search(r"\bapp;dur=([\d.]+)", timing).group(1))
    assert 0 < search_ms <= app_ms
    assert response.headers["Cache-Control"] == "no-store"


def test_the_agents_interface_language_is_the_default(agent):
    data = api(agent, {"query": "dsl lampje knippert"}, headers={"Accept-Language": "nl"}).get_json()
    assert data["lang"] == "nl" and data["hits"][0]["title"] == "DSL-lampje knippert: geen DSL-synchronisatie"


def test_filters(agent):
    account = api(agent, {"query": "password light cable", "category": "account"}).get_json()
    assert account["hits"] and {h["category"] for h in account["hits"]} == {"account"}
    fibre = api(agent, {"query": "light blinking cable", "connection": "fibre"}).get_json()
    assert "dsl-no-sync" not in [h["id"] for h in fibre["hits"]]
    dutch = api(agent, {"query": "dsl light", "lang": "nl", "only_lang": True}).get_json()
    assert dutch["hits"] and {h["lang"] for h in dutch["hits"]} == {"nl"}
    assert len(api(agent, {"query": "light", "k": 1}).get_json()["hits"]) == 1


@pytest.mark.parametrize(
    "body, message",
    [
        (None, 'Send a JSON object, for example {"query": "internet light is red"}.'),
        (["dsl"], 'Send a JSON object, for example {"query": "internet light is red"}.'),
        ({}, "The query is missing; type a few words about the customer's problem."),
        ({"query": 42}, "The query must be text"),
        ({"query": " \t "}, "The query is empty; type a few words about the customer's problem"),
        ({"query": "x" * 5001}, "The query is 5001 characters; the limit is 5000. Describe the problem in a sentence"),
        ({"query": "dsl", "k": 0}, "'k' must be a whole number from 1 to 20."),
        ({"query": "dsl", "k": 21}, "'k' must be a whole number from 1 to 20."),
        ({"query": "dsl", "k": "5"}, "'k' must be a whole number from 1 to 20."),
        ({"query": "dsl", "k": True}, "'k' must be a whole number from 1 to 20."),
        ({"query": "dsl", "lang": "de"}, "The language 'de' is unknown; use one of nl, en."),
        ({"query": "dsl", "category": ["wifi"]}, "The category '['wifi']' is unknown; use one of connectivity"),
        (
            {"query": "dsl", "connection": "satellite"},
            "The connection type 'satellite' is unknown; use one of fibre, dsl, cable, any.",
        ),
        ({"query": "dsl", "only_lang": "yes"}, "'only_lang' must be true or false."),
    ],
)
def test_bad_input_gets_400_with_a_message(agent, body, message):
    data = api(agent, body, status=400).get_json()
    assert message in data["error"] and set(data) == {"error"}


def test_a_body_that_is_not_json_gets_400(agent):
    response = agent.post("/api/search", data="query=dsl", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "Send a JSON object" in response.get_json()["error"]


def test_the_query_cannot_be_sent_in_the_url(agent):
    assert agent.get("/api/search?query=dsl").status_code == 405


def test_signed_out_callers_get_401_json(client):
    response = client.post("/api/search", json={"query": "dsl"})
    assert response.status_code == 401 and response.get_json() == {"error": "Sign in to continue."}


@pytest.mark.parametrize("role", ["agent", "editor", "analyst", "admin"])
def test_every_role_may_search(client, users, role):
    sign_in_as(client, users[role])
    assert api(client, {"query": "dsl light"}).get_json()["hits"]


def test_csrf_token_is_required_in_the_header(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    sign_in_as(client, create_user(app.extensions["kb"].engine, "anna", "correct horse battery", "agent"))
    refused = api(client, {"query": "dsl light"}, status=400)
    assert "Reload the page" in refused.get_json()["error"]
    token = csrf_token(client, "/")
    assert api(client, {"query": "dsl light"}, headers={"X-CSRFToken": token}).get_json()["hits"]


def test_a_missing_index_is_a_503_message_not_a_traceback(app, agent):
    class NoIndex:
        def search(self, *args, **kwargs):
            raise IndexMissing("no index has been published yet; run `kb index`")

    app.extensions["kb"].use_searcher(NoIndex())
    data = api(agent, {"query": "dsl"}, status=503).get_json()
    assert data == {"error": "Search is not available right now: no index has been published yet; run `kb index`"}


# -- content gaps -------------------------------------------------------------------------------


def test_flagging_a_gap_stores_query_language_user_and_time_in_the_database(app, agent, users):
    response = api(agent, {"query": "  modem  makes a   whistling noise ", "lang": "en"}, status=201, path="/api/gaps")
    assert response.get_json()["flagged"] is True
    [gap] = GapTable(app.extensions["kb"].engine).recent()
    assert (gap.query, gap.lang, gap.user_id) == ("modem makes a whistling noise", "en", users["agent"].id)
    assert gap.at.tzinfo is not None


@pytest.mark.parametrize(
    "body, message",
    [
        ({"query": ""}, "The query is empty"),
        ({"query": "x", "lang": "fr"}, "The language must be one of nl, en."),
        ("text", "Send a JSON object"),
    ],
)
def test_bad_gap_flags_get_400(app, agent, body, message):
    assert message in api(agent, body, status=400, path="/api/gaps").get_json()["error"]
    assert GapTable(app.extensions["kb"].engine).recent() == []


def test_signed_out_callers_cannot_flag_gaps(client):
    assert client.post("/api/gaps", json={"query": "dsl"}).status_code == 401


@pytest.mark.parametrize("path", ["/api/search", "/api/gaps", "/api/cases/{case}/steps"])
def test_deeply_nested_json_is_a_400_not_a_500(app, client, users, path):
    from kb.caselog.cases import open_case

    case = open_case(app.extensions["kb"].engine, users["agent"].id, "phone", "K-1", "no internet", "dsl")
    sign_in_as(client, users["agent"])
    body = "[" * 5000 + "]" * 5000
    response = client.post(
        path.format(case=case.id),
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token(client, "/")},
    )
    assert response.status_code == 400 and "error" in response.get_json()


def test_a_pasted_reply_is_searched_with_its_line_breaks(app, agent, searcher, monkeypatch):
    # The search tells quoted lines ("> ...", "On ... wrote:") from the customer's own by the line
    # breaks; the box is a textarea and the JSON keeps them, so the searcher must get them too.
    reply = (
        "Hello,\n\nthe dsl light keeps blinking since this morning, nothing works.\n\n"
        "On 3 Nov 2026 support wrote:\n> Did you forget your email password?\n> Reset your email password here.\n"
        "> forgot my email password, email password reset, email password\n"
    )
    seen = []
    real = app.extensions["kb"].searcher
    search = real.search
    monkeypatch.setattr(real, "search", lambda query, **kw: seen.append(query) or search(query, **kw))
    data = api(agent, {"query": reply, "lang": "en", "k": 3}).get_json()
    assert seen == [reply]
    assert [h["id"] for h in data["hits"]] == [h.article_id for h in search(reply, k=3, lang="en").hits]
    assert data["hits"][0]["id"] == "dsl-no-sync"  # the quoted history about e-mail passwords does not steer it
