"""A real browser against the real app: Debian's Chromium, headless, driven by Playwright.

The app runs with its production settings (CSRF on, the real Content-Security-Policy header) on a
loopback HTTP server, searching the shipped articles with the real model. The agent logs in, opens
a case, searches while typing (the results change without a page load), opens an article, ticks
a step and resolves the case. Any Content-Security-Policy violation or JavaScript error on any
page fails the test; a second test proves that the CSP detector really catches a violation.

Without Chromium or Playwright the tests are skipped, unless KB_REQUIRE_BROWSER=1 (CI sets it):
then they fail, so they can never be silently skipped there.
"""

from __future__ import annotations

import re

import pytest

from tests.integration.browser import (
    CASE_PROBLEM,
    CUSTOMER_REF,
    LAST_RESULT,
    QUERY_PASSWORD,
    QUERY_WIFI,
    STEP_RESULT,
    USERNAME,
    Watch,
    _assert_no_customer_data_in_urls,
    _log_in,
    _path,
    _shown_results,
    _type_query,
)


@pytest.mark.integration  # the real model searches the shipped articles
def test_agent_searches_opens_an_article_ticks_a_step_and_resolves_the_case(browser, serve, page):
    from kb.caselog.cases import get_case, list_cases, timeline
    from kb.identity.users import get_user

    live = serve(with_search=True)
    watch = Watch(page)
    _log_in(page, watch, live)

    # -- search while typing, before any case: no page load, nothing in the URL ---------------------
    page.evaluate("window.__marker = 1")
    navigations = len(watch.navigations)
    first = _type_query(page, live, CASE_PROBLEM)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded while typing"
    # The search is kept in the tab's history state (replaceState: same URL, no load, no query in it).
    assert set(watch.navigations[navigations:]) <= {live.url + "/"}, watch.navigations
    assert page.url == live.url + "/"
    assert first["hits"][0]["title"] == _shown_results(page)[0][0]
    watch.assert_clean()

    # -- open a case with this problem ----------------------------------------------------------------
    with page.expect_navigation():
        page.click("#case-prefill button[type=submit]")
    assert _path(page) == "/cases/prefill"
    assert page.input_value("#problem") == CASE_PROBLEM  # the search box's text, carried in a POST body
    watch.assert_clean()
    page.check("#channel-phone")
    page.fill("#customer_ref", CUSTOMER_REF)
    page.select_option("#connection_type", "fibre")
    with page.expect_navigation():
        page.click("#open-case button[type=submit]")
    assert _path(page) == "/", page.content()[:2000]
    casebar = page.locator("#case-panel")  # the case beside the search: one screen for the call
    assert casebar.is_visible()
    assert CUSTOMER_REF in casebar.inner_text()
    # No retyping: the search box holds the problem, its results are shown, the cursor is in the box.
    assert page.input_value("#query") == CASE_PROBLEM
    assert page.evaluate("document.activeElement.id") == "query"
    assert page.locator("#results li.result").count() > 0
    # The handle time keeps running in the panel (static/casebar.js) without a reload.
    clock = casebar.locator("[data-opened]")
    started = clock.inner_text()
    assert re.fullmatch(r"0:0\d", started), started
    page.wait_for_function(
        "(before) => document.querySelector('#case-panel [data-opened]').textContent !== before",
        arg=started,
        timeout=5000,
    )
    case_href = casebar.locator(".case-panel-links a").get_attribute("href")
    match = re.fullmatch(r"/cases/(\d+)", case_href or "")
    assert match, case_href
    case_id = int(match.group(1))
    assert page.locator("#case-prefill").count() == 0  # no second case while this one is current
    watch.assert_clean()

    # -- two searches: the list is rebuilt in place, the page never reloads ---------------------------
    page.evaluate("window.__marker = 1")
    navigations = len(watch.navigations)
    page.fill("#query", "")  # a new search replaces the problem kept in the box
    wifi = _type_query(page, live, QUERY_WIFI)
    wifi_shown = _shown_results(page)
    assert page.evaluate("window.__marker") == 1
    page.fill("#query", "")
    password = _type_query(page, live, QUERY_PASSWORD)
    password_shown = _shown_results(page)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded while typing"
    assert set(watch.navigations[navigations:]) <= {live.url + "/"}, watch.navigations
    assert page.url == live.url + "/"
    assert wifi["hits"][0]["id"] != password["hits"][0]["id"], (wifi["hits"][0], password["hits"][0])
    assert wifi_shown[0][0] != password_shown[0][0], (wifi_shown, password_shown)
    assert casebar.is_visible()
    watch.assert_clean()

    # -- open the first result --------------------------------------------------------------------------
    hit = password["hits"][0]
    article_id, lang = hit["id"], hit["lang"]
    with page.expect_navigation():
        page.click("#results li.result:first-child a.result-title")
    assert _path(page) == f"/articles/{article_id}"
    assert page.locator("h1").first.inner_text() == hit["title"]
    assert page.locator("#case-panel").is_visible()
    assert page.input_value("#query") == QUERY_PASSWORD  # the search stays beside the article
    checklist = page.locator("form#checklist")
    assert checklist.get_attribute("data-api") == f"/api/cases/{case_id}/steps"
    page.locator("form#checklist .save-steps").wait_for(state="hidden")  # article.js saves each tick itself
    step_one = page.locator("form#checklist input[name=step][value='1']")
    assert not step_one.is_checked()
    watch.assert_clean()

    # -- tick step 1: saved at once, without a page load -------------------------------------------------
    page.evaluate("window.__marker = 1")
    with page.expect_response(
        lambda r: r.url == f"{live.url}/api/cases/{case_id}/steps" and r.request.method == "POST"
    ) as answer:
        step_one.check()
    response = answer.value
    assert response.ok, (response.status, response.text())
    revision = checklist.get_attribute("data-revision")  # the article version this page shows
    assert re.fullmatch(r"[0-9a-f]{12}", revision), revision
    assert response.request.post_data_json == {
        "article_id": article_id,
        "lang": lang,
        "revision": revision,
        "step": 1,
        "done": True,
    }
    assert response.json()["ticked"] == [1]
    page.wait_for_function("() => !document.querySelector(\"form#checklist input[name=step][value='1']\").disabled")
    assert step_one.is_checked()
    assert page.evaluate("window.__marker") == 1
    assert page.locator("form#checklist .checklist-status").inner_text().strip() == ""
    watch.assert_clean()

    # -- a result typed for step 2 ticks it and is saved with it (Enter saves the field, not the form) ---
    with page.expect_response(
        lambda r: r.url == f"{live.url}/api/cases/{case_id}/steps" and r.request.method == "POST"
    ) as answer:
        page.locator("#step-result-2").fill(STEP_RESULT)
        page.locator("#step-result-2").press("Enter")
    response = answer.value
    assert response.ok and response.request.post_data_json == {
        "article_id": article_id,
        "lang": lang,
        "revision": revision,
        "step": 2,
        "done": True,
        "result": STEP_RESULT,
    }
    assert response.json() == {"ticked": [1, 2], "results": {"2": STEP_RESULT}}
    assert page.locator("form#checklist input[name=step][value='2']").is_checked()
    assert page.evaluate("window.__marker") == 1
    watch.assert_clean()

    # -- reload: the ticks were saved on the server ------------------------------------------------------
    page.reload()
    assert page.locator("form#checklist input[name=step][value='1']").is_checked()
    assert page.locator("form#checklist input[name=step][value='2']").is_checked()
    assert page.locator("#step-result-2").input_value() == STEP_RESULT
    others = page.locator("form#checklist input[name=step]:not([value='1']):not([value='2'])")
    assert all(not others.nth(i).is_checked() for i in range(others.count()))
    watch.assert_clean()

    # -- "This solved it", clicked straight after typing a result for step 3: the result is saved first ---
    page.locator("#step-result-3").fill(LAST_RESULT)
    solved = page.locator("form#solved-form button[type=submit]")
    assert f"close case {case_id} as resolved" in solved.inner_text()
    with page.expect_navigation():
        solved.click()
    # Closed: a fresh search for the next call, the old search forgotten, a link back to the case.
    assert _path(page) == "/"
    assert page.locator("#case-panel").count() == 0  # a resolved case is no longer the current one
    assert page.input_value("#query") == "" and page.locator("#results li.result").count() == 0
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('kb-search:')).length") == 0
    with page.expect_navigation():
        page.click(f".next-call a[href='/cases/{case_id}']")
    assert _path(page) == f"/cases/{case_id}"
    status = page.locator("h1 span.status-resolved")
    assert status.inner_text().strip() == "Resolved"
    assert page.locator("dl.facts dd.customer-ref").inner_text() == CUSTOMER_REF
    kinds = page.eval_on_selector_all(
        "ol.timeline li.event",
        "items => items.map(li => Array.from(li.classList).find(c => c.startsWith('event-')).slice(6))",
    )
    for kind in ("opened", "search", "article_opened", "step_ticked", "resolved"):
        assert kind in kinds, kinds
    assert kinds[0] == "opened" and kinds[-1] == "resolved", kinds
    assert kinds.index("search") < kinds.index("article_opened") < kinds.index("step_ticked"), kinds
    step_event = page.locator("ol.timeline li.event-step_ticked").first.inner_text()
    assert "step 1" in step_event and hit["title"] in step_event, step_event
    searches = page.locator("ol.timeline li.event-search .event-text").all_inner_texts()
    assert [s.strip("“”") for s in searches] == [QUERY_WIFI, QUERY_PASSWORD], searches
    watch.assert_clean()

    # -- the database agrees --------------------------------------------------------------------------------
    engine = live.engine
    case = get_case(engine, case_id)
    assert case.status == "resolved"
    assert case.resolved_by == (article_id,)
    assert (case.channel, case.customer_ref, case.connection_type, case.problem) == (
        "phone",
        CUSTOMER_REF,
        "fibre",
        CASE_PROBLEM,
    )
    assert case.closed_at is not None and case.handle_seconds is not None
    agent = get_user(engine, case.agent_id)
    assert agent.username == USERNAME
    assert [c.id for c in list_cases(engine, agent_id=agent.id, status="resolved")] == [case_id]
    assert list_cases(engine, status="open") == []
    events = timeline(engine, case_id)
    ticked = [e for e in events if e.kind == "step_ticked"]
    assert [(e.article_id, e.lang, e.step_number, e.text) for e in ticked] == [
        (article_id, lang, 1, None),
        (article_id, lang, 2, STEP_RESULT),
        (article_id, lang, 3, LAST_RESULT),
    ]
    assert [e.text for e in events if e.kind == "search"] == [QUERY_WIFI, QUERY_PASSWORD]
    assert (article_id, lang) in {(e.article_id, e.lang) for e in events if e.kind == "article_opened"}
    assert events[-1].kind == "resolved"

    # Customer data never travelled in a URL (not in the address bar, not in any request).
    _assert_no_customer_data_in_urls(watch, [CASE_PROBLEM, QUERY_WIFI, QUERY_PASSWORD, CUSTOMER_REF])
    assert not watch.problems(), watch.problems()


def test_the_csp_detector_catches_a_violation_of_the_apps_policy(browser, serve, page):
    """The check above can fail: an inline script and an inline style on a real app page are reported."""
    live = serve(with_search=False)
    watch = Watch(page)
    response = page.goto(live.url + "/auth/login")
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, policy
    watch.assert_clean()

    page.evaluate("""() => {
      var script = document.createElement("script");
      script.textContent = "window.__inlineScriptRan = true;";
      document.body.appendChild(script);
      document.querySelector("h1").setAttribute("style", "color: red");
    }""")
    page.wait_for_function("() => window.__cspViolations.length >= 2")
    assert page.evaluate("window.__inlineScriptRan") is None, "the inline script ran: no CSP?"
    expected = {"script-src-elem", "style-src-attr"}
    assert expected <= {v["directive"] for v in page.evaluate("window.__cspViolations")}
    # The exposed function and the console messages reach the test asynchronously.
    for _ in range(50):
        if expected <= {v["directive"] for v in watch.violations} and len(watch.console_csp) >= 2:
            break
        page.wait_for_timeout(100)
    assert expected <= {v["directive"] for v in watch.violations}, watch.violations
    assert len(watch.console_csp) >= 2, f"the console listener missed Chromium's CSP messages: {watch.console_csp}"
    with pytest.raises(AssertionError, match="CSP violations"):
        watch.assert_clean()
