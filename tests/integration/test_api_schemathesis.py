"""The integration API held to its published OpenAPI document by schemathesis, over real HTTP.

The app runs with real settings (CSRF on) on a loopback server, with the shipped articles indexed
by the real model and a real SQLite file. Schemathesis reads /api/v1/openapi.json from the server
and generates requests for every operation; each is sent with a token of every role, with no token
and with a wrong one, and the answer must be one the document describes (status, content type,
body schema), never a server error.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth

from kb.caselog.cases import open_case
from kb.identity.tokens import create_token
from kb.identity.users import ROLES, create_user

pytestmark = pytest.mark.integration


@pytest.fixture
def live_api(serve):
    """The running app, one user and token per role, and a few cases (ids 1-3) of the agent."""
    live = serve()
    engine = live.engine
    headers = {}
    for role in ROLES:
        user = create_user(engine, f"api-{role}", "correct horse battery", role)
        headers[role] = {"Authorization": f"Bearer {create_token(engine, user.username, role)[1]}"}
        if role == "agent":
            for n in range(3):
                open_case(engine, user.id, "phone", f"REF-{n}", "internet light red")
    headers["no token"] = {}
    headers["wrong token"] = {"Authorization": "Bearer fkb_aaaaaaaa_" + "x" * 43}
    return live, headers


@pytest.fixture
def api_schema(live_api):
    live, _ = live_api
    return schemathesis.openapi.from_url(f"{live.url}/api/v1/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented_for_every_role(case, live_api):
    live, headers = live_api
    for header in headers.values():
        # ignored_auth sends the request again without credentials and expects a 401; the bearer
        # scheme is checked here anyway, by the "no token" and "wrong token" rounds.
        case.call_and_validate(base_url=live.url, headers=header, excluded_checks=[ignored_auth])
