"""A whole call with the keyboard only, in the real browser against the real app (no mouse at all).

Log in, type the problem, open a case from the search (Tab, Enter), fill the case form, land on the
search with the problem kept and its results, choose a result with the arrow keys and Enter, go Back
and Forward (the query and the results are kept), move through the steps with j and k, tick one
with x (the focus stays on its box; the tick is on the case), open the shortcuts with ? and close
them with Escape, escalate with e, the reason and Enter, and land on a fresh search. A second call
is resolved with r and Enter. Every outcome is checked in the database, and no customer data
appears in any URL. Skipped without Chromium, unless KB_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.integration.browser import (
    PASSWORD,
    USERNAME,
    Watch,
    WeakFor,
    _assert_no_customer_data_in_urls,
    _focused,
    _keyboard_type_query,
    _path,
    _shown_results,
    _tab_to,
    _wait_for_focus,
)

FIRST = {"problem": "internet light is red", "ref": "CUST-KEYS-0001", "reason": "Line test shows a cabinet fault"}
SECOND = {"problem": "forgot my email password", "ref": "CUST-KEYS-0002"}

# Any pointer press in any page of the test: there must be none.
POINTER_LISTENER = """
document.addEventListener("pointerdown", function (event) { window.__kbPointer(event.type); }, true);
document.addEventListener("mousedown", function (event) { window.__kbPointer(event.type); }, true);
"""


def _log_in_with_keys(page, watch: Watch, live) -> None:
    page.goto(live.url + "/")
    assert _path(page) == "/auth/login"
    _wait_for_focus(page, "input#username")
    page.keyboard.type(USERNAME)
    page.keyboard.press("Tab")
    assert _focused(page).startswith("input#password"), _focused(page)
    page.keyboard.type(PASSWORD)
    with page.expect_navigation(url=live.url + "/"):
        page.keyboard.press("Enter")
    watch.assert_clean()


def _open_case_with_keys(page, watch: Watch, live, call: dict) -> int:
    """From the search page with the problem typed: open a case for it; its id, once landed on the search."""
    _tab_to(page, "#case-prefill button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert _path(page) == "/cases/prefill"
    assert page.input_value("#problem") == call["problem"]
    _wait_for_focus(page, "input#customer_ref")  # the only field left to fill
    page.keyboard.type(call["ref"])
    if "connection" in call:
        page.keyboard.press("Tab")
        assert _focused(page).startswith("select#connection_type"), _focused(page)
        page.keyboard.type(call["connection"])  # type-ahead on the closed list picks the option
        _tab_to(page, "#open-case button[type=submit]")
    with page.expect_navigation(url=live.url + "/"):
        page.keyboard.press("Enter")
    # Landed on the search, ready to type: the problem is in the box with its results, nothing to retype.
    page.locator("#case-panel").wait_for()
    _wait_for_focus(page, "textarea#query")
    assert page.input_value("#query") == call["problem"]
    assert _shown_results(page), "no results shown on landing"
    watch.assert_clean()
    href = page.get_attribute("#case-panel .case-panel-links a", "href")
    return int(re.fullmatch(r"/cases/(\d+)", href).group(1))


def _open_first_result_with_keys(page) -> str:
    """ArrowDown, Enter: the first result opens; its article id."""
    page.keyboard.press("ArrowDown")
    # The first result is chosen: pointed at from the box (aria-activedescendant) or given the focus itself.
    chosen = page.evaluate("""() => { var box = document.getElementById("query"), focus = document.activeElement;
        var item = box.getAttribute("aria-activedescendant") === "result-0" ? document.getElementById("result-0") :
          focus && focus.closest && focus.closest("#result-0");
        return item ? item.querySelector("a.result-title").getAttribute("href") : null; }""")
    assert chosen, f"ArrowDown chose no result (focus at {_focused(page)})"
    href = chosen
    with page.expect_navigation():
        page.keyboard.press("Enter")
    article_id = urlsplit(href).path.rsplit("/", 1)[-1]
    assert _path(page) == f"/articles/{article_id}"
    return article_id


def _step_box(page) -> int | None:
    match = re.fullmatch(r"input#step-check-(\d+)", _focused(page))
    return int(match.group(1)) if match else None


@pytest.mark.integration  # the real model searches the shipped articles
def test_a_whole_call_with_the_keyboard_only(browser, serve, page):
    from kb.caselog.cases import get_case, list_cases, ticked_steps

    live = serve(with_search=True)
    watch = Watch(page)
    pointer: list[str] = []
    page.expose_function("__kbPointer", lambda kind: pointer.append(kind))
    page.add_init_script(POINTER_LISTENER)
    _log_in_with_keys(page, watch, live)

    # -- first call: search, open a case from the search ----------------------------------------------
    _wait_for_focus(page, "textarea#query")
    _keyboard_type_query(page, live, FIRST["problem"])
    case_id = _open_case_with_keys(page, watch, live, {**FIRST, "connection": "Fibre"})
    case = get_case(live.engine, case_id)
    assert (case.status, case.channel, case.customer_ref, case.problem, case.connection_type) == (
        "open",
        "phone",
        FIRST["ref"],
        FIRST["problem"],
        "fibre",
    )
    landed = _shown_results(page)

    # -- choose a result with the arrow keys, open it with Enter ----------------------------------------
    article_id = _open_first_result_with_keys(page)
    page.locator("#solved-form").wait_for()

    # -- Back keeps the query and its results (history state), Forward returns to the article -----------
    page.go_back()
    assert _path(page) == "/"
    page.wait_for_function("q => document.getElementById('query').value === q", arg=FIRST["problem"])
    assert _shown_results(page) == landed
    page.go_forward()
    assert _path(page) == f"/articles/{article_id}"
    page.locator("form#checklist[data-api]").wait_for()
    watch.assert_clean()

    # -- j / k move through the steps, x ticks the one with the focus: saved on the case ----------------
    page.keyboard.press("j")
    first_step = _step_box(page)
    assert first_step is not None, f"j did not move to a step: {_focused(page)}"
    page.keyboard.press("j")
    assert _step_box(page) == first_step + 1, _focused(page)
    page.keyboard.press("k")
    assert _step_box(page) == first_step, _focused(page)
    with page.expect_response(lambda r: r.url == f"{live.url}/api/cases/{case_id}/steps") as answer:
        page.keyboard.press("x")
    assert answer.value.ok and answer.value.json()["ticked"] == [first_step], answer.value.text()
    assert _step_box(page) == first_step, f"the focus left the ticked box: {_focused(page)}"
    assert page.is_checked(f"#step-check-{first_step}")
    lang = page.get_attribute("form#checklist", "data-lang")
    assert ticked_steps(live.engine, case_id) == {(article_id, lang): {first_step}}

    # -- ? shows the shortcuts, Escape closes them and gives the focus back -----------------------------
    page.keyboard.press("?")
    page.wait_for_function("document.getElementById('keys-help').open")
    page.keyboard.press("Escape")
    page.wait_for_function("!document.getElementById('keys-help').open")
    assert _step_box(page) == first_step, f"the focus did not come back from the help: {_focused(page)}"

    # -- e: the reason field, the team filled in; type the reason, Enter: a fresh search for the next call --
    page.keyboard.press("e")
    assert _focused(page).startswith("input#escalate-here-reason"), _focused(page)
    team = page.input_value("#escalate-here-team")
    assert team, "no team preselected"
    page.keyboard.type(FIRST["reason"])
    assert page.input_value("#escalate-here-reason") == FIRST["reason"]  # the "e" itself was not typed
    with page.expect_navigation(url=live.url + "/"):
        page.keyboard.press("Enter")
    assert page.locator(".next-call").is_visible()
    _wait_for_focus(page, "textarea#query")
    assert page.input_value("#query") == ""
    assert page.locator("#case-panel").count() == 0 and _shown_results(page) == []
    case = get_case(live.engine, case_id)
    assert (case.status, case.escalation_team, case.escalation_reason) == ("escalated", team, FIRST["reason"])
    watch.assert_clean()

    # -- second call: resolved with r, Enter --------------------------------------------------------------
    _keyboard_type_query(page, live, SECOND["problem"])
    second_id = _open_case_with_keys(page, watch, live, SECOND)
    assert second_id != case_id
    solved_id = _open_first_result_with_keys(page)
    page.keyboard.press("r")
    assert _focused(page).startswith("button"), _focused(page)
    assert page.evaluate("document.activeElement.closest('form').id") == "solved-form"
    with page.expect_navigation(url=live.url + "/"):
        page.keyboard.press("Enter")
    assert page.locator(".next-call").is_visible()
    _wait_for_focus(page, "textarea#query")
    assert page.input_value("#query") == ""
    second = get_case(live.engine, second_id)
    assert (second.status, second.resolved_by, second.channel, second.customer_ref) == (
        "resolved",
        (solved_id,),
        "phone",
        SECOND["ref"],
    )
    assert list_cases(live.engine, status="open") == []
    watch.assert_clean()

    assert pointer == [], f"the mouse was used: {pointer}"
    texts = [FIRST["problem"], FIRST["ref"], FIRST["reason"], SECOND["problem"], SECOND["ref"]]
    _assert_no_customer_data_in_urls(watch, texts)


NO_MATCH = "customer wants to order a pizza with extra cheese"  # flagged weak below, whatever the model says


@pytest.mark.integration
def test_e_escalates_from_no_good_match_with_its_own_form(browser, serve, page, searcher):
    """With "No good match" showing, e goes to that section's reason field (the team the search routes
    to is chosen there); Enter escalates the case and lands on a fresh search."""
    from kb.caselog.cases import get_case

    live = serve(with_search=True)
    live.app.extensions["kb"].use_searcher(WeakFor(searcher, NO_MATCH))
    watch = Watch(page)
    _log_in_with_keys(page, watch, live)
    _keyboard_type_query(page, live, SECOND["problem"])
    case_id = _open_case_with_keys(page, watch, live, SECOND)
    page.keyboard.press("Control+a")  # the problem is selected: typing replaces it
    _keyboard_type_query(page, live, NO_MATCH)
    page.locator("#weak").wait_for(state="visible")
    page.keyboard.press("Tab")  # out of the box: there a letter is text, elsewhere a shortcut
    assert not _focused(page).startswith("textarea#query"), _focused(page)
    page.keyboard.press("e")
    assert _focused(page) == "input#weak-reason", _focused(page)
    team = page.input_value("#weak-team")
    page.keyboard.type("Customer question we have no article for")
    with page.expect_navigation(url=live.url + "/"):
        page.keyboard.press("Enter")
    assert page.locator(".next-call").is_visible()
    case = get_case(live.engine, case_id)
    assert (case.status, case.escalation_team) == ("escalated", team)
    watch.assert_clean()
    _assert_no_customer_data_in_urls(watch, [SECOND["problem"], SECOND["ref"], NO_MATCH])


PASTED = (
    "Hello,\n\nSince this morning the internet light on my modem is red and nothing in the house works.\n\n"
    "Kind regards,\nJ. Jansen\n\n"
    "On 3 Nov 2026 support wrote:\n> Did you forget your e-mail password? Reset your e-mail password here.\n"
)


@pytest.mark.integration
def test_a_pasted_e_mail_keeps_its_line_breaks_and_enter_searches(browser, serve, page):
    """The box is a textarea: a pasted message keeps its lines (the quoted reply below them is told
    apart by them), it grows with the text, Shift+Enter adds a line, Enter searches, and ↓ on the last
    line goes to the results."""
    live = serve(with_search=True)
    watch = Watch(page)
    _log_in_with_keys(page, watch, live)
    _wait_for_focus(page, "textarea#query")
    one_line = page.eval_on_selector("#query", "box => box.offsetHeight")
    page.keyboard.insert_text(PASTED)  # what a paste does: the text at once, one input event
    page.keyboard.press("Shift+Enter")  # a new line, not a search
    page.keyboard.type("Thanks")
    assert page.input_value("#query") == PASTED + "\nThanks"
    assert page.eval_on_selector("#query", "box => box.offsetHeight") > 2 * one_line  # it grew with the text

    def sent_whole(response) -> bool:
        body = response.request.post_data_json or {} if response.url == live.url + "/api/search" else {}
        return body.get("query") == PASTED + "\nThanks"

    with page.expect_response(sent_whole) as answer:
        page.keyboard.press("Enter")
    data = answer.value.json()
    assert data["hits"][0]["id"] in {"no-internet-all-devices", "modem-status-lights", "fiber-los-red-light"}, data[
        "hits"
    ][0]
    assert all("password" not in hit["id"] for hit in data["hits"][:2])  # the quoted reply does not steer it
    page.locator("#results li.result").first.wait_for()
    assert page.input_value("#query").endswith("Thanks")  # searching kept every line
    page.keyboard.press("ArrowDown")  # the caret is on the last line: ↓ goes to the first result
    assert page.evaluate("document.activeElement.classList.contains('result-title')")
    watch.assert_clean()
    _assert_no_customer_data_in_urls(watch, ["Jansen", "internet light on my modem"])
