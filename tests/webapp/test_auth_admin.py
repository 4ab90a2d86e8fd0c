"""The admin's user management page: list, add, change role, disable and enable."""

from __future__ import annotations

import re

import pytest

from kb.identity.users import list_users
from tests.webapp.conftest import PASSWORD, csrf_token, sign_in_as


@pytest.fixture
def admin_client(client, users):
    sign_in_as(client, users["admin"])
    return client


def stored(app, username):
    return next((u for u in list_users(app.extensions["kb"].engine) if u.username == username), None)


def test_admin_sees_every_user(admin_client, users):
    page = admin_client.get("/admin/users").get_data(as_text=True)
    for user in users.values():
        assert f'<th scope="row">{user.username}</th>' in page
    assert "5 users" in page


@pytest.mark.parametrize("role", ["agent", "editor", "analyst"])
def test_other_roles_are_refused(client, users, role):
    sign_in_as(client, users[role])
    assert client.get("/admin/users").status_code == 403
    assert client.post("/admin/users", data={"username": "mallory", "role": "admin"}).status_code == 403
    assert client.post("/admin/users/ada/disable").status_code == 403


def test_add_user_with_a_generated_password_shown_once(app, admin_client):
    response = admin_client.post(
        "/admin/users",
        data={"username": "bram", "display_name": "Bram Jansen", "role": "editor", "language": "nl", "team": "kb"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "User bram was added" in page
    password = re.search(r'<code class="secret">([^<]+)</code>', page).group(1)
    assert stored(app, "bram").role == "editor" and stored(app, "bram").language == "nl"
    assert password not in admin_client.get("/admin/users").get_data(as_text=True)  # shown only once

    other = app.test_client()
    assert other.post("/auth/login", data={"username": "bram", "password": password}).status_code == 302


def test_add_user_with_a_chosen_password(app, admin_client):
    page = admin_client.post(
        "/admin/users", data={"username": "bram", "role": "agent", "password": "chosen-by-admin"}
    ).get_data(as_text=True)
    assert "User bram was added." in page and 'class="secret"' not in page
    assert (
        app.test_client().post("/auth/login", data={"username": "bram", "password": "chosen-by-admin"}).status_code
        == 302
    )


@pytest.mark.parametrize(
    "data, message",
    [
        ({"username": "Bad Name!", "role": "agent"}, "The user name must be 3 to 64 characters"),
        ({"username": "anna", "role": "agent"}, "The user name &#39;anna&#39; is taken; choose another."),
        ({"username": "bram", "role": "root"}, "Not a valid choice"),
        ({"username": "bram", "role": "agent", "password": "short"}, "Field must be between 8 and 1024"),
    ],
)
def test_add_user_refuses_bad_input_and_says_why(app, admin_client, data, message):
    response = admin_client.post("/admin/users", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert stored(app, "bram") is None


def test_change_role_disable_and_enable(app, admin_client):
    admin_client.post("/admin/users/anna/role", data={"role": "analyst"})
    assert stored(app, "anna").role == "analyst"
    page = admin_client.post("/admin/users/anna/disable", follow_redirects=True).get_data(as_text=True)
    assert "anna can no longer sign in." in page and not stored(app, "anna").is_active
    assert app.test_client().post("/auth/login", data={"username": "anna", "password": PASSWORD}).status_code == 401
    admin_client.post("/admin/users/anna/enable")
    assert stored(app, "anna").is_active


def test_unknown_user_gets_the_library_message(admin_client):
    page = admin_client.post("/admin/users/ghost/disable", follow_redirects=True).get_data(as_text=True)
    assert "There is no user &#39;ghost&#39;" in page


def test_admin_cannot_lock_themselves_out(app, admin_client):
    admin_client.post("/admin/users/ada/role", data={"role": "agent"})
    admin_client.post("/admin/users/ada/disable")
    ada = stored(app, "ada")
    assert ada.role == "admin" and ada.is_active


def test_admin_changes_need_the_csrf_token(make_app, users):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    sign_in_as(client, users["admin"])
    assert client.post("/admin/users/anna/disable").status_code == 400
    token = csrf_token(client, "/admin/users")
    assert client.post("/admin/users/anna/disable", data={"csrf_token": token}).status_code == 302
