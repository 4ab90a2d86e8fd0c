"""A call during a known outage, in a real Chromium against the real app (real model, real SQLite):
the agent opens the case with the caller's postcode, the notice stands above the results and
above the restart procedure with the warning not to start it, and one click links the call to
the outage and closes it with a callback; the postcode never appears in a URL."""

from __future__ import annotations

import pytest

from tests.integration.browser import Watch, _log_in, _path

pytestmark = pytest.mark.integration

POSTCODE = "3011 AB"


def test_a_call_during_a_known_outage(browser, serve, page):
    from kb.caselog.cases import list_cases
    from kb.outages.register import add_outage

    live = serve(with_search=True)
    outage = add_outage(
        live.engine,
        areas=["3011"],
        services=["internet"],
        message_nl="Er is een storing in Rotterdam-Centrum; een monteur is onderweg.",
        message_en="There is an outage in Rotterdam centre; an engineer is on the way.",
        expected_end="2030-01-01T18:00+01:00",
    )
    watch = Watch(page)
    _log_in(page, watch, live)
    urls = []
    page.on("request", lambda r: urls.append(r.url))
    bar = page.locator(".outage-bar")
    assert bar.is_visible() and "3011" in bar.inner_text()  # no postcode yet: the active outages in a bar

    page.goto(live.url + "/cases/")
    page.check("#channel-phone")
    page.fill("#customer_ref", "K-STORING-1")
    page.fill("#postcode", POSTCODE)
    page.fill("#problem", "geen internet sinds vanochtend, modem al herstart")
    with page.expect_navigation():
        page.click("#open-case button[type=submit]")
    assert _path(page) == "/"
    notice = page.locator(".outage-notice").first
    assert notice.is_visible() and "an engineer is on the way" in page.locator(".outage-message").inner_text()
    page.locator(".outage-other summary").click()  # the text in the other language, for a Dutch-speaking caller
    assert "monteur is onderweg" in page.locator(".outage-other").inner_text()
    page.locator("#results li.result").first.wait_for()  # the case's problem, searched again on the page
    box, results = notice.bounding_box(), page.locator("#results").bounding_box()
    assert box["y"] < results["y"]  # the notice before the results

    page.goto(live.url + "/articles/router-restart?lang=nl")
    assert page.locator(".outage-warning").is_visible()
    steps = page.locator(".section-steps").bounding_box()
    assert page.locator(".outage-notice").bounding_box()["y"] < steps["y"]

    page.locator(".outage-link input[name=callback]").check()
    with page.expect_navigation():
        page.locator(".outage-link button[type=submit]").click()
    assert _path(page) == "/"
    case = list_cases(live.engine)[0]
    assert (case.status, case.outage_id, case.callback, case.postcode) == ("known_outage", outage.id, True, "3011AB")
    assert not any("3011" in u for u in urls), [u for u in urls if "3011" in u]
    watch.assert_clean()
