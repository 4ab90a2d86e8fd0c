"""Hardening of the web edge: trusted hosts, HSTS, cross-site article loads, /readyz without paths."""

from __future__ import annotations

from kb.caselog import cases as caselog
from tests.webapp.conftest import sign_in_as


def test_a_forged_host_is_refused_when_hosts_are_configured(make_app, monkeypatch):
    monkeypatch.setenv("KB_TRUSTED_HOSTS", "kb.example.nl, localhost")
    client = make_app().test_client()
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    response = client.get("/cases/", headers={"Host": "kb.example.nl"})
    assert response.status_code == 302 and "evil" not in response.headers["Location"]


def test_hsts_only_with_https(make_app, monkeypatch):
    assert "Strict-Transport-Security" not in make_app().test_client().get("/healthz").headers
    monkeypatch.setenv("KB_HTTPS", "1")
    headers = make_app().test_client().get("/healthz").headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000"


def test_a_cross_site_article_load_is_not_written_to_the_case(app, client, users):
    agent = users["agent"]
    sign_in_as(client, agent)
    client.post(
        "/cases/open", data={"channel": "phone", "customer_ref": "K-1", "problem": "dsl", "connection_type": "dsl"}
    )
    engine = app.extensions["kb"].engine
    case_id = caselog.list_cases(engine, agent_id=agent.id)[0].id
    for site in ("cross-site", "same-site"):
        assert client.get("/articles/dsl-no-sync?lang=en", headers={"Sec-Fetch-Site": site}).status_code == 200
    assert [e.kind for e in caselog.timeline(engine, case_id)] == ["opened"]
    client.get("/articles/dsl-no-sync?lang=en", headers={"Sec-Fetch-Site": "same-origin"})
    assert [e.kind for e in caselog.timeline(engine, case_id)] == ["opened", "article_opened"]


def test_readyz_names_no_files(make_app, tmp_path):
    app = make_app(KB_INDEX=str(tmp_path / "nowhere" / "index"))
    body = app.test_client().get("/readyz").get_json()
    assert body["status"] == "unavailable"
    assert "no index is published; run `kb index`" in body["reasons"]
    assert str(tmp_path) not in str(body)


def test_redirects_never_carry_the_request_host(make_app):
    client = make_app().test_client()
    response = client.get("/cases", headers={"Host": "evil.example"})  # the trailing-slash redirect
    assert response.status_code == 308 and response.headers["Location"] == "/cases/"


def test_a_change_from_another_site_is_refused(client, users):
    sign_in_as(client, users["agent"])
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Referer": "https://evil.example/page"}):
        response = client.post("/cases/open", data={"channel": "phone"}, headers=headers)
        assert response.status_code == 403 and b"another site" in response.data, headers
        api = client.post("/api/search", json={"query": "dsl"}, headers=headers)
        assert api.status_code == 403 and "another site" in api.get_json()["error"]
    same = client.post("/api/search", json={"query": "dsl light"}, headers={"Origin": "http://localhost"})
    assert same.status_code == 200


def test_csrf_tokens_expire_after_a_working_day(make_app):
    assert make_app().config["WTF_CSRF_TIME_LIMIT"] == 10 * 3600
