"""Signing in and out: throttling, no session fixation, no open redirect, CSRF, cookie flags."""

from __future__ import annotations

import pytest
from flask import session

from kb.identity.users import disable_user, get_user
from tests.webapp.conftest import PASSWORD, csrf_token, sign_in_as
from webapp.auth import safe_next


def home(app) -> str:
    """Where a successful log-in without `next` lands (the search page once it exists)."""
    return "/" if any(rule.rule == "/" for rule in app.url_map.iter_rules()) else "/auth/account"


def test_login_page_has_the_form_and_a_csrf_token(make_app):
    page = make_app(WTF_CSRF_ENABLED=True).test_client().get("/auth/login").get_data(as_text=True)
    assert 'name="username"' in page and 'type="password"' in page
    assert '<meta name="csrf-token" content="' in page and 'name="csrf_token"' in page


def test_login_signs_in_and_lands_on_the_start_page(app, client, auth, users):
    response = auth.login("anna", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == home(app)
    with client:
        page = client.get("/auth/account").get_data(as_text=True)
        assert session["user_id"] == users["agent"].id
    assert "Agent User" in page and "anna" in page


def test_login_starts_a_new_session(client, auth, users):
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
        before["user_id"] = users["admin"].id
    auth.login("anna", PASSWORD)
    with client.session_transaction() as after:
        assert "planted" not in after
        assert after["user_id"] == users["agent"].id and after.permanent


@pytest.mark.parametrize(
    "username, password, message",
    [
        ("anna", "wrong password", "Wrong user name or password; check both and try again"),
        ("nobody", PASSWORD, "Wrong user name or password; check both and try again"),
    ],
)
def test_failed_login_shows_the_library_message(client, auth, users, username, password, message):
    response = auth.login(username, password)
    assert response.status_code == 401
    assert message in response.get_data(as_text=True)
    with client.session_transaction() as s:
        assert "user_id" not in s


def test_disabled_user_cannot_log_in(app, auth, users):
    disable_user(app.extensions["kb"].engine, "anna")
    response = auth.login("anna", PASSWORD)
    assert response.status_code == 401
    assert "This account is disabled; ask an admin to enable it." in response.get_data(as_text=True)


def test_login_is_throttled_per_user_name(auth, users):
    for _ in range(5):
        assert auth.login("anna", "wrong password").status_code == 401
    refused = auth.login("anna", PASSWORD)  # even the right password waits
    assert refused.status_code == 429
    assert "Too many failed log-ins for this user name; try again after" in refused.get_data(as_text=True)
    assert auth.login("eddie", PASSWORD).status_code == 302  # other users are not affected


def test_login_is_throttled_per_address(client, users):
    def attempt(username, password, address):
        return client.post(
            "/auth/login", data={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
        )

    for n in range(20):
        assert attempt(f"guess{n}", "wrong password", "203.0.113.7").status_code == 401
    refused = attempt("anna", PASSWORD, "203.0.113.7")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert "Too many failed log-ins from your address; wait 1 second" in refused.get_data(as_text=True)
    assert attempt("anna", PASSWORD, "198.51.100.1").status_code == 302


def test_disabled_user_is_signed_out_on_the_next_request(app, client, users):
    sign_in_as(client, users["agent"])
    assert client.get("/auth/account").status_code == 200
    disable_user(app.extensions["kb"].engine, "anna")
    response = client.get("/auth/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")
    with client.session_transaction() as s:
        assert "user_id" not in s


def test_unknown_user_id_in_session_is_signed_out(client, users):
    with client.session_transaction() as s:
        s["user_id"] = 9999
    assert client.get("/auth/account").status_code == 302
    with client.session_transaction() as s:
        assert "user_id" not in s


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        "evil.example/x",
        "http:/evil.example",
        " /cases",
        "",
    ],
)
def test_next_never_leaves_the_site(app, auth, users, target):
    response = auth.login("anna", PASSWORD, next=target)
    assert response.status_code == 302 and response.headers["Location"] == home(app)


def test_next_is_followed_without_its_query_string(auth, users):
    response = auth.login("anna", PASSWORD, next="/cases/12?customer=NL-4711")
    assert response.headers["Location"] == "/cases/12"


def test_login_page_drops_a_foreign_next(client):
    assert 'name="next" type="hidden" value=""' in client.get("/auth/login?next=//evil.example").get_data(as_text=True)
    assert 'value="/cases"' in client.get("/auth/login?next=/cases%3Fcustomer%3D1").get_data(as_text=True)


def test_safe_next_accepts_only_local_paths():
    assert safe_next("/cases/3?x=1#top") == "/cases/3"
    assert safe_next("/") == "/"
    for bad in (None, 42, "cases", "//x", "/\\x", "https://x/", "/\x00x", "/ x"):
        assert safe_next(bad) is None


def test_logout_requires_post(client, users):
    sign_in_as(client, users["agent"])
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/auth/account").status_code == 200  # still signed in


def test_logout_and_login_need_the_csrf_token(make_app, users):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    refused = client.post("/auth/login", data={"username": "anna", "password": PASSWORD})
    assert refused.status_code == 400 and "This form has expired" in refused.get_data(as_text=True)

    token = csrf_token(client)
    assert (
        client.post("/auth/login", data={"username": "anna", "password": PASSWORD, "csrf_token": token}).status_code
        == 302
    )
    assert client.post("/auth/logout").status_code == 400
    assert client.post("/auth/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/auth/account").status_code == 200  # still signed in

    page_token = csrf_token(client, "/auth/account")  # the token JavaScript reads from the meta tag
    response = client.post("/auth/logout", headers={"X-CSRFToken": page_token})
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert client.get("/auth/account").status_code == 302


def test_logout_button_posts_with_a_csrf_token(make_app, users):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    sign_in_as(client, users["agent"])
    page = client.get("/auth/account").get_data(as_text=True)
    form = page[page.index('<form class="logout"') :]
    assert 'method="post" action="/auth/logout"' in form and 'name="csrf_token"' in form.split("</form>")[0]


def cookie_flags(set_cookie: str) -> set[str]:
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


def test_session_cookie_is_httponly_and_lax(auth, users):
    flags = cookie_flags(auth.login("anna", PASSWORD).headers["Set-Cookie"])
    assert {"httponly", "samesite=lax"} <= flags and "secure" not in flags


def test_session_cookie_is_secure_behind_https(make_app, monkeypatch):
    monkeypatch.setenv("KB_HTTPS", "1")
    app = make_app()
    from kb.identity.users import create_user

    create_user(app.extensions["kb"].engine, "anna", PASSWORD, "agent")
    response = app.test_client().post(
        "/auth/login", data={"username": "anna", "password": PASSWORD}, base_url="https://localhost"
    )
    assert {"secure", "httponly", "samesite=lax"} <= cookie_flags(response.headers["Set-Cookie"])


def test_user_sets_the_interface_language(app, client, users):
    sign_in_as(client, users["agent"])
    engine = app.extensions["kb"].engine
    response = client.post("/auth/account", data={"language": "nl"})
    assert response.status_code == 302
    assert get_user(engine, users["agent"].id).language == "nl"
    assert "Je instellingen" in client.get("/auth/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    client.post("/auth/account", data={"language": ""})
    assert get_user(engine, users["agent"].id).language is None
    assert client.post("/auth/account", data={"language": "de"}).status_code == 200  # refused, form again
    assert get_user(engine, users["agent"].id).language is None


def test_navigation_shows_only_what_the_role_may_open(client, users):
    sign_in_as(client, users["agent"])
    agent_page = client.get("/auth/account").get_data(as_text=True)
    assert 'href="/admin/users"' not in agent_page
    assert "Agent User" in agent_page and "Sign out" in agent_page
    assert '<span class="visually-hidden">Language:</span> EN</a>' in agent_page
    sign_in_as(client, users["admin"])
    assert 'href="/admin/users"' in client.get("/auth/account").get_data(as_text=True)
