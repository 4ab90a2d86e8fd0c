"""An editor changes a step in the browser and publishes; an agent's search then shows the new text.

Real Chromium, the real app with production settings (CSRF on, the CSP header), the shipped
articles imported into the database, the real model, and this server's own copy of the index,
which the publish rebuilds incrementally (kb.editorial.sync).
"""

from __future__ import annotations

import re
import shutil
import threading

import pytest

from tests.conftest import ROOT
from tests.integration.browser import LiveApp, Watch, _path, _type_query

PASSWORD = "correct horse battery"
NEW_STEP = "Unplug the modem for thirty seconds and count the blue lights"


@pytest.fixture
def editorial_server(tmp_path, monkeypatch, shipped_index, embedder):
    from werkzeug.serving import make_server

    from kb.editorial.documents import import_folder
    from kb.identity.users import create_user
    from kb.search.searcher import Searcher
    from kb.store.engine import upgrade
    from webapp import create_app

    monkeypatch.setenv("KB_INSTANCE", str(tmp_path / "instance"))
    for name in ("KB_SECRET_KEY", "KB_DATABASE_URL", "KB_HTTPS", "KB_REVIEW_REQUIRED"):
        monkeypatch.delenv(name, raising=False)
    index = tmp_path / "index"
    shutil.copytree(shipped_index, index, symlinks=True)  # this server's own index, from the same build
    app = create_app(
        {
            "SECRET_KEY": "browser-editor-secret",
            "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.db'}",
            "KB_INDEX": str(index),
            "KB_ARTICLES": str(ROOT / "articles"),
        }
    )
    engine = app.extensions["kb"].engine
    upgrade(engine)
    import_folder(engine, ROOT / "articles")
    app.extensions["kb"].use_searcher(Searcher(index, embedder))
    app.extensions["kb_index_sync"].start()
    create_user(engine, "erik", PASSWORD, "editor", display_name="Erik Editor")
    create_user(engine, "anna", PASSWORD, "agent", display_name="Anna Agent")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live = LiveApp(app, server, thread)
    yield live
    app.extensions["kb_index_sync"].stop()
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    engine.dispose()


def _log_in(page, live, username):
    page.goto(live.url + "/auth/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/auth/login'] button[type=submit]")


@pytest.mark.integration
def test_an_editor_changes_a_step_and_an_agent_finds_the_new_text(browser, editorial_server):
    live = editorial_server
    editor_context = browser.new_context(locale="en-US")
    page = editor_context.new_page()
    watch = Watch(page)
    _log_in(page, live, "erik")
    page.goto(live.url + "/editor/articles/router-restart/en")
    watch.assert_clean()
    source = page.input_value("#article-text")
    first_step = re.search(r"^1\. (.+)$", source, re.M)
    assert first_step, source[:500]
    edited = source.replace(first_step.group(1), NEW_STEP, 1)
    page.fill("#article-text", edited)
    # The live preview follows the typing (editor.js), through the sanitising renderer.
    page.wait_for_function("(text) => document.querySelector('#preview').textContent.includes(text)", arg=NEW_STEP)
    page.fill("#summary", "Step 1: count the lights")
    with page.expect_navigation():
        page.click("#editor-form button[type=submit]")
    assert "Draft saved." in page.content()
    with page.expect_navigation():
        page.click("form[action$='/publish'] button[type=submit]")
    flash = page.locator(".flash").first.inner_text()
    assert re.search(r"searchable on this server since \d\d:\d\d:\d\d", flash), flash
    watch.assert_clean()
    editor_context.close()

    agent_context = browser.new_context(locale="en-US")
    agent = agent_context.new_page()
    agent_watch = Watch(agent)
    _log_in(agent, live, "anna")
    assert _path(agent) == "/"
    data = _type_query(agent, live, "unplug modem thirty seconds count blue lights")
    assert data["hits"][0]["id"] == "router-restart", [h["id"] for h in data["hits"]]
    snippet = agent.locator("#results li.result .result-snippet").first.inner_text()
    assert "blue lights" in snippet, snippet
    agent.click("#results li.result a.result-title >> nth=0")
    agent.wait_for_load_state("load")
    assert NEW_STEP in agent.locator("#section-steps").inner_text()
    agent_watch.assert_clean()
    agent_context.close()
