"""GET /articles/<id>: sanitised body, escaped front matter, checklist, copy button, language switch."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

import kb.identity.users
from kb.errors import ArticleError
from kb.identity.users import create_user
from kb.search.bundle import build_index
from tests.conftest import FakeEmbedder, article_text
from tests.security.xss import XSS_PAYLOADS, assert_safe_page, write_xss_kb
from tests.webapp.conftest import sign_in_as


def write(root, article_id, lang, title, **fields):
    path = root / lang / f"{article_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(article_text(article_id, lang, title, **fields), encoding="utf-8")


@pytest.fixture
def articles(tmp_path):
    root = tmp_path / "articles"
    steps = (
        ("Ask the customer to look at the **DSL** light.", "The light is steady."),
        ("Remove any splitter.", "The DSL light goes steady."),
    )
    write(
        root,
        "dsl-no-sync",
        "en",
        "DSL light blinking",
        steps=steps,
        related=("router-restart", "gone"),
        escalate_to="network-operations",
        tags=("dsl", "sync"),
    )
    write(root, "dsl-no-sync", "nl", "DSL-lampje knippert", related=("router-restart",))
    write(root, "router-restart", "en", "Restart the router")
    write(root, "router-restart", "nl", "Router herstarten")
    write(root, "only-dutch", "nl", "Alleen Nederlands")
    write(root, "a-draft", "en", "Draft article", status="draft")
    write(root, "old-one", "en", "Archived article", status="archived")
    return root


def publish(articles):
    """Build and publish the index of `articles` (next to it); the web app shows what is published."""
    index = articles.parent / "index"
    build_index(articles, index, FakeEmbedder())
    return index


def signed_in(make_app, articles, role):
    """An app showing the published `articles`, and a client signed in as a new user with `role`."""
    app = make_app(load_search=False, KB_ARTICLES=str(articles), KB_INDEX=str(publish(articles)))
    user = create_user(app.extensions["kb"].engine, f"user-{role}", "correct horse battery", role)
    client = app.test_client()
    sign_in_as(client, user)
    return app, client


@pytest.fixture
def client_for(make_app, articles):
    return lambda role="agent": signed_in(make_app, articles, role)[1]


def page(client, url, status=200, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_article_page_shows_escalation_first_then_the_checklist(client_for):
    text = page(client_for(), "/articles/dsl-no-sync?lang=en")
    assert "<h1>DSL light blinking</h1>" in text
    assert text.index("Escalate to:") < text.index('id="section-steps"') < text.index('id="section-explain"')
    assert "Network operations" in text and "Escalate to network-operations with the customer number." in text
    assert re.search(r'<form id="checklist" class="checklist" method="post"\s+data-article="dsl-no-sync"', text)
    boxes = re.findall(r'<input type="checkbox" id="step-check-(\d)" name="step" value="(\d)"\s+data-step="(\d)"', text)
    assert boxes == [("1", "1", "1"), ("2", "2", "2")]
    assert 'id="step-1"' in text and "Ask the customer to look at the <strong>DSL</strong> light." in text
    assert "<strong>Expected:</strong> The light is steady." in text


def test_customer_explanation_has_a_copy_button_run_by_article_js(client_for):
    text = page(client_for(), "/articles/dsl-no-sync?lang=en")
    assert '<div id="explain-text" class="explain-text"><p>We are checking this for you.</p></div>' in text
    assert re.search(r'<button type="button" class="copy" data-copy="explain-text"', text)
    assert '<script src="/static/article.js" defer></script>' in text


def test_related_articles_are_linked_by_title_and_unknown_ids_left_out(client_for):
    text = page(client_for(), "/articles/dsl-no-sync?lang=en")
    assert '<a href="/articles/router-restart?lang=en" lang="en">Restart the router</a>' in text
    assert "gone" not in re.search(r'<nav class="related".*?</nav>', text, re.S).group(0)


def test_language_switch_links_the_other_version(client_for):
    client = client_for()
    english = page(client, "/articles/dsl-no-sync?lang=en")
    assert re.search(r'<a class="lang-switch" href="/articles/dsl-no-sync\?lang=nl" hreflang="nl"', english)
    dutch = page(client, "/articles/dsl-no-sync?lang=nl")
    assert "<h1>DSL-lampje knippert</h1>" in dutch and "<strong>Verwacht:</strong>" in dutch
    assert '<article class="kb-article" lang="nl">' in dutch


def test_without_lang_the_interface_language_is_chosen(client_for):
    client = client_for()
    assert "<h1>DSL-lampje knippert</h1>" in page(client, "/articles/dsl-no-sync", **{"Accept-Language": "nl"})
    assert "<h1>DSL light blinking</h1>" in page(client, "/articles/dsl-no-sync", **{"Accept-Language": "en"})


def test_a_missing_language_version_falls_back_and_says_so(client_for):
    text = page(client_for(), "/articles/only-dutch?lang=en", **{"Accept-Language": "en"})
    assert "<h1>Alleen Nederlands</h1>" in text
    assert "This article has no English version; you are reading the Nederlands one." in text


@pytest.mark.parametrize(
    "url",
    [
        "/articles/nope",
        "/articles/old-one",
        "/articles/a-draft",
        "/articles/..%2Fen%2Fdsl-no-sync",
        "/articles/DSL-NO-SYNC",
        "/articles/" + "a" * 300,
    ],
)
def test_unknown_archived_or_invalid_ids_give_the_404_page(client_for, url):
    text = page(client_for(), url, status=404)
    assert "Not found" in text and "Traceback" not in text


def test_editors_see_drafts_marked_as_draft(make_app, articles):
    """Drafts live in the editors' store (the database): editors see them, agents do not."""
    from kb.editorial.documents import save

    app, client = signed_in(make_app, articles, "editor")
    engine = app.extensions["kb"].engine
    editor = kb.identity.users.get_user(engine, 1)
    save(engine, "a-draft", "en", (articles / "en" / "a-draft.md").read_text(), editor.id, "draft")
    text = page(client, "/articles/a-draft")
    assert "<h1>Draft article</h1>" in text and '<strong class="badge">Draft</strong>' in text
    agent = create_user(engine, "an-agent", "correct horse battery", "agent")
    sign_in_as(client, agent)
    page(client, "/articles/a-draft", status=404)


@pytest.mark.parametrize("role", ["agent", "editor", "analyst", "admin"])
def test_every_role_may_read_articles(client_for, role):
    assert "<h1>Restart the router</h1>" in page(client_for(role), "/articles/router-restart?lang=en")


def test_signed_out_users_are_sent_to_log_in(make_app, articles):
    response = make_app(KB_ARTICLES=str(articles)).test_client().get("/articles/dsl-no-sync")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


def test_a_broken_article_file_is_never_published_and_the_rest_stays(client_for, articles):
    client = client_for()
    (articles / "en" / "broken.md").write_text("no front matter here", encoding="utf-8")
    with pytest.raises(ArticleError, match="no front matter found"):
        publish(articles)
    page(client, "/articles/broken", status=404)
    assert "<h1>DSL light blinking</h1>" in page(client, "/articles/dsl-no-sync?lang=en")


def test_a_broken_draft_is_left_out_for_editors(make_app, articles):
    from kb.editorial.documents import save

    app, client = signed_in(make_app, articles, "editor")
    engine = app.extensions["kb"].engine
    save(engine, "broken", "en", "no front matter here", 1, "half written")  # an editor may save a broken draft
    save(engine, "a-draft", "en", (articles / "en" / "a-draft.md").read_text(), 1, "draft")
    page(client, "/articles/broken", status=404)
    assert "Draft article" in page(client, "/articles/a-draft")


def test_an_edited_article_is_shown_once_published(client_for, articles):
    client = client_for()
    old = page(client, "/articles/router-restart?lang=en")
    write(articles, "router-restart", "en", "Restart the router, the new way", symptoms=("a", "b", "c", "d"))

    def without_tokens(html: str) -> str:  # a CSRF token carries its time: two renders may differ in it
        return re.sub(r'(csrf-token" content|name="csrf_token" value)="[^"]+"', r"\1", html)

    again = page(client, "/articles/router-restart?lang=en")
    assert without_tokens(again) == without_tokens(old)  # the file alone changes nothing
    publish(articles)
    new = page(client, "/articles/router-restart?lang=en")
    assert "<h1>Restart the router, the new way</h1>" in new
    revision = re.search(r'class="revision">[^<]*<code>([0-9a-f]{12})</code>', new).group(1)
    assert revision not in old and re.search(r"<code>[0-9a-f]{12}</code>", old)


def test_without_a_published_index_articles_say_what_to_do(make_app, articles, tmp_path):
    app = make_app(load_search=False, KB_ARTICLES=str(articles), KB_INDEX=str(tmp_path / "no-index"))
    client = app.test_client()
    sign_in_as(client, create_user(app.extensions["kb"].engine, "anna", "correct horse battery", "agent"))
    text = page(client, "/articles/dsl-no-sync", status=503)
    assert "kb index" in text and "Traceback" not in text


# -- cross-site scripting ------------------------------------------------------------------------


@pytest.fixture
def xss_client(make_app, tmp_path):
    root = tmp_path / "xss-articles"
    ids = write_xss_kb(root)
    app = make_app(load_search=False, KB_ARTICLES=str(root), KB_INDEX=str(publish(root)))
    client = app.test_client()
    sign_in_as(client, create_user(app.extensions["kb"].engine, "anna", "correct horse battery", "agent"))
    return client, ids


def test_no_payload_survives_in_article_pages(xss_client):
    client, ids = xss_client
    for article_id, payload in zip(ids, XSS_PAYLOADS, strict=True):
        text = page(client, f"/articles/{article_id}?lang=en")
        try:
            assert_safe_page(text)
        except AssertionError as exc:
            raise AssertionError(f"payload {payload!r} survived: {exc}") from None
        # The front matter is shown as text, escaped, in the title, the heading and the tag list.
        assert f"<h1>{escape('Payload ' + payload)}</h1>" in text
        assert f"<li>{escape('says ' + payload)}</li>" in text and f"<li>{escape(payload)}</li>" in text
        # Ordinary Markdown next to the payload still renders.
        assert "<strong>bold</strong> symptom" in text and "<table>" in text
        assert '<a href="https://docs.example/router" rel="noopener noreferrer">manual</a>' in text
        assert "<code>ping 1.1.1.1</code>" in text


def test_front_matter_is_escaped_by_the_template(xss_client):
    client, ids = xss_client
    text = page(client, f"/articles/{ids[XSS_PAYLOADS.index(chr(34) + '><script>alert(1)</script>')]}?lang=en")
    assert "<h1>Payload &#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in text
    assert "<title>Payload &#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt; · Firstline KB</title>" in text
    assert "<li>&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</li>" in text  # the tag


def test_an_unpublished_related_article_is_left_out(client_for, articles):
    (articles / "nl" / "router-restart.md").unlink()
    (articles / "en" / "router-restart.md").unlink()
    publish(articles)
    text = page(client_for(), "/articles/dsl-no-sync?lang=en")
    assert "<h1>DSL light blinking</h1>" in text and "Restart the router" not in text
