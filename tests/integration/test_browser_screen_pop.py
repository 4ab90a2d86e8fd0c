"""The telephony's screen pop end to end, in a real Chromium against the real app over HTTP.

The agent is signed in on the search page; the telephony system opens a case for them through
the API with an admin (integration) token over a real HTTP request; within a few seconds the
agent's page says so without reloading, and one click shows the case as the current one, with the
customer reference that the API sent and that no URL ever carried.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.integration.browser import USERNAME, Watch, _log_in, _path

pytestmark = pytest.mark.integration


def _post(url: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": "call-1"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_the_telephony_opens_the_case_and_the_agents_page_shows_it(browser, serve, page):
    from kb.identity.tokens import create_token
    from kb.identity.users import create_user

    live = serve(with_search=False)
    create_user(live.engine, "cti-bridge", "correct horse battery", "admin")
    _, token = create_token(live.engine, "cti-bridge", "telephony")
    watch = Watch(page)
    _log_in(page, watch, live)
    urls = []
    page.on("request", lambda r: urls.append(r.url))

    body = {"channel": "phone", "customer_ref": "CUST-POP-4411", "agent": USERNAME, "connection_type": "fibre"}
    status, case = _post(f"{live.url}/api/v1/cases", body, token)
    assert status == 201 and case["customer_ref"] == "CUST-POP-4411"
    again, same = _post(f"{live.url}/api/v1/cases", body, token)  # the telephony retries after a time-out
    assert again == 201 and same["id"] == case["id"]

    notice = page.locator("[data-screen-pop-area] [role=alert]")
    notice.wait_for(state="visible", timeout=10_000)  # the page polls every 3 s
    assert f"{case['id']}" in notice.inner_text()
    with page.expect_navigation():
        notice.locator("a").click()
    assert _path(page) == "/"
    bar = page.locator(".case-panel, .casebar").first
    assert "CUST-POP-4411" in bar.inner_text()
    assert page.locator("#query").is_visible()
    assert not any("CUST-POP" in u for u in urls)
    watch.assert_clean()
