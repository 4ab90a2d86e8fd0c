"""Every route of the app, walked from the URL map: anonymous users are sent to log in, roles are
refused where the view does not allow them. Blueprints added later are covered without changes here.
"""

from __future__ import annotations

import uuid

import pytest
from werkzeug.routing import AnyConverter, FloatConverter, IntegerConverter, UUIDConverter

from kb.identity.users import ROLES
from tests.webapp.conftest import sign_in_as
from webapp.security import PUBLIC

# The API's document and its page are public: there is nothing secret in them (webapp.apispec).
PUBLIC_ENDPOINTS = {"auth.login", "health.healthz", "health.readyz", "api_v1.openapi", "api_v1.docs"}


def sample_value(converter):
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, FloatConverter):
        return 1.0
    if isinstance(converter, UUIDConverter):
        return uuid.UUID(int=1)
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return "x"


def routes(app):
    """(endpoint, method, path) for every rule and method of the app, static files excepted."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        values = {name: sample_value(conv) for name, conv in rule._converters.items()}
        path = adapter.build(rule.endpoint, values, method=sorted(rule.methods)[0])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, path))
    return found


def allowed_roles(app, endpoint) -> frozenset:
    return getattr(app.view_functions[endpoint], "allowed_roles", frozenset())


def test_the_walker_sees_the_known_routes(app):
    seen = {(endpoint, method) for endpoint, method, _ in routes(app)}
    assert {
        ("auth.login", "GET"),
        ("auth.login", "POST"),
        ("auth.logout", "POST"),
        ("admin.users", "GET"),
        ("admin.disable", "POST"),
        ("health.readyz", "GET"),
    } <= seen


def test_every_view_declares_who_may_use_it(app):
    undeclared = sorted(e for e in app.view_functions if e != "static" and not allowed_roles(app, e))
    assert undeclared == [], "add @roles(...) or @public (webapp.security) to these views"


def test_only_login_and_health_checks_are_public(app):
    public = {e for e in app.view_functions if PUBLIC in allowed_roles(app, e)}
    assert public == PUBLIC_ENDPOINTS


def test_anonymous_requests_are_sent_to_log_in(app, client):
    wrong = []
    for endpoint, method, path in routes(app):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.open(path, method=method)
        location = response.headers.get("Location", "")
        if not (response.status_code == 401 or (response.status_code == 302 and location.startswith("/auth/login"))):
            wrong.append((method, path, response.status_code, location))
    assert wrong == []


def test_anonymous_api_clients_get_401_not_a_login_page(app, client):
    for endpoint, method, path in routes(app):
        if endpoint not in PUBLIC_ENDPOINTS:
            response = client.open(path, method=method, headers={"Accept": "application/json"})
            assert response.status_code == 401, (method, path)
            assert response.is_json and response.get_json()["error"]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_where_the_view_does_not_allow_it(app, client, users, role):
    wrong = []
    for endpoint, method, path in routes(app):
        sign_in_as(client, users[role])  # again each time: one of the views signs out
        allowed = PUBLIC in allowed_roles(app, endpoint) or role in allowed_roles(app, endpoint)
        status = client.open(path, method=method).status_code
        if allowed and (status == 403 or status >= 500) or not allowed and status != 403:
            wrong.append((method, path, status, "allowed" if allowed else "not allowed"))
    assert wrong == []


def test_admin_pages_are_for_admins_only(app):
    admin_views = [e for e in app.view_functions if e.startswith("admin.")]
    assert admin_views and all(allowed_roles(app, e) == {"admin"} for e in admin_views)


def test_health_checks_need_no_login(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_ready_only_after_the_model_and_index_are_loaded(make_app, searcher):
    app = make_app(load_search=False)
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "reasons": ["model and index not loaded yet"]}
    app.extensions["kb"].use_searcher(searcher)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["status"] == "ready" and ready.get_json()["model"] == "fake-embedder"


# -- the integration API with tokens ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_roles_token_is_refused_where_the_view_does_not_allow_it(app, client, users, role):
    """The same default-deny rules for API tokens as for sessions, on every /api/v1/ route."""
    from kb.identity.tokens import create_token

    _, secret = create_token(app.extensions["kb"].engine, users[role].username)
    header = {"Authorization": f"Bearer {secret}"}
    wrong, seen = [], 0
    for endpoint, method, path in routes(app):
        if not path.startswith("/api/v1/"):
            continue
        seen += 1
        allowed = PUBLIC in allowed_roles(app, endpoint) or role in allowed_roles(app, endpoint)
        status = client.open(path, method=method, headers=header, json={}).status_code
        if allowed and (status in (401, 403) or status >= 500) or not allowed and status != 403:
            wrong.append((method, path, status, "allowed" if allowed else "not allowed"))
    assert seen >= 15 and wrong == []


def test_every_api_route_is_in_the_published_document(app):
    """A route under /api/v1/ that the OpenAPI document does not describe (or the other way round) fails here."""
    import re

    from webapp.apispec import document

    spec = document()
    in_code = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint not in ("api_v1.openapi", "api_v1.docs"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            in_code |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    in_spec = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert in_code == in_spec
