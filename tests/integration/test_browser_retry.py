"""The pages' scripts when the server or the network is away for a moment, in a real Chromium.

A note whose answer never reached the browser (the server committed it, the connection dropped)
is sent again with the same request id and stored once; ticks answered with 503 stay ticked on
the page, are sent again and land on the case. The faults are made by Playwright between the
browser and the real app.
"""

from __future__ import annotations

import re

import pytest

from tests.integration.browser import USERNAME, Watch, _log_in, _path

NOTE = "Customer restarted the modem twice; light now green"


def _agent(live):
    from kb.identity.users import list_users

    return next(u for u in list_users(live.engine) if u.username == USERNAME)


def test_a_note_whose_answer_was_lost_is_sent_again_and_stored_once(browser, serve, page):
    from kb.caselog.cases import open_case, timeline

    live = serve(with_search=False)
    watch = Watch(page)
    _log_in(page, watch, live)
    case = open_case(live.engine, _agent(live).id, "phone", "K-RETRY-1", "no internet", "dsl")
    page.goto(f"{live.url}/cases/{case.id}")
    watch.assert_clean()

    sent = []

    def lose_the_first_answer(route):
        sent.append(route.request.post_data or "")
        if len(sent) == 1:
            route.fetch()  # the server gets the note and commits it ...
            route.abort("connectionreset")  # ... but its answer never reaches the browser
        else:
            route.continue_()

    page.route(re.compile(r".*/cases/\d+/notes$"), lose_the_first_answer)
    page.fill("#note-text", NOTE)
    with page.expect_navigation(url=re.compile(rf"/cases/{case.id}$")):
        page.click("#note-form button[type=submit]")
    assert len(sent) == 2
    ids = {re.search(r'name="request_id"\r\n\r\n([^\r]+)', body).group(1) for body in sent}
    assert len(ids) == 1, "the retry must carry the first try's request id"
    assert [e.text for e in timeline(live.engine, case.id) if e.kind == "note"] == [NOTE]
    assert page.locator("#timeline").inner_text().count(NOTE) == 1
    assert _path(page) == f"/cases/{case.id}"


def test_the_note_stays_in_the_form_while_the_server_cannot_write(browser, serve, page):
    from kb.caselog.cases import open_case, timeline

    live = serve(with_search=False)
    watch = Watch(page)
    _log_in(page, watch, live)
    case = open_case(live.engine, _agent(live).id, "chat", "K-RETRY-2", "wifi drops", "cable")
    page.goto(f"{live.url}/cases/{case.id}")
    state = {"down": True, "tries": 0}

    def disk_full(route):
        state["tries"] += 1
        if state["down"]:
            route.fulfill(status=503, content_type="text/html", body="<p>Could not save</p>")
        else:
            route.continue_()

    page.route(re.compile(r".*/cases/\d+/notes$"), disk_full)
    page.fill("#note-text", NOTE)
    page.click("#note-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#note-form .retry-status').textContent.includes('kept')")
    assert page.input_value("#note-text") == NOTE
    assert _path(page) == f"/cases/{case.id}" and state["tries"] >= 1
    state["down"] = False
    with page.expect_navigation(url=re.compile(rf"/cases/{case.id}$"), timeout=20_000):
        pass
    assert [e.text for e in timeline(live.engine, case.id) if e.kind == "note"] == [NOTE]
    watch.assert_clean()


@pytest.mark.integration  # the article page needs the published index of the shipped articles (real model)
def test_ticks_answered_503_stay_ticked_and_are_sent_again(browser, serve, page):
    from kb.caselog.cases import open_case, step_results

    live = serve(with_search=True)
    watch = Watch(page)
    _log_in(page, watch, live)
    agent = _agent(live)
    case = open_case(live.engine, agent.id, "phone", "K-RETRY-3", "no sync", "dsl")
    page.goto(f"{live.url}/cases/{case.id}")
    with page.expect_navigation():
        page.click(f"form[action='/cases/{case.id}/current'] button")
    page.goto(f"{live.url}/articles/dsl-no-sync?lang=en")
    watch.assert_clean()
    answers = {"refused": 0}

    def away_twice(route):
        if answers["refused"] < 2:
            answers["refused"] += 1
            route.fulfill(status=503, content_type="application/json", body='{"error": "Could not save."}')
        else:
            route.continue_()

    page.route(re.compile(r".*/api/cases/\d+/steps$"), away_twice)
    page.check("#step-check-1")
    page.wait_for_function("() => document.querySelector('.checklist-status').textContent.includes('Not saved yet')")
    assert page.is_checked("#step-check-1"), "a tick the server could not save yet must stay ticked"
    page.check("#step-check-2")  # ticked while the first is still queued
    page.wait_for_function("() => document.querySelector('.checklist-status').textContent === ''", timeout=20_000)
    assert answers["refused"] == 2
    assert sorted(step_results(live.engine, case.id)[("dsl-no-sync", "en")]) == [1, 2]
    assert page.is_checked("#step-check-1") and page.is_checked("#step-check-2")
    watch.assert_clean()
