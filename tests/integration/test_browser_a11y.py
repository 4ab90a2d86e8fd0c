"""WCAG 2.2 AA on the agent's pages, checked with axe-core in the real browser, in Dutch and English.

axe-core comes from the npm registry at test time (scripts/axe-deps.sh; .ci/run calls it), never
from the repository: the test takes $KB_AXE_JS, or the script's default install path. Without it
the test is skipped, unless KB_REQUIRE_BROWSER=1 (CI), where it fails, like the other browser tests.

On the search page with results, the open-case form, the search page with a case open, the "no good
match" state, the article page with a case open and a matched step (also with every section
unfolded, and with the shortcuts dialog open) and the case page (also unfolded): no axe violation
of impact serious or critical (the others are printed), a focus ring on every focusable element
that stands out 3:1 from what is behind it (WCAG 2.2 non-text contrast), and every result's
relevance in words, not only as the meter's colour.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.integration.browser import (
    CUSTOMER_REF,
    USERNAME,
    Watch,
    WeakFor,
    _log_in,
    _path,
    _type_query,
    _unavailable,
)

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}
QUERIES = {"nl": "internet lampje is rood", "en": "internet light is red"}
NO_MATCH = "klant wil een pizza bestellen met extra kaas"  # no article is about this


def axe_path() -> Path:
    """axe.min.js: $KB_AXE_JS, or where scripts/axe-deps.sh installs it."""
    if os.environ.get("KB_AXE_JS"):
        return Path(os.environ["KB_AXE_JS"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "firstline-kb" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")  # session scope, and first in the test's arguments: it skips before the index build
def axe_source() -> str:
    path = axe_path()
    if not path.is_file():
        _unavailable(f"axe-core is not installed at {path}: run `bash scripts/axe-deps.sh` (or set KB_AXE_JS)")
    return path.read_text(encoding="utf-8")


def run_axe(page, source: str) -> dict:
    """axe-core's verdict on the page as it is now.

    The app's Content-Security-Policy (script-src 'self') blocks a script tag added by the test
    (page.add_script_tag inlines the file). page.evaluate goes through the DevTools protocol, which
    the page's CSP does not govern, so axe runs with the real policy in force and the test still
    sees any violation the page itself causes (no bypass_csp on the context).
    """
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(source)
    return page.evaluate(
        """tags => axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})
             .then(r => ({violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary}))})),
               incomplete: r.incomplete.map(v => v.id)}))""",
        AXE_TAGS,
    )


# Every focusable, visible element in turn: focused as the keyboard would (Chromium shows
# :focus-visible for a focus() without a mouse click before it), its outline colour against the
# first opaque background behind the ring (the outline sits outside the element: its parent's).
FOCUS_RINGS = """() => {
  function rgba(text) {
    var m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) { return null; }
    var p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  }
  function luminance(c) {
    function ch(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  }
  function behind(element) {
    for (var node = element.parentElement; node; node = node.parentElement) {
      var c = rgba(getComputedStyle(node).backgroundColor);
      if (c && c.a > 0) { return c; }
    }
    return {r: 255, g: 255, b: 255, a: 1};
  }
  var selector = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, ' +
    '[tabindex]:not([tabindex="-1"])';
  var rings = [];
  var before = document.activeElement;
  document.querySelectorAll(selector).forEach(function (element) {
    var shown = element.getClientRects().length && getComputedStyle(element).visibility !== "hidden";
    if (element.disabled || !shown) { return; }
    element.focus({preventScroll: true});
    if (document.activeElement !== element) { return; }
    var style = getComputedStyle(element);
    var ring = rgba(style.outlineColor);
    var back = behind(element);
    var l1 = luminance(ring), l2 = luminance(back);
    rings.push({
      element: element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") +
        (typeof element.className === "string" && element.className.trim() ?
          "." + element.className.trim().split(/\\s+/).join(".") : ""),
      visible: element.matches(":focus-visible"),
      style: style.outlineStyle,
      width: parseFloat(style.outlineWidth),
      ratio: Math.round((Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05) * 100) / 100,
      colour: style.outlineColor,
      background: "rgb(" + back.r + ", " + back.g + ", " + back.b + ")"
    });
  });
  if (before && before.focus) { before.focus({preventScroll: true}); }
  return rings;
}"""


def focus_ring_problems(page) -> list[dict]:
    """The focusable elements whose focus ring is missing, thinner than 2 px or under 3:1."""
    rings = page.evaluate(FOCUS_RINGS)
    assert rings, f"no focusable element found on {page.url}"
    return [r for r in rings if not r["visible"] or r["style"] == "none" or r["width"] < 2 or r["ratio"] < 3]


# Each result says how relevant it is in words, not only with the meter's colour and length.
RELEVANCE_TEXT = """() => Array.from(document.querySelectorAll("#results li.result"))
  .filter(item => item.getClientRects().length)
  .filter(item => { var label = item.querySelector(".result-relevance");
                    return !label || label.hidden || !label.innerText.trim(); })
  .map(item => "#" + item.id)"""


def check_page(page, source: str, label: str, report: list[str]) -> list[str]:
    """axe, the focus rings and the relevance text on the page now: the blocking findings as lines
    (the findings that do not block go to `report`)."""
    result = run_axe(page, source)
    findings = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]]) for v in result["violations"]]
    missing = page.evaluate(RELEVANCE_TEXT)
    if missing:
        findings.append(("relevance-in-text", "serious", "Relevance is shown in text as well as colour", missing))
    blocking = []
    for rule, impact, help_text, targets in findings:
        line = f"{label}: [{impact}] {rule}: {help_text} ({'; '.join(targets[:5])})"
        (blocking if impact in BLOCKING else report).append(line)
    if result["incomplete"]:
        report.append(f"{label}: to review by hand (axe 'incomplete'): {', '.join(sorted(set(result['incomplete'])))}")
    for ring in focus_ring_problems(page):
        blocking.append(
            f"{label}: focus ring of {ring['element']}: {ring['style']} {ring['width']}px {ring['colour']} "
            f"on {ring['background']} = {ring['ratio']}:1 (focus-visible: {ring['visible']}; needs >= 3:1)"
        )
    return blocking


def unfold(page) -> None:
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")


@pytest.mark.integration  # the real model searches the shipped articles
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_agents_pages_meet_wcag_22_aa(axe_source, browser, serve, page, searcher, lang):
    from kb.identity.users import get_user, list_users, set_language

    live = serve(with_search=True)
    live.app.extensions["kb"].use_searcher(WeakFor(searcher, NO_MATCH))
    agent = next(u for u in list_users(live.engine) if u.username == USERNAME)
    set_language(live.engine, agent.id, lang)
    assert get_user(live.engine, agent.id).language == lang
    watch = Watch(page)
    _log_in(page, watch, live)
    assert page.get_attribute("html", "lang") == lang
    blocking: list[str] = []
    report: list[str] = []

    def check(label: str) -> None:
        blocking.extend(check_page(page, axe_source, label, report))

    _type_query(page, live, QUERIES[lang])
    check("search page with results")

    with page.expect_navigation():
        page.click("#case-prefill button[type=submit]")
    assert _path(page) == "/cases/prefill"
    check("open-case form")
    page.fill("#customer_ref", CUSTOMER_REF)
    with page.expect_navigation(url=live.url + "/"):
        page.click("#open-case button[type=submit]")
    page.locator("#case-panel").wait_for()
    page.locator("#results li.result").first.wait_for()
    check("search page with a case open")
    case_id = int(re.search(r"/cases/(\d+)", page.get_attribute("#case-panel .case-panel-links a", "href")).group(1))

    page.fill("#query", "")
    _type_query(page, live, NO_MATCH)
    page.locator("#weak").wait_for(state="visible")
    check("no good match, case open")

    page.fill("#query", "")
    _type_query(page, live, QUERIES[lang])
    with page.expect_navigation():
        page.locator("#results li.result a.result-title[href*='match=']").first.click()
    assert _path(page).startswith("/articles/")
    page.locator(".steps .step.matched").wait_for()
    page.locator("#solved-form").wait_for()
    check("article page, case open, step matched")
    unfold(page)
    check("article page, every section unfolded")
    page.keyboard.press("?")
    page.wait_for_function("document.getElementById('keys-help').open")
    check("keyboard help")
    page.keyboard.press("Escape")

    page.goto(f"{live.url}/cases/{case_id}")
    check("case page")
    unfold(page)
    check("case page, every section unfolded")

    print(f"\naxe-core ({lang}), not blocking:\n  " + "\n  ".join(report or ["none"]))
    assert not blocking, f"{len(blocking)} accessibility problems ({lang}):\n" + "\n".join(blocking)
    watch.assert_clean()  # axe ran under the app's CSP and caused no violation
