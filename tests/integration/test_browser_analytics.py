"""The analytics dashboard in a real Chromium: its SVG charts render under the app's strict CSP (no
script, no inline style), the numbers table opens with one click, and a figure drills down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.browser import Watch, _path

PASSWORD = "correct horse battery"


def _history(engine):
    import kb.store.engine
    from kb.caselog import cases as caselog
    from kb.identity.users import create_user

    agent = create_user(engine, "ada-agent", PASSWORD, "agent", team="helpdesk-a")
    create_user(engine, "alex", PASSWORD, "analyst")
    real = kb.store.engine.utcnow
    start = datetime.now(UTC) - timedelta(days=20)
    try:
        for n in range(12):
            kb.store.engine.utcnow = lambda n=n: start + timedelta(days=n, minutes=1)
            case = caselog.open_case(engine, agent.id, "phone", f"REF-{n}", f"problem {n}", "dsl")
            caselog.record_article_opened(engine, case.id, agent.id, "router-restart", "en")
            kb.store.engine.utcnow = lambda n=n: start + timedelta(days=n, minutes=9)
            if n % 3:
                caselog.resolve_case(engine, case.id, agent.id, ["router-restart"])
            else:
                caselog.escalate_case(engine, case.id, agent.id, "tier2", "line fault")
    finally:
        kb.store.engine.utcnow = real


def test_the_dashboard_renders_its_charts_under_the_csp(browser, serve, page):
    live = serve(with_search=False)
    _history(live.engine)
    watch = Watch(page)
    page.goto(live.url + "/auth/login")
    page.fill("#username", "alex")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/auth/login'] button[type=submit]")
    page.goto(live.url + "/analytics/?period=30")
    watch.assert_clean()
    chart = page.locator("svg#trend-rates")
    assert chart.is_visible() and chart.get_attribute("role") == "img"
    assert page.locator("svg#trend-rates polyline").count() >= 1
    assert page.locator("svg#escalation-teams rect.bar").count() == 1
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100  # sized by app.css, not inline style
    table = page.locator("section[aria-labelledby='trends-title'] details table")
    assert not table.is_visible()
    page.click("section[aria-labelledby='trends-title'] details summary")
    assert table.is_visible()
    escalated = page.locator("dl.figures a[href*='metric=escalated']")
    assert escalated.inner_text().strip().startswith("33")  # 4 of 12 escalated
    with page.expect_navigation():
        escalated.click()
    assert _path(page) == "/analytics/cases"
    assert page.locator("table tbody tr").count() == 4
    watch.assert_clean()
