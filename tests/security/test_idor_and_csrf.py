"""IDOR on every case route, and CSRF variants on every state-changing case route: nothing is written."""

from __future__ import annotations

import pytest

from kb.caselog import cases as caselog
from kb.identity.users import create_user
from tests.webapp.conftest import PASSWORD, csrf_token, sign_in_as

FORM = {
    "text": "a note",
    "reason": "why",
    "team": "tier2",
    "article_ids": "dsl-no-sync",
    "article_id": "dsl-no-sync",
    "lang": "en",
    "step": "1",
}


def case_routes(app):
    """(method, path template) of every route that takes a case id."""
    found = []
    for rule in app.url_map.iter_rules():
        if "case_id" in rule.arguments:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, rule.rule.replace("<int:case_id>", "{id}")))
    return found


@pytest.fixture
def two_agents(make_app):
    def make(**config):
        app = make_app(**config)
        engine = app.extensions["kb"].engine
        anna = create_user(engine, "anna", PASSWORD, "agent")
        bert = create_user(engine, "bert", PASSWORD, "agent")
        case = caselog.open_case(engine, anna.id, "phone", "KLANT-SECRET", "no sync", "dsl")
        return app, engine, anna, bert, case

    return make


def test_the_walk_covers_the_case_routes(two_agents):
    app, *_ = two_agents()
    paths = {path for _, path in case_routes(app)}
    assert {
        "/cases/{id}",
        "/cases/{id}/notes",
        "/cases/{id}/handoff",
        "/api/cases/{id}/steps",
        "/api/cases/{id}/handoff",
        "/supervisor/cases/{id}",
        "/supervisor/cases/{id}/reassign",
    } <= paths and len(paths) >= 10


def test_another_agent_cannot_see_or_change_a_case_on_any_route(two_agents):
    app, engine, anna, bert, case = two_agents()
    before = [(e.kind, e.text) for e in caselog.timeline(engine, case.id)]
    client = app.test_client()
    sign_in_as(client, bert)
    for method, path in case_routes(app):
        url = path.format(id=case.id)
        kwargs = (
            {"json": {"article_id": "dsl-no-sync", "lang": "en", "step": 1, "done": True}}
            if url.startswith("/api/") and method == "POST"
            else {"data": FORM}
        )
        response = client.open(url, method=method, **kwargs)
        endpoint = app.url_map.bind("localhost").match(url, method=method)[0]
        agents_may = "agent" in getattr(app.view_functions[endpoint], "allowed_roles", ())
        # Another agent's case is "not found"; a route agents may not use at all (analytics) is refused.
        assert response.status_code == (404 if agents_may else 403), (method, url, response.status_code)
        assert b"KLANT-SECRET" not in response.data
    assert [(e.kind, e.text) for e in caselog.timeline(engine, case.id)] == before
    assert caselog.get_case(engine, case.id).status == "open"


@pytest.mark.parametrize("variant", ["missing", "bogus", "another session's"])
def test_every_state_changing_case_route_needs_this_sessions_csrf_token(two_agents, variant):
    app, engine, anna, bert, case = two_agents(WTF_CSRF_ENABLED=True)
    before = [(e.kind, e.text) for e in caselog.timeline(engine, case.id)]
    other = app.test_client()
    sign_in_as(other, bert)
    stolen = csrf_token(other, "/")
    client = app.test_client()
    sign_in_as(client, anna)
    supervisor = app.test_client()  # routes agents may not use (the supervisor's) are tried as an admin
    sign_in_as(supervisor, create_user(engine, "ada", PASSWORD, "admin"))
    token = {"missing": None, "bogus": "IjEyMyI.bogus.token", "another session's": stolen}[variant]
    for method, path in case_routes(app):
        if method != "POST":
            continue
        url = path.format(id=case.id)
        endpoint = app.url_map.bind("localhost").match(url, method=method)[0]
        sender = client if "agent" in getattr(app.view_functions[endpoint], "allowed_roles", ()) else supervisor
        if url.startswith("/api/"):
            headers = {"X-CSRFToken": token} if token else {}
            response = sender.post(
                url, json={"article_id": "dsl-no-sync", "lang": "en", "step": 1, "done": True}, headers=headers
            )
        else:
            data = {**FORM, "agent": str(bert.id), **({"csrf_token": token} if token else {})}  # agent: a reassignment
            response = sender.post(url, data=data)
        assert response.status_code == 400, (variant, url, response.status_code)
    assert [(e.kind, e.text) for e in caselog.timeline(engine, case.id)] == before
