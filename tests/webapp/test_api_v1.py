"""The integration API (/api/v1/): tokens, the screen pop, cases, idempotent retries, bad input.

The app runs with the fake embedder on a fresh SQLite file (tests/webapp/conftest.py); the same
API against the real model over real HTTP with schemathesis is tests/integration/test_api_schemathesis.py.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from kb.identity import tokens
from kb.identity.users import MAX_ADDRESS_FAILURES, disable_user
from kb.store import engine as db
from kb.store.tables import ApiTokenRow, AuditLogRow
from tests.webapp.conftest import sign_in_as


@pytest.fixture
def engine(app):
    return app.extensions["kb"].engine


@pytest.fixture
def bearer(engine, users):
    """bearer(role) -> the Authorization header of a fresh token of that role's user."""

    def make(role: str = "agent", **kwargs) -> dict:
        _, secret = tokens.create_token(engine, users[role].username, f"{role} test", **kwargs)
        return {"Authorization": f"Bearer {secret}"}

    return make


def error_of(response) -> dict:
    assert response.is_json, response.get_data(as_text=True)[:200]
    return response.get_json()["error"]


# -- tokens ------------------------------------------------------------------------------------------


def test_a_token_is_stored_hashed_and_shown_once(engine, users):
    token, secret = tokens.create_token(engine, "anna", "softphone")
    assert secret.startswith(f"fkb_{token.prefix}_") and len(secret) == 4 + 8 + 1 + 43
    with db.session_scope(engine, readonly=True) as session:
        row = session.get(ApiTokenRow, token.id)
        stored = [str(getattr(row, column.name)) for column in ApiTokenRow.__table__.columns]
    secret_part = secret[len(f"fkb_{token.prefix}_") :]  # token_urlsafe may itself contain "_"
    assert all(secret not in value and secret_part not in value for value in stored)
    assert token.prefix in stored
    assert secret not in repr(tokens.list_tokens(engine, "anna"))


def test_a_token_acts_as_its_user_with_the_users_role(client, bearer):
    me = client.get("/api/v1/me", headers=bearer("editor"))
    assert me.status_code == 200
    assert me.get_json()["username"] == "eddie" and me.get_json()["role"] == "editor"
    assert me.get_json()["auth"] == "token" and me.get_json()["token"]["prefix"]
    # default deny: an editor's token does not open cases; an agent's does not read analytics
    assert client.post("/api/v1/cases", json={}, headers=bearer("editor")).status_code == 403
    assert client.get("/api/v1/analytics/summary", headers=bearer("agent")).status_code == 403
    assert error_of(client.get("/api/v1/analytics/summary", headers=bearer("agent")))["code"] == "forbidden"


def test_last_use_is_recorded(client, engine, users):
    token, secret = tokens.create_token(engine, "anna")
    assert token.last_used_at is None
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert tokens.list_tokens(engine, "anna")[0].last_used_at is not None


@pytest.mark.parametrize(
    "header",
    ["Bearer fkb_aaaaaaaa_" + "b" * 43, "Bearer nonsense", "Basic YW5uYTpwdw==", "Bearer ", "fkb_aaaaaaaa_x"],
)
def test_wrong_tokens_get_401_with_a_bearer_challenge(client, users, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_of(response)["message"]


def test_no_token_gets_401_not_a_login_page(client):
    response = client.get("/api/v1/cases")
    assert response.status_code == 401 and error_of(response)["code"] == "unauthorized"


def test_revoking_takes_effect_on_the_next_request(client, engine, users):
    token, secret = tokens.create_token(engine, "anna")
    header = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=header).status_code == 200
    tokens.revoke_token(engine, token.id)
    response = client.get("/api/v1/me", headers=header)
    assert response.status_code == 401 and "revoked" in error_of(response)["message"]
    with db.session_scope(engine, readonly=True) as session:
        audit = session.scalars(select(AuditLogRow.action)).all()
    assert "create_token" in audit and "revoke_token" in audit


def test_an_expired_token_is_refused(client, engine, users):
    token, secret = tokens.create_token(engine, "anna", expires_days=1)
    with db.session_scope(engine) as session:
        session.get(ApiTokenRow, token.id).expires_at = db.utcnow() - timedelta(seconds=1)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401 and "expired" in error_of(response)["message"]


def test_disabling_the_user_stops_their_tokens(client, engine, users, bearer):
    header = bearer("agent")
    assert client.get("/api/v1/me", headers=header).status_code == 200
    disable_user(engine, "anna")
    assert client.get("/api/v1/me", headers=header).status_code == 401


def test_failed_token_attempts_are_throttled_per_address(client, users, bearer):
    good = bearer("agent")
    wrong = {"Authorization": "Bearer fkb_zzzzzzzz_" + "c" * 43}
    for _ in range(MAX_ADDRESS_FAILURES):
        assert client.get("/api/v1/me", headers=wrong).status_code == 401
    throttled = client.get("/api/v1/me", headers=good)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert error_of(throttled)["code"] == "too_many_attempts"


def test_a_token_is_only_for_the_api_not_the_pages(client, bearer):
    page = client.get("/cases/", headers=bearer("agent"))
    assert page.status_code == 302 and "/auth/login" in page.headers["Location"]


def test_token_requests_need_no_csrf_but_session_requests_do(make_app, users):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    from kb.identity.users import create_user

    create_user(app.extensions["kb"].engine, "agent2", "correct horse battery", "agent")
    _, secret = tokens.create_token(app.extensions["kb"].engine, "agent2")
    body = {"channel": "phone", "customer_ref": "C-1"}
    assert client.post("/api/v1/cases", json=body, headers={"Authorization": f"Bearer {secret}"}).status_code == 201
    from kb.identity.users import get_user

    sign_in_as(client, get_user(app.extensions["kb"].engine, 1) or users["agent"])
    refused = client.post("/api/v1/cases", json=body)
    assert refused.status_code == 400 and error_of(refused)["code"] == "csrf"


def test_a_cross_site_origin_does_not_stop_a_token_request(client, bearer):
    response = client.post(
        "/api/v1/search",
        json={"query": "dsl light blinking"},
        headers={**bearer("agent"), "Origin": "https://crm.example"},
    )
    assert response.status_code == 200


# -- the screen pop ------------------------------------------------------------------------------------


def test_screen_pop_the_telephony_opens_the_case_and_the_agents_page_shows_it(client, users, bearer, engine):
    telephony = bearer("admin")
    opened = client.post(
        "/api/v1/cases",
        json={"channel": "phone", "customer_ref": "CUST-77", "agent": "anna", "connection_type": "dsl"},
        headers=telephony,
    )
    assert opened.status_code == 201, opened.get_json()
    case = opened.get_json()
    assert (
        case["agent"]["name"] and case["problem"] == "" and opened.headers["Location"] == f"/api/v1/cases/{case['id']}"
    )
    assert "CUST-77" not in opened.headers["Location"]
    # the agent's browser (a session of their own) polls and gets it as the current case
    sign_in_as(client, users["agent"])
    polled = client.get("/cases/screen-pop").get_json()
    assert polled["case_id"] == case["id"]
    assert client.get("/cases/screen-pop").get_json() == {"case_id": None}  # once
    page = client.get("/").get_data(as_text=True)
    assert "CUST-77" in page and f"/cases/{case['id']}" in page
    # the agent's first search describes the problem
    client.post("/api/search", json={"query": "dsl light blinking"})
    timeline = client.get(f"/api/v1/cases/{case['id']}", headers=telephony).get_json()
    assert timeline["problem"] == "dsl light blinking"
    assert [e["kind"] for e in timeline["timeline"]] == ["opened", "search"]


def test_the_next_page_shows_a_screen_pop_without_the_poll(client, users, bearer):
    sign_in_as(client, users["agent"])
    opened = client.post("/api/v1/cases", json={"channel": "chat", "customer_ref": "REF-9"}, headers=bearer("agent"))
    page = client.get("/cases/").get_data(as_text=True)
    assert f"case {opened.get_json()['id']}" in page.lower() and "telephony" in page


def test_only_admins_open_cases_for_someone_else(client, bearer):
    refused = client.post(
        "/api/v1/cases", json={"channel": "phone", "customer_ref": "X", "agent": "ada"}, headers=bearer("agent")
    )
    assert refused.status_code == 403
    unknown = client.post(
        "/api/v1/cases", json={"channel": "phone", "customer_ref": "X", "agent": "nobody"}, headers=bearer("admin")
    )
    assert unknown.status_code == 400 and error_of(unknown)["field"] == "agent"


# -- a whole case through the API ------------------------------------------------------------------------


def test_a_case_from_open_to_escalation_through_the_api(client, bearer):
    agent = bearer("agent")
    case_id = client.post(
        "/api/v1/cases", json={"channel": "email", "customer_ref": "C-5", "problem": "dsl light blinks"}, headers=agent
    ).get_json()["id"]
    found = client.post(f"/api/v1/cases/{case_id}/searches", json={"query": "dsl light blinking"}, headers=agent)
    assert found.status_code == 200 and found.get_json()["case_id"] == case_id and found.get_json()["hits"]
    note = client.post(f"/api/v1/cases/{case_id}/notes", json={"text": "customer rebooted twice"}, headers=agent)
    assert note.status_code == 201
    step = client.post(
        f"/api/v1/cases/{case_id}/steps",
        json={"article_id": "dsl-no-sync", "lang": "en", "step": 1, "done": True, "result": "still blinking"},
        headers=agent,
    )
    assert step.status_code == 200 and step.get_json() == {"ticked": [1], "results": {"1": "still blinking"}}
    escalated = client.post(
        f"/api/v1/cases/{case_id}/escalate", json={"team": "tier2", "reason": "line fault suspected"}, headers=agent
    )
    assert escalated.status_code == 200 and escalated.get_json()["status"] == "escalated"
    handoff = client.get(f"/api/v1/cases/{case_id}/handoff", headers=agent).get_json()
    assert handoff["reason"] == "line fault suspected" and handoff["steps_done"][0]["result"] == "still blinking"
    assert client.get(f"/api/v1/cases/{case_id}/deliveries", headers=agent).get_json() == {"deliveries": []}
    again = client.post(f"/api/v1/cases/{case_id}/unresolved", json={"reason": "x"}, headers=agent)
    assert again.status_code == 409 and error_of(again)["code"] == "case_closed"
    mine = client.get("/api/v1/cases?status=escalated", headers=agent).get_json()["cases"]
    assert [c["id"] for c in mine] == [case_id]


def test_resolving_records_the_article(client, bearer):
    agent = bearer("agent")
    case_id = client.post(
        "/api/v1/cases", json={"channel": "phone", "customer_ref": "C-6", "problem": "mail password"}, headers=agent
    ).get_json()["id"]
    unknown = client.post(f"/api/v1/cases/{case_id}/resolve", json={"article_ids": ["no-such"]}, headers=agent)
    assert unknown.status_code == 400 and error_of(unknown)["field"] == "article_ids"
    done = client.post(
        f"/api/v1/cases/{case_id}/resolve", json={"article_ids": ["email-password-reset"]}, headers=agent
    )
    assert done.status_code == 200 and done.get_json()["resolved_by"] == ["email-password-reset"]


def test_another_agents_case_is_not_found(client, engine, users, bearer):
    from kb.identity.users import create_user

    create_user(engine, "bert", "correct horse battery", "agent")
    _, other = tokens.create_token(engine, "bert")
    case_id = client.post(
        "/api/v1/cases", json={"channel": "phone", "customer_ref": "C-7"}, headers=bearer()
    ).get_json()["id"]
    for method, path in (("get", ""), ("get", "/handoff"), ("post", "/notes")):
        response = getattr(client, method)(
            f"/api/v1/cases/{case_id}{path}", json={"text": "x"}, headers={"Authorization": f"Bearer {other}"}
        )
        assert response.status_code == 404, path


# -- idempotency ---------------------------------------------------------------------------------------------


def test_a_retried_open_case_with_the_same_key_creates_one_case(client, bearer):
    agent = {**bearer("agent"), "Idempotency-Key": "call-8812-attempt"}
    body = {"channel": "phone", "customer_ref": "C-8", "problem": "no internet"}
    first = client.post("/api/v1/cases", json=body, headers=agent)
    second = client.post("/api/v1/cases", json=body, headers=agent)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json() and second.headers["Idempotent-Replayed"] == "true"
    assert len(client.get("/api/v1/cases", headers=agent).get_json()["cases"]) == 1
    other = client.post("/api/v1/cases", json={**body, "customer_ref": "C-9"}, headers=agent)
    assert other.status_code == 422 and error_of(other)["code"] == "idempotency_key_reused"


def test_a_retried_note_is_added_once(client, bearer):
    agent = bearer("agent")
    case_id = client.post("/api/v1/cases", json={"channel": "phone", "customer_ref": "C-10"}, headers=agent).get_json()[
        "id"
    ]
    for _ in range(3):
        client.post(
            f"/api/v1/cases/{case_id}/notes", json={"text": "called"}, headers={**agent, "Idempotency-Key": "n1"}
        )
    kinds = [e["kind"] for e in client.get(f"/api/v1/cases/{case_id}", headers=agent).get_json()["timeline"]]
    assert kinds.count("note") == 1


def test_keys_are_per_user(client, engine, users, bearer):
    body = {"channel": "phone", "customer_ref": "C-11"}
    a = client.post("/api/v1/cases", json=body, headers={**bearer("agent"), "Idempotency-Key": "k"})
    b = client.post("/api/v1/cases", json=body, headers={**bearer("admin"), "Idempotency-Key": "k"})
    assert a.get_json()["id"] != b.get_json()["id"]


def test_a_bad_idempotency_key_is_refused(client, bearer):
    response = client.post(
        "/api/v1/cases", json={"channel": "phone", "customer_ref": "C"}, headers={**bearer(), "Idempotency-Key": "a b"}
    )
    assert response.status_code == 400 and error_of(response)["field"] == "Idempotency-Key"


# -- bad input ------------------------------------------------------------------------------------------------


def test_unknown_fields_are_refused_by_name(client, bearer):
    response = client.post(
        "/api/v1/cases", json={"channel": "phone", "customer_ref": "C", "priority": "high"}, headers=bearer()
    )
    assert response.status_code == 400
    assert error_of(response) == {**error_of(response), "code": "unknown_field", "field": "priority"}
    assert "priority" in error_of(response)["message"]
    query = client.get("/api/v1/articles?colour=red", headers=bearer())
    assert query.status_code == 400 and error_of(query)["field"] == "colour"


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'{"channel": 5, "customer_ref": "C"}', b'{"channel": "phone"}', b"[" * 5000],
)
def test_malformed_bodies_get_400_with_what_to_do(client, bearer, body):
    response = client.post("/api/v1/cases", data=body, headers={**bearer(), "Content-Type": "application/json"})
    assert response.status_code == 400 and error_of(response)["message"]


def test_a_body_over_the_limit_gets_413(client, bearer):
    huge = json.dumps({"query": "x" * 70_000})
    response = client.post("/api/v1/search", data=huge, headers={**bearer(), "Content-Type": "application/json"})
    assert response.status_code == 413 and error_of(response)["code"] == "too_large"


def test_a_pasted_message_of_5000_characters_is_searched(client, bearer):
    message = ("Goedemiddag, mijn dsl lampje knippert al de hele dag en internet doet het niet. " * 70)[:5000]
    response = client.post("/api/v1/search", json={"query": message}, headers=bearer())
    assert response.status_code == 200 and response.get_json()["hits"]


def test_wrong_methods_and_paths_answer_in_json(client, bearer):
    assert error_of(client.delete("/api/v1/me", headers=bearer()))["code"] == "method_not_allowed"
    assert error_of(client.get("/api/v1/nothing", headers=bearer()))["code"] == "not_found"


# -- articles, figures, worklist -------------------------------------------------------------------------------


def test_articles_rendered_and_raw(client, bearer):
    listed = client.get("/api/v1/articles?lang=nl", headers=bearer("analyst")).get_json()["articles"]
    assert {a["id"] for a in listed} >= {"dsl-no-sync", "email-password-reset"} and all(
        a["lang"] == "nl" for a in listed
    )
    one = client.get("/api/v1/articles/dsl-no-sync?lang=en", headers=bearer("analyst")).get_json()
    assert one["title"] == "DSL light blinking: no DSL sync" and one["markdown"].startswith("---")
    assert one["html"]["steps"] and "<script" not in json.dumps(one["html"])
    assert client.get("/api/v1/articles/no-such-article", headers=bearer()).status_code == 404


def test_analytics_and_worklist_figures(client, bearer):
    summary = client.get("/api/v1/analytics/summary?since=2026-01-01&until=2026-12-31", headers=bearer("analyst"))
    assert summary.status_code == 200 and "l1_resolution_rate" in summary.get_json()["figures"]
    bad = client.get("/api/v1/analytics/summary?since=yesterday", headers=bearer("analyst"))
    assert bad.status_code == 400 and error_of(bad)["field"] == "since"
    counts = client.get("/api/v1/editor/worklist", headers=bearer("editor")).get_json()
    assert set(counts) >= {"open_flags", "gap_clusters", "drafts", "in_review"}


# -- the settings page and the admins' page --------------------------------------------------------------------


def test_a_user_creates_and_revokes_their_own_token_on_the_settings_page(client, engine, users):
    sign_in_as(client, users["agent"])
    page = client.post("/auth/tokens", data={"name": "softphone", "expires": "30"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "shown only this once" in text
    secret = text.split('id="new-token" class="token-value" readonly value="')[1].split('"')[0]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    again = client.get("/auth/account").get_data(as_text=True)
    assert secret not in again and "softphone" in again
    token_id = tokens.list_tokens(engine, "anna")[0].id
    assert client.post(f"/auth/tokens/{token_id}/revoke").status_code == 303
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(client, engine, users):
    other, _ = tokens.create_token(engine, "ada")
    sign_in_as(client, users["agent"])
    assert client.post(f"/auth/tokens/{other.id}/revoke").status_code == 404
    assert tokens.list_tokens(engine, "ada")[0].state() == "active"


def test_an_admin_creates_a_token_for_an_integration_user(client, engine, users):
    sign_in_as(client, users["admin"])
    page = client.post("/admin/tokens", data={"username": "anna", "name": "CTI", "expires": "0"})
    assert page.status_code == 200 and "shown only this once" in page.get_data(as_text=True)
    made = tokens.list_tokens(engine, "anna")[0]
    assert made.name == "CTI" and made.expires_at is None
    assert client.post("/admin/tokens", data={"username": "ghost", "name": "x", "expires": "30"}).status_code == 400
