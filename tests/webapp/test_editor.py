"""The editors' pages through the Flask client: create, lint at its line, preview sanitised,
publish and find by search, conflicts, review, archive, restore, hostile ids and bodies."""

from __future__ import annotations

import re

import pytest

from kb.editorial import documents as docs
from kb.identity.users import create_user
from kb.search.bundle import build_index
from kb.search.searcher import Searcher
from tests.conftest import FakeEmbedder, article_text, write_kb
from tests.security.xss import XSS_PAYLOADS, active_content, xss_article
from tests.webapp.conftest import PASSWORD, sign_in_as


@pytest.fixture
def kb(make_app, tmp_path):
    """An app whose database holds the small test KB (imported), with its index built from the database."""
    articles = write_kb(tmp_path / "articles")
    index = tmp_path / "index"
    app = make_app(load_search=False, KB_ARTICLES=str(articles), KB_INDEX=str(index))
    engine = app.extensions["kb"].engine
    docs.import_folder(engine, articles)
    embedder = FakeEmbedder()
    build_index(None, index, embedder, articles=docs.published_articles(engine))
    app.extensions["kb"].use_searcher(Searcher(index, embedder))
    editor = create_user(engine, "erik", PASSWORD, "editor", display_name="Erik Editor")
    other = create_user(engine, "eva", PASSWORD, "editor", display_name="Eva Editor")
    agent = create_user(engine, "anna", PASSWORD, "agent")
    return app, engine, {"editor": editor, "other": other, "agent": agent}


def client_as(app, user):
    client = app.test_client()
    sign_in_as(client, user)
    return client


def new_text(lang="en", title="Printer offline over wifi", **kw):
    return article_text("printer-wifi-offline", lang, title, status="draft", related=("dsl-no-sync",), **kw)


def create_both(client):
    for lang, title in (("en", "Printer offline over wifi"), ("nl", "Printer offline via wifi")):
        response = client.post(
            "/editor/new", data={"article_id": "printer-wifi-offline", "lang": lang, "text": new_text(lang, title)}
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:800]


def search_titles(client, query):
    response = client.post("/api/search", json={"query": query})
    assert response.status_code == 200, response.get_data(as_text=True)
    return [hit["title"] for hit in response.get_json()["hits"]]


def test_an_editor_writes_publishes_and_agents_find_it(kb):
    app, engine, users = kb
    client = client_as(app, users["editor"])
    create_both(client)
    agent = client_as(app, users["agent"])
    assert "Printer offline over wifi" not in search_titles(agent, "printer offline over wifi")
    response = client.post("/editor/articles/printer-wifi-offline/en/publish")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r"searchable on this server since \d\d:\d\d:\d\d", page), page[:3000]
    assert re.search(r"searchable since \d\d:\d\d:\d\d", page)
    assert "Printer offline over wifi" in search_titles(agent, "printer offline over wifi")
    assert agent.get("/articles/printer-wifi-offline?lang=nl").status_code == 200


def test_a_lint_error_is_shown_at_its_line_and_the_text_is_kept(kb):
    app, engine, users = kb
    client = client_as(app, users["editor"])
    create_both(client)
    doc = docs.get_doc(engine, "printer-wifi-offline", "en")
    bad = doc.head.text.replace("category: connectivity", "category: astrology")
    response = client.post(
        "/editor/articles/printer-wifi-offline/en/save", data={"text": bad, "base_edit_id": doc.head.id}
    )
    assert response.status_code == 302  # a draft may be broken; it cannot be published
    page = client.get("/editor/articles/printer-wifi-offline/en").get_data(as_text=True)
    line = bad.splitlines().index("category: astrology") + 1
    assert re.search(rf'data-line="{line}">line {line}</button> [^<]*category', page), page[:4000]
    refused = client.post("/editor/articles/printer-wifi-offline/en/publish")
    assert refused.status_code == 400 and "nothing was published" in refused.get_data(as_text=True)
    assert "category: astrology" in refused.get_data(as_text=True)  # the draft is in the form
    assert "printer-wifi-offline" not in {a.id for a in docs.published_articles(engine)}


def test_the_preview_goes_through_the_sanitising_renderer(kb):
    app, _, users = kb
    client = client_as(app, users["editor"])
    for payload in XSS_PAYLOADS:
        response = client.post(
            "/editor/preview",
            json={"article_id": "xss-test", "lang": "en", "text": xss_article("xss-test", "en", payload)},
        )
        assert response.status_code == 200
        html = response.get_json()["html"]
        assert html and active_content(html) == [], (payload, active_content(html))


def test_preview_and_lint_answer_as_the_publish_check_would(kb):
    app, _, users = kb
    client = client_as(app, users["editor"])
    data = client.post(
        "/editor/preview", json={"article_id": "printer-wifi-offline", "lang": "en", "text": new_text()}
    ).get_json()
    assert "Printer offline over wifi" in data["html"]
    assert any("no Dutch version" in p["message"] for p in data["problems"])
    assert client.post("/editor/preview", json=["x"]).status_code == 400
    assert client.post("/editor/preview", json={"article_id": "../x", "lang": "en", "text": "x"}).status_code == 400


def test_the_second_editor_to_save_sees_the_other_change_and_keeps_their_text(kb):
    app, engine, users = kb
    first, second = client_as(app, users["editor"]), client_as(app, users["other"])
    opened = docs.get_doc(engine, "dsl-no-sync", "en").head
    theirs = opened.text.replace("Remove any splitter", "Remove every splitter")
    mine = opened.text.replace("Check the telephone cable", "Check the grey telephone cable")
    assert (
        second.post(
            "/editor/articles/dsl-no-sync/en/save", data={"text": theirs, "base_edit_id": opened.id}
        ).status_code
        == 302
    )
    response = first.post("/editor/articles/dsl-no-sync/en/save", data={"text": mine, "base_edit_id": opened.id})
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "Saved meanwhile by Eva Editor" in page
    assert 'class="diff-add">+' in page and "every splitter" in page
    assert "grey telephone cable" in page  # my text is still in the editor
    head = docs.get_doc(engine, "dsl-no-sync", "en").head
    assert "every splitter" in head.text and "grey telephone" not in head.text
    base = re.search(r'name="base_edit_id" value="(\d+)"', page).group(1)
    assert int(base) == head.id  # saving again now builds on their version


def test_with_review_required_a_second_editor_publishes(kb, monkeypatch):
    app, engine, users = kb
    monkeypatch.setenv("KB_REVIEW_REQUIRED", "1")
    author, reviewer = client_as(app, users["editor"]), client_as(app, users["other"])
    create_both(author)
    refused = author.post("/editor/articles/printer-wifi-offline/en/publish")
    assert refused.status_code == 400 and "submit the article for review first" in refused.get_data(as_text=True)
    assert author.post("/editor/articles/printer-wifi-offline/en/submit").status_code == 302
    assert author.post("/editor/articles/printer-wifi-offline/en/publish").status_code == 400  # not their own
    assert reviewer.post("/editor/articles/printer-wifi-offline/en/publish").status_code == 302
    live = {(a.id, a.lang): a for a in docs.published_articles(engine)}[("printer-wifi-offline", "en")]
    assert live.get("reviewed_by") == "eva"


def test_archive_takes_it_out_of_search_and_restore_brings_a_revision_back(kb):
    app, engine, users = kb
    client, agent = client_as(app, users["editor"]), client_as(app, users["agent"])
    assert "DSL light blinking: no DSL sync" in search_titles(agent, "dsl light keeps blinking")
    assert (
        client.post("/editor/articles/dsl-no-sync/en/archive", data={"reason": "copper switched off"}).status_code
        == 302
    )
    assert "DSL light blinking: no DSL sync" not in search_titles(agent, "dsl light keeps blinking")
    history = client.get("/editor/articles/dsl-no-sync/en/history").get_data(as_text=True)
    assert "copper switched off" in history and 'class="diff-' in history
    edits = docs.history(engine, "dsl-no-sync", "en")
    head = docs.get_doc(engine, "dsl-no-sync", "en").head
    response = client.post(
        "/editor/articles/dsl-no-sync/en/restore", data={"edit_id": edits[-1].id, "base_edit_id": head.id}
    )
    assert response.status_code == 302
    assert docs.get_doc(engine, "dsl-no-sync", "en").head.action == "restore"


@pytest.mark.parametrize(
    "path",
    [
        "/editor/articles/..%2f..%2fetc/en",
        "/editor/articles/dsl-no-sync/de",
        "/editor/articles/DSL/en",
        "/editor/articles/dsl-no-sync/..%2fen/history",
        "/editor/articles/nope/en",
    ],
)
def test_ids_that_try_to_escape_or_are_malformed_are_404(kb, path):
    app, _, users = kb
    assert client_as(app, users["editor"]).get(path).status_code == 404


@pytest.mark.parametrize(
    "text, message",
    [
        ("x" * 1_100_000, "at most 200,000"),
        ("\x00\x01\x02 binary junk", "binary"),
        ("---\nid: [unclosed\n---\n", "not valid YAML"),
        ("", "empty"),
    ],
)
def test_bad_bodies_get_a_clear_message_and_the_text_is_kept(kb, text, message):
    app, engine, users = kb
    client = client_as(app, users["editor"])
    head = docs.get_doc(engine, "dsl-no-sync", "en").head
    response = client.post("/editor/articles/dsl-no-sync/en/save", data={"text": text, "base_edit_id": head.id})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in page, page[:2000]
    assert "Traceback" not in page
    if len(text) < 100 and text.strip() and "\x00" not in text:
        assert text.replace("\n", "") in page.replace("\n", "").replace("&#34;", '"').replace("&#39;", "'")
    assert docs.get_doc(engine, "dsl-no-sync", "en").head.id == head.id


def test_an_id_in_the_text_cannot_differ_from_the_article(kb):
    app, engine, users = kb
    client = client_as(app, users["editor"])
    head = docs.get_doc(engine, "dsl-no-sync", "en").head
    moved = head.text.replace("id: dsl-no-sync", "id: something-else")
    response = client.post("/editor/articles/dsl-no-sync/en/save", data={"text": moved, "base_edit_id": head.id})
    assert response.status_code == 400 and "an id cannot change" in response.get_data(as_text=True)


def test_agents_may_not_edit(kb):
    app, _, users = kb
    agent = client_as(app, users["agent"])
    assert agent.get("/editor/").status_code == 403
    assert agent.post("/editor/articles/dsl-no-sync/en/save", data={"text": "x"}).status_code == 403


def test_flag_it_then_fix_it(kb):
    app, engine, users = kb
    agent, editor = client_as(app, users["agent"]), client_as(app, users["editor"])
    page = agent.get("/articles/dsl-no-sync?lang=en").get_data(as_text=True)
    assert 'action="/articles/dsl-no-sync/flag"' in page and "Fix it" not in page
    assert "Fix it" in editor.get("/articles/dsl-no-sync?lang=en").get_data(as_text=True)
    response = agent.post(
        "/articles/dsl-no-sync/flag",
        data={"lang": "en", "reason": "missing_step", "note": "Step about the filter is gone"},
    )
    assert response.status_code == 302
    worklist = editor.get("/editor/").get_data(as_text=True)
    assert "Open flags (1)" in worklist and "Step about the filter is gone" in worklist
    flag_id = int(re.search(r"/editor/flags/(\d+)/resolve", worklist).group(1))
    refused = editor.post(f"/editor/flags/{flag_id}/resolve", data={"outcome": "declined", "note": ""})
    assert refused.status_code == 302 and "Open flags (1)" in editor.get("/editor/").get_data(as_text=True)
    editor.post(f"/editor/flags/{flag_id}/resolve", data={"outcome": "fixed", "note": "Added the filter step"})
    mine = agent.get("/articles/flags/mine").get_data(as_text=True)
    assert "Fixed" in mine and "Added the filter step" in mine and "Erik Editor" in mine
    assert "Open flags (0)" in editor.get("/editor/").get_data(as_text=True)
    bad = agent.post("/articles/dsl-no-sync/flag", data={"lang": "en", "reason": "astrology", "note": "kept note"})
    assert bad.status_code == 400 and "kept note" in bad.get_data(as_text=True)


def test_draft_an_article_from_a_case(kb):
    from kb.caselog import cases as caselog

    app, engine, users = kb
    case = caselog.open_case(engine, users["agent"].id, "phone", "K-1", "Printer drops off the wifi every night", "dsl")
    caselog.record_search(engine, case.id, users["agent"].id, "printer wifi weg", [])
    caselog.tick_step(engine, case.id, users["agent"].id, "dsl-no-sync", "en", 1, result="cable was loose")
    caselog.escalate_case(engine, case.id, users["agent"].id, "tier2", "no article")
    client = client_as(app, users["editor"])
    worklist = client.get("/editor/").get_data(as_text=True)
    assert "Cases without an article (0)" in worklist  # a step was ticked: an article was used
    other = caselog.open_case(engine, users["agent"].id, "chat", "K-2", "Smart plug will not pair", "fibre")
    caselog.close_unresolved(engine, other.id, users["agent"].id, "callback tomorrow")
    worklist = client.get("/editor/").get_data(as_text=True)
    assert "Cases without an article (1)" in worklist and f"from_case={other.id}" in worklist
    page = client.get(f"/editor/new?from_case={case.id}").get_data(as_text=True)
    assert "Printer drops off the wifi every night" in page and "printer wifi weg" in page
    assert "Check the telephone cable" in page and "cable was loose" in page
    assert client.get("/editor/new?from_case=999999").status_code == 404


def test_an_archived_article_stays_in_the_case_history(kb):
    from kb.caselog import cases as caselog
    from kb.caselog.handoff import build_handoff

    app, engine, users = kb
    agent = client_as(app, users["agent"])
    case = caselog.open_case(engine, users["agent"].id, "phone", "K-3", "dsl light blinking", "dsl")
    with agent.session_transaction() as session:
        session["case_id"] = case.id
    agent.get("/articles/dsl-no-sync?lang=en")
    agent.post(f"/api/cases/{case.id}/steps", json={"article_id": "dsl-no-sync", "lang": "en", "step": 1, "done": True})
    client_as(app, users["editor"]).post("/editor/articles/dsl-no-sync/en/archive", data={"reason": "gone"})
    (step,) = build_handoff(engine, case.id).steps
    assert step.action and "telephone cable" in step.action
    assert "dsl-no-sync" in agent.get(f"/cases/{case.id}").get_data(as_text=True)
