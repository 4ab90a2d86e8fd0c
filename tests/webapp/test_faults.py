"""A database that cannot be written (disk full, read-only file system): nothing typed is lost, log-in still works."""

from __future__ import annotations

import re

import pytest

from kb.caselog import cases as caselog
from kb.identity.users import create_user
from kb.store.engine import make_engine, upgrade
from tests.webapp.conftest import PASSWORD, sign_in_as

NOTE = "Klant zegt: lampje rood sinds het onweer.\nNiet opnieuw vragen."


@pytest.fixture
def read_only(tmp_path, make_app):
    """An app whose database can be read but not written, with an agent and an open case in it."""
    path = tmp_path / "kb-ro.db"
    writable = make_engine(f"sqlite:///{path}")
    upgrade(writable)
    agent = create_user(writable, "anna", PASSWORD, "agent")
    case = caselog.open_case(writable, agent.id, "phone", "K-1", "no sync", "dsl")
    writable.dispose()
    app = make_app(KB_DATABASE_URL=f"sqlite:///file:{path}?mode=ro&uri=true")
    return app, agent, case


def test_readyz_says_the_database_is_not_writable(read_only):
    app, _, _ = read_only
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert any("database not writable" in reason for reason in response.get_json()["reasons"])
    assert "kb-ro.db" not in response.get_data(as_text=True)


def test_log_in_works_when_the_attempt_log_cannot_be_written(read_only):
    app, _, _ = read_only
    client = app.test_client()
    response = client.post("/auth/login", data={"username": "anna", "password": PASSWORD})
    assert response.status_code == 302
    wrong = client.post("/auth/login", data={"username": "anna", "password": "not the password"})
    assert wrong.status_code in (302, 401)  # already signed in, or refused: never a 500


def test_a_note_that_cannot_be_saved_is_kept_in_the_form(read_only):
    app, agent, case = read_only
    client = app.test_client()
    sign_in_as(client, agent)
    response = client.post(f"/cases/{case.id}/notes", data={"text": NOTE})
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and "Could not save" in page and "Your text is kept" in page
    textarea = re.search(r'<textarea id="note-text"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert "lampje rood sinds het onweer" in textarea and "Traceback" not in page


def test_opening_a_case_that_cannot_be_saved_keeps_the_form(read_only):
    app, agent, _ = read_only
    client = app.test_client()
    sign_in_as(client, agent)
    response = client.post(
        "/cases/open",
        data={"channel": "chat", "customer_ref": "KLANT-77", "problem": "wifi valt weg", "connection_type": "cable"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and "Could not save" in page
    assert 'value="KLANT-77"' in page and "wifi valt weg" in page


def test_a_tick_that_cannot_be_saved_is_a_503_with_what_to_do(read_only):
    app, agent, case = read_only
    client = app.test_client()
    sign_in_as(client, agent)
    response = client.post(
        f"/api/cases/{case.id}/steps", json={"article_id": "dsl-no-sync", "lang": "en", "step": 1, "done": True}
    )
    assert response.status_code == 503 and "try again" in response.get_json()["error"]


def test_kb_serve_refuses_a_read_only_instance_folder(tmp_path, monkeypatch, capsys):
    import os

    from kb.cli import main

    instance = tmp_path / "instance"
    instance.mkdir()
    monkeypatch.setenv("KB_INSTANCE", str(instance))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(instance) else real_access(p, mode))
    assert main(["serve", "--port", "1"]) == 2
    assert "is read-only" in capsys.readouterr().err


def _on_case(client, case) -> None:
    with client.session_transaction() as session:
        session["case_id"] = case.id


def test_a_search_that_cannot_be_logged_on_the_case_says_so(read_only):
    """The agent still gets the results during the call, and is told the case misses the search."""
    app, agent, case = read_only
    client = app.test_client()
    sign_in_as(client, agent)
    _on_case(client, case)
    answer = client.post("/api/search", json={"query": "dsl light keeps blinking"})
    data = answer.get_json()
    assert answer.status_code == 200 and data["hits"]
    assert data["case_logged"] is False and f"case {case.id}" in data["warning"] and "note" in data["warning"]
    page = client.post("/", data={"query": "dsl light keeps blinking"}).get_data(as_text=True)
    warning = re.search(r'<p id="case-warning"[^>]*>(.*?)</p>', page, re.S)
    assert warning and "hidden" not in warning.group(0) and f"case {case.id}" in warning.group(1)


def test_a_note_kept_after_a_failure_keeps_its_request_id(read_only):
    """Sent again from the re-rendered form, the note carries the id of the first try."""
    app, agent, case = read_only
    client = app.test_client()
    sign_in_as(client, agent)
    page = client.post(f"/cases/{case.id}/notes", data={"text": NOTE, "request_id": "retry-0123456789"}).get_data(
        as_text=True
    )
    assert re.search(r'name="request_id" value="retry-0123456789"', page)
