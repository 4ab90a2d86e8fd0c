"""Server-side sessions: sign-out revokes, disable and new passwords end sessions, idle and absolute timeouts."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from kb.identity.users import disable_user, enable_user, get_user, set_password
from kb.store.engine import session_scope
from kb.store.tables import AuditLogRow
from tests.webapp.conftest import PASSWORD, csrf_token


def signed_in_cookie(client, auth, username="anna"):
    assert auth.login(username).status_code == 302
    return client.get_cookie("session").value


def replay(make_client, cookie):
    client = make_client()
    client.set_cookie("session", cookie)
    return client.get("/auth/account")


@pytest.fixture
def fresh_client(app):
    return app.test_client


def test_a_replayed_cookie_stops_working_after_sign_out(app, client, auth, users, fresh_client):
    cookie = signed_in_cookie(client, auth)
    assert replay(fresh_client, cookie).status_code == 200
    client.post("/auth/logout", headers={"X-CSRFToken": csrf_token(client, "/auth/account")})
    response = replay(fresh_client, cookie)
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


def test_a_session_from_before_a_disable_stays_dead_after_enabling(app, client, auth, users, fresh_client):
    engine = app.extensions["kb"].engine
    cookie = signed_in_cookie(client, auth)
    disable_user(engine, "anna")
    enable_user(engine, "anna")
    assert replay(fresh_client, cookie).status_code == 302
    assert auth.login().status_code == 302  # signing in again works


def test_a_new_password_ends_every_session(app, client, auth, users, fresh_client):
    cookie = signed_in_cookie(client, auth)
    set_password(app.extensions["kb"].engine, "anna", "a completely new one")
    assert replay(fresh_client, cookie).status_code == 302


@pytest.mark.parametrize("setting, age_seconds", [("KB_IDLE_MINUTES", 121 * 60), ("KB_SESSION_HOURS", 13 * 3600)])
def test_idle_and_absolute_timeouts(app, client, auth, users, setting, age_seconds):
    signed_in_cookie(client, auth)
    assert client.get("/auth/account").status_code == 200
    with client.session_transaction() as session:
        if setting == "KB_IDLE_MINUTES":
            session["seen_at"] -= age_seconds
        else:  # active all along, but signed in too long ago
            session["signed_in_at"] -= age_seconds
    assert client.get("/auth/account").status_code == 302


def test_the_cookie_is_not_renewed_on_every_response(client, auth, users):
    signed_in_cookie(client, auth)
    client.get("/auth/account")  # the first page also stores the CSRF token in the session
    response = client.get("/auth/account")
    assert response.status_code == 200 and "session=" not in response.headers.get("Set-Cookie", "")


def test_a_user_changes_their_own_password(app, client, auth, users, fresh_client):
    device = AuthOn(fresh_client)
    other_device = signed_in_cookie(device.client, device)
    signed_in_cookie(client, auth)
    token = csrf_token(client, "/auth/account")
    wrong = client.post(
        "/auth/password",
        data={
            "csrf_token": token,
            "current_password": "not it",
            "password": "new password 123",
            "repeat": "new password 123",
        },
    )
    assert wrong.status_code == 400 and b"current password is wrong" in wrong.data
    differ = client.post(
        "/auth/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "password": "new password 123",
            "repeat": "new password 124",
        },
    )
    assert differ.status_code == 400 and b"differ" in differ.data
    done = client.post(
        "/auth/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "password": "new password 123",
            "repeat": "new password 123",
        },
    )
    assert done.status_code == 302
    assert client.get("/auth/account").status_code == 200  # this session goes on
    assert replay(fresh_client, other_device).status_code == 302  # the other device is signed out
    assert auth.login(password="new password 123").status_code == 302


def test_an_admin_sets_a_new_password_shown_once_and_audited(app, client, auth, users):
    signed_in_cookie(client, auth, "ada")
    token = csrf_token(client, "/admin/users")
    page = client.post("/admin/users/anna/password", data={"csrf_token": token}).get_data(as_text=True)
    assert "has a new password" in page
    engine = app.extensions["kb"].engine
    client.post("/admin/users/anna/disable", data={"csrf_token": token})
    with session_scope(engine, readonly=True) as session:
        rows = session.scalars(select(AuditLogRow).order_by(AuditLogRow.id)).all()
    assert [(r.action, r.actor_id) for r in rows] == [
        ("set_password", users["admin"].id),
        ("disable_user", users["admin"].id),
    ]
    assert "scrypt" not in json.dumps([r.detail for r in rows])
    assert get_user(engine, users["agent"].id).session_generation == 2  # new password, then disabled


class AuthOn:
    """Log-in through the form on another client (another device)."""

    def __init__(self, make_client):
        self.client = make_client()

    def login(self, username="anna", password=PASSWORD):
        return self.client.post("/auth/login", data={"username": username, "password": password})


def test_an_admin_unlocks_a_user_locked_by_someone_elses_guesses(app, client, auth, users):
    for _ in range(5):
        auth.login("anna", "someone guessing")
    assert auth.login("anna").status_code == 429  # the right password, refused for 15 minutes
    admin = app.test_client()
    admin.post("/auth/login", data={"username": "ada", "password": PASSWORD})
    token = csrf_token(admin, "/admin/users")
    assert admin.post("/admin/users/anna/unlock", data={"csrf_token": token}).status_code == 302
    assert auth.login("anna").status_code == 302
    with session_scope(app.extensions["kb"].engine, readonly=True) as session:
        actor = session.scalar(select(AuditLogRow.actor_id).where(AuditLogRow.action == "unlock_user"))
    assert actor == users["admin"].id


def test_behind_a_trusted_proxy_the_client_address_is_used(make_app, monkeypatch):
    from kb.store.tables import LoginAttemptRow

    monkeypatch.setenv("KB_TRUSTED_PROXIES", "1")
    app = make_app()
    client = app.test_client()
    client.post(
        "/auth/login", data={"username": "anna", "password": "wrong one"}, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    with session_scope(app.extensions["kb"].engine, readonly=True) as session:
        assert session.scalars(select(LoginAttemptRow.address)).all() == ["203.0.113.9"]
