"""Hostile bodies, SQL-style text and path traversal on every JSON route and form: a clear 4xx (or
the text stored as text), never a 500 or a traceback, and nothing outside the app is ever served."""

from __future__ import annotations

import json

import pytest

from kb.caselog import cases as caselog
from tests.webapp.conftest import sign_in_as

NESTED = "[" * 5000 + "]" * 5000
BODIES = {
    "deeply nested array": (NESTED, "application/json"),
    "deeply nested object": ('{"a":' * 3000 + "1" + "}" * 3000, "application/json"),
    "not JSON": ("query=internet", "application/json"),
    "truncated": ('{"query": "inter', "application/json"),
    "an array": ('["internet"]', "application/json"),
    "a string": ('"internet"', "application/json"),
    "null": ("null", "application/json"),
    "form body": ("query=internet", "application/x-www-form-urlencoded"),
    "invalid UTF-8": (b'{"query": "\xff\xfe"}', "application/json"),
    "lone surrogate": ('{"query": "\\ud800 modem", "article_id": "\\ud800", "result": "\\udfff"}', "application/json"),
    "NaN": ('{"query": NaN, "step": Infinity}', "application/json"),
    "wrong types": (
        '{"query": {"$ne": 1}, "lang": ["en"], "step": "1; DROP TABLE cases", "done": "yes"}',
        "application/json",
    ),
    "huge": ('{"query": "' + "a" * 300_000 + '"}', "application/json"),
}
SQL_TEXT = [
    "' OR '1'='1",
    "'; DROP TABLE cases; --",
    '" OR ""="',
    "1) UNION SELECT password_hash FROM users --",
    "%' AND 1=1 --",
    "\\'; SELECT pg_sleep(5); --",
]


@pytest.fixture
def agent_client(app, users):
    client = app.test_client()
    sign_in_as(client, users["agent"])
    return client


@pytest.fixture
def case(app, users, agent_client):
    case = caselog.open_case(app.extensions["kb"].engine, users["agent"].id, "phone", "K-1", "no internet")
    with agent_client.session_transaction() as session:
        session["case_id"] = case.id
    return case


@pytest.mark.parametrize("body", BODIES, ids=list(BODIES))
@pytest.mark.parametrize("route", ["/api/search", "/api/gaps", "/api/cases/{id}/steps"])
def test_hostile_bodies_get_a_clear_4xx_never_a_500(agent_client, case, route, body):
    data, content_type = BODIES[body]
    response = agent_client.post(route.format(id=case.id), data=data, content_type=content_type)
    text = response.get_data(as_text=True)
    assert response.status_code < 500, (response.status_code, text[:300])
    assert "Traceback" not in text and 'File "' not in text
    if response.status_code >= 400 and response.status_code != 413:
        assert response.is_json and response.get_json()["error"], text[:300]
    if body not in ("lone surrogate",):  # cleaned and accepted; every other body is refused
        assert response.status_code >= 400 or route == "/api/search" and body == "huge", (body, response.status_code)


@pytest.mark.parametrize("text", SQL_TEXT)
def test_sql_in_text_is_stored_and_searched_as_text(app, agent_client, case, text):
    engine = app.extensions["kb"].engine
    assert agent_client.post("/api/search", json={"query": text}).status_code == 200
    assert agent_client.post(f"/cases/{case.id}/notes", data={"text": text}).status_code == 302
    assert [e.text for e in caselog.timeline(engine, case.id) if e.kind == "note"] == [text]
    assert text in [e.text for e in caselog.timeline(engine, case.id) if e.kind == "search"]
    opened = agent_client.post(
        "/cases/open", data={"channel": "phone", "customer_ref": text[:100], "problem": text, "connection_type": "dsl"}
    )
    assert opened.status_code == 302
    assert any(c.problem == text for c in caselog.list_cases(engine))


@pytest.mark.parametrize(
    "path",
    [
        "/articles/../../pyproject.toml",
        "/articles/..%2f..%2fpyproject.toml",
        "/articles/%2e%2e%2f%2e%2e%2finstance%2fsecret_key",
        "/articles/....//....//etc/passwd",
        "/static/../instance/secret_key",
        "/static/..%2f..%2fpyproject.toml",
        "/static/%2e%2e/%2e%2e/README.md",
        "/articles/%00",
        "/articles/dsl-no-sync%00.md",
        "/articles/dsl-no-sync?lang=../../etc/passwd",
    ],
)
def test_path_traversal_serves_nothing_outside_the_app(agent_client, path):
    response = agent_client.get(path)
    body = response.get_data(as_text=True)
    assert response.status_code in (200, 308, 400, 404), (path, response.status_code)
    for secret in ("[build-system]", "root:x:0:0", "test-secret", "# Firstline KB"):
        assert secret not in body, (path, secret)
    assert "Traceback" not in body


def test_a_nested_body_is_not_parsed_into_a_recursion_error(agent_client, case, caplog):
    response = agent_client.post("/api/search", data=NESTED, content_type="application/json")
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]
    assert "RecursionError" not in caplog.text
    json.loads(NESTED[:10] + NESTED[-10:])  # the corpus itself is valid JSON, only deep
