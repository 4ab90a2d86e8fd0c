"""Browser fixtures and helpers: Debian's Chromium, headless, driven by Playwright, against the real
app on a loopback HTTP server (fixtures `browser`, `serve`, `page`, registered in conftest.py).

Without Chromium or Playwright the browser tests are skipped, unless KB_REQUIRE_BROWSER=1 (CI sets
it): then they fail, so they can never be silently skipped there.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium tries to reach Google services; the test machine has no network.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
TYPING_DELAY_MS = 60

USERNAME, PASSWORD, DISPLAY_NAME = "anna", "correct horse battery", "Anna Agent"
CUSTOMER_REF = "CUST-4711-BROWSER"
CASE_PROBLEM = "internet light is red"
QUERY_WIFI = "wifi signal weak upstairs"
QUERY_PASSWORD = "forgot my email password"
STEP_RESULT = "Customer sees the mailbox list"
LAST_RESULT = "New password works in the mail app"

# Runs in every document before the page's own scripts: records CSP violations on the page
# (window.__cspViolations, checked on each page) and reports them to the test at once
# (window.__kbReportCsp, exposed below), so one just before a navigation is not lost either.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  var violation = {
    directive: event.effectiveDirective || event.violatedDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
    page: document.location.pathname
  };
  window.__cspViolations.push(violation);
  if (typeof window.__kbReportCsp === "function") { window.__kbReportCsp(violation); }
}, true);
"""


def _unavailable(reason: str):
    if os.environ.get("KB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"KB_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless; skipped (or failed under KB_REQUIRE_BROWSER=1) if unavailable."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"the playwright package cannot be imported: {exc}")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
    except Exception as exc:  # noqa: BLE001 - any launch failure means "no usable browser"
        playwright.stop()
        _unavailable(f"Chromium could not be started by Playwright: {exc}")
    yield chromium
    chromium.close()
    playwright.stop()


class LiveApp:
    def __init__(self, app, server, thread):
        self.app, self.server, self.thread = app, server, thread
        self.url = f"http://127.0.0.1:{server.server_port}"

    @property
    def engine(self):
        return self.app.extensions["kb"].engine


@pytest.fixture
def serve(request, tmp_path, monkeypatch):
    """`serve(with_search=True)`: the app with real settings on a loopback HTTP server, one agent in it.

    The searcher (and so the shared index build) is only requested when the test searches.
    """
    from werkzeug.serving import make_server

    from kb.identity.users import create_user
    from kb.store.engine import upgrade
    from webapp import create_app

    monkeypatch.setenv("KB_INSTANCE", str(tmp_path / "instance"))
    for name in ("KB_SECRET_KEY", "KB_DATABASE_URL", "KB_HTTPS", "KB_WEBHOOK_URL", "KB_ESCALATION_TEAMS"):
        monkeypatch.delenv(name, raising=False)
    running: list[LiveApp] = []

    def start(with_search: bool = True) -> LiveApp:
        index = request.getfixturevalue("shipped_index") if with_search else tmp_path / "no-index"
        app = create_app(
            {
                "SECRET_KEY": "browser-test-secret",
                "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.store.engine'}",
                "KB_INDEX": str(index),
                "KB_ARTICLES": str(ROOT / "articles"),
            }
        )
        assert not app.testing and app.config.get("WTF_CSRF_ENABLED", True), "must run with real settings"
        engine = app.extensions["kb"].engine
        upgrade(engine)
        if with_search:
            app.extensions["kb"].use_searcher(request.getfixturevalue("searcher"))
        create_user(engine, USERNAME, PASSWORD, "agent", display_name=DISPLAY_NAME)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
        thread.start()
        live = LiveApp(app, server, thread)
        running.append(live)
        return live

    yield start
    for live in running:
        live.server.shutdown()
        live.thread.join(timeout=10)
        live.server.server_close()
        live.engine.dispose()


class Watch:
    """Everything the browser reports that must not happen: CSP violations, JS errors; plus all URLs."""

    def __init__(self, page):
        self.page = page
        self.violations: list[dict] = []
        self.console_csp: list[str] = []
        self.page_errors: list[str] = []
        self.requests: list[str] = []
        self.navigations: list[str] = []
        page.expose_function("__kbReportCsp", self._violation)
        page.add_init_script(CSP_LISTENER)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.on("request", lambda req: self.requests.append(req.url))
        page.on("framenavigated", lambda frame: frame == page.main_frame and self.navigations.append(frame.url))

    def _violation(self, violation: dict) -> None:
        self.violations.append(violation)

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.console_csp.append(f"{self.page.url}: {text}")

    def problems(self) -> dict[str, list]:
        return {
            name: value
            for name, value in (
                ("CSP violations", self.violations),
                ("CSP console messages", self.console_csp),
                ("JavaScript errors", self.page_errors),
            )
            if value
        }

    def assert_clean(self) -> None:
        """No CSP violation or JS error so far, and none recorded by the page now showing."""
        self.page.wait_for_load_state("load")
        on_page = self.page.evaluate("window.__cspViolations")
        assert on_page == [], f"CSP violations on {self.page.url}: {on_page}"
        assert not self.problems(), self.problems()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def _path(page) -> str:
    return urlsplit(page.url).path


def _log_in(page, watch: Watch, live: LiveApp) -> None:
    page.goto(live.url + "/")
    assert _path(page) == "/auth/login"  # signed out: sent to log in
    watch.assert_clean()
    page.fill("#username", USERNAME)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/auth/login'] button[type=submit]")
    assert _path(page) == "/", page.content()[:2000]
    assert page.locator("#query").is_visible()
    watch.assert_clean()


def _type_query(page, live: LiveApp, query: str) -> dict:
    """Type `query` into the search box key by key; wait until the list shows its results; return them."""
    box = page.locator("#query")

    def is_final_search(response) -> bool:
        request = response.request
        if response.url != live.url + "/api/search" or request.method != "POST":
            return False
        try:
            return (request.post_data_json or {}).get("query") == query
        except ValueError:
            return False

    with page.expect_response(is_final_search) as answer:
        box.press_sequentially(query, delay=TYPING_DELAY_MS)
    response = answer.value
    assert response.ok, (response.status, response.text())
    data = response.json()
    titles = [hit["title"] for hit in data["hits"]]
    assert titles, f"no results for {query!r}"
    page.wait_for_function(
        """titles => JSON.stringify(Array.from(document.querySelectorAll("#results li.result a.result-title"),
                                                  a => a.textContent)) === JSON.stringify(titles)""",
        arg=titles,
    )
    return data


def _shown_results(page) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        "#results li.result a.result-title", "links => links.map(a => [a.textContent, a.getAttribute('href')])"
    )


def _assert_no_customer_data_in_urls(watch: Watch, texts) -> None:
    for url in [watch.page.url, *watch.requests, *watch.navigations]:
        for text in texts:
            for form in {text, quote(text), quote_plus(text), quote(text, safe="")}:
                assert form.casefold() not in url.casefold(), f"{text!r} appears in the URL {url}"


def _keyboard_type_query(page, live: LiveApp, query: str) -> dict:
    """Type `query` with the keyboard into the search box, which must have the focus already (no click,
    no programmatic focus); wait until the list shows the results of the whole text; return them."""
    assert page.evaluate("document.activeElement && document.activeElement.id") == "query", "the box has no focus"

    def is_final_search(response) -> bool:
        request = response.request
        if response.url != live.url + "/api/search" or request.method != "POST":
            return False
        try:
            return (request.post_data_json or {}).get("query") == query
        except ValueError:
            return False

    with page.expect_response(is_final_search) as answer:
        page.keyboard.type(query, delay=TYPING_DELAY_MS)
    data = answer.value.json()
    titles = [hit["title"] for hit in data["hits"]]
    assert titles, f"no results for {query!r}"
    page.wait_for_function(
        """titles => JSON.stringify(Array.from(document.querySelectorAll("#results li.result a.result-title"),
                                                  a => a.textContent)) === JSON.stringify(titles)""",
        arg=titles,
    )
    return data


def _focused(page) -> str:
    """The element with the keyboard focus, as `tag#id.class`, to compare and to show in a message."""
    return page.evaluate(
        """() => { var e = document.activeElement; if (!e) { return ""; }
             return e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
               (typeof e.className === "string" && e.className ? "." + e.className.split(/\\s+/).join(".") : ""); }"""
    )


def _tab_to(page, selector: str, limit: int = 30) -> int:
    """Press Tab until the element matching `selector` has the focus; the number of presses."""
    for count in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return count
    raise AssertionError(f"{selector} not reached with {limit} Tab presses on {page.url} (at {_focused(page)})")


class WeakFor:
    """The real searcher, with one query's result flagged weak: the "no good match" state as the page
    shows it, whatever the confidence calibration of the day says about that query."""

    def __init__(self, searcher, query: str):
        self._searcher, self._query = searcher, query

    def search(self, query: str, **options):
        result = self._searcher.search(query, **options)
        return dataclasses.replace(result, weak=True) if query.strip() == self._query else result

    def __getattr__(self, name):
        return getattr(self._searcher, name)


def _wait_for_focus(page, selector: str, timeout_ms: int = 5000) -> None:
    """Wait until the element matching `selector` has the keyboard focus (autofocus is applied at the
    next rendering update, which can come after the load event)."""
    try:
        page.wait_for_function(
            "s => !!document.activeElement && document.activeElement.matches(s)", arg=selector, timeout=timeout_ms
        )
    except Exception as exc:  # noqa: BLE001 - Playwright's timeout: say where the focus is instead
        raise AssertionError(f"{selector} did not get the focus on {page.url} (at {_focused(page)})") from exc
