"""The search page "/": works without JavaScript (POST form), shows errors inline, the weak state, no XSS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.caselog.gaps import GapTable
from kb.identity.users import create_user
from kb.search.bundle import build_index
from kb.search.searcher import Searcher
from tests.conftest import FakeEmbedder
from tests.security.xss import XSS_PAYLOADS, assert_safe_page, write_xss_kb
from tests.webapp.conftest import csrf_token, sign_in_as

NONSENSE = "qwxz vbnm plokij"


@pytest.fixture
def agent(client, users):
    sign_in_as(client, users["agent"])
    return client


def search(client, status=200, headers=None, **form):
    response = client.post("/", data=form, headers=headers or {})
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def titles(page: str) -> list[str]:
    return re.findall(r'<a class="result-title" href="[^"]*" lang="\w+">([^<]*)</a>', page)


def test_the_page_is_one_big_post_form_with_the_box_focused(agent):
    page = agent.get("/").get_data(as_text=True)
    form = re.search(r'<form id="search-form"[^>]*>', page).group(0)
    assert 'method="post"' in form and 'action="/"' in form and 'role="search"' in form
    assert re.search(r'<textarea id="query" name="query" rows="1" autofocus[^>]*></textarea>', page)
    assert '<input type="hidden" name="csrf_token" value="' in page
    assert '<script src="/static/search.js" defer></script>' in page
    assert 'href="/static/search.css"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script (CSP: script-src 'self')
    assert 'method="get"' not in page.lower()


def test_without_javascript_the_form_renders_results_with_marks(agent, searcher):
    page = search(agent, query="dsl light blinking", lang="en")
    assert titles(page)[0] == "DSL light blinking: no DSL sync"
    assert (
        '<p class="result-snippet" lang="en">the <mark>dsl</mark> <mark>light</mark> keeps <mark>blinking</mark></p>'
    ) in page
    assert 'href="/articles/dsl-no-sync?lang=en' in page
    # The meter shows the hit's calibrated confidence, and its level is said in words too.
    top = searcher.search("dsl light blinking", k=8, lang="en").hits[0]
    assert re.search(rf'<meter class="result-score" min="0" max="1"[^>]* value="{top.confidence}"', page)
    assert re.search(r'<span class="result-relevance">(Good|Partial|Weak) match</span>', page)
    assert 'value="dsl light blinking"' in page  # the box keeps the query
    assert len(titles(page)) == len(searcher.search("dsl light blinking", k=8, lang="en").hits)


def test_the_query_is_never_read_from_the_url(agent):
    page = agent.get("/?query=dsl+light+blinking").get_data(as_text=True)
    assert "dsl light blinking" not in page and not titles(page)


def test_the_interface_language_is_the_default_article_language(agent):
    dutch = search(agent, query="dsl lampje knippert", headers={"Accept-Language": "nl"})
    assert titles(dutch)[0] == "DSL-lampje knippert: geen DSL-synchronisatie"
    assert '<option value="nl" selected>' in dutch
    english = search(agent, query="dsl lampje knippert", lang="en", headers={"Accept-Language": "nl"})
    assert titles(english)[0] == "DSL light blinking: no DSL sync"


def test_filters_narrow_the_results(agent):
    page = search(agent, query="password light cable", lang="en", category="account")
    assert titles(page) == ["Reset an e-mail password"]
    assert '<option value="account" selected>' in page
    fibre = search(agent, query="light blinking cable", lang="en", connection="fibre")
    assert "DSL light blinking: no DSL sync" not in titles(fibre)
    only = search(agent, query="dsl light", lang="nl", only_lang="1")
    links = re.findall(r'<a class="result-title"[^>]*>', only.split("<template")[0])
    assert links and all('lang="nl"' in link for link in links)


@pytest.mark.parametrize(
    "form, message",
    [
        ({"query": "   "}, "The query is empty; type a few words about the customer&#39;s problem"),
        ({"query": "x" * 5001}, "The query is 5001 characters; the limit is 5000."),
        ({}, "The query is missing; type a few words about the customer&#39;s problem."),
        (
            {"query": "dsl", "category": "nonsense"},
            "The category &#39;nonsense&#39; is unknown; use one of connectivity",
        ),
        ({"query": "dsl", "lang": "de"}, "The language &#39;de&#39; is unknown; use one of nl, en."),
    ],
)
def test_bad_input_is_shown_inline_not_as_a_traceback(agent, form, message):
    page = search(agent, status=400, **form)
    error = re.search(r'<p id="search-error" class="flash flash-error" role="alert">([^<]*)</p>', page)
    assert error and message in error.group(1)
    assert "Traceback" not in page and not titles(page)


def test_nonsense_shows_the_no_good_match_state_with_two_actions(agent, searcher):
    assert searcher.search(NONSENSE, k=8, lang="en").weak  # kb.search.searcher decides what is weak
    page = search(agent, query=NONSENSE, lang="en")
    assert '<section id="weak" class="weak" aria-labelledby="weak-title">' in page  # not hidden
    assert "No good match" in page
    gap_form = re.search(r'<form id="gap-form" method="post" action="/gaps">.*?</form>', page, re.S).group(0)
    assert f'name="query" value="{NONSENSE}"' in gap_form and 'name="csrf_token"' in gap_form
    assert re.search(r'<a class="button" href="[^"]+">Escalate</a>', page)


@pytest.mark.parametrize("query", ["dsl light blinking", "forgot my email password", "los light is red"])
def test_the_weak_state_follows_the_searcher(agent, searcher, query):
    weak = searcher.search(query, k=8, lang="en").weak
    page = search(agent, query=query, lang="en")
    shown = '<section id="weak" class="weak" aria-labelledby="weak-title">' in page
    assert shown == weak


def test_flagging_a_gap_without_javascript_records_it_and_keeps_the_results(app, agent, users):
    response = agent.post("/gaps", data={"query": NONSENSE, "lang": "en"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Thank you: this search is flagged as a content gap for the editors." in page
    assert f'value="{NONSENSE}"' in page
    [gap] = GapTable(app.extensions["kb"].engine).recent()
    assert (gap.query, gap.lang, gap.user_id) == (NONSENSE, "en", users["agent"].id)


def test_gaps_go_to_the_database_not_the_instance_folder(app, agent):
    agent.post("/gaps", data={"query": "modem on fire", "lang": "nl"})
    agent.post("/gaps", data={"query": "modem on fire again", "lang": "xx"})  # an unknown language is dropped
    assert [(g.query, g.lang) for g in GapTable(app.extensions["kb"].engine).recent()] == [
        ("modem on fire again", None),
        ("modem on fire", "nl"),
    ]
    assert not list(Path(app.instance_path).glob("*gaps*"))


def test_a_bad_flag_is_shown_and_not_stored(app, agent):
    page = agent.post("/gaps", data={"query": "   ", "lang": "en"}).get_data(as_text=True)
    assert "The query is empty" in page
    assert GapTable(app.extensions["kb"].engine).recent() == []


def test_the_page_and_its_form_need_a_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    sign_in_as(client, create_user(app.extensions["kb"].engine, "anna", "correct horse battery", "agent"))
    assert client.post("/", data={"query": "dsl light"}).status_code == 400
    token = csrf_token(client, "/")
    page = search(client, query="dsl light blinking", lang="en", csrf_token=token)
    assert titles(page)[0] == "DSL light blinking: no DSL sync"


@pytest.mark.parametrize("role", ["agent", "editor", "analyst", "admin"])
def test_every_role_may_search(client, users, role):
    sign_in_as(client, users[role])
    assert titles(search(client, query="dsl light blinking", lang="en"))


def test_signed_out_users_are_sent_to_log_in(client):
    for response in (client.get("/"), client.post("/", data={"query": "dsl"})):
        assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


def test_the_scripts_only_build_nodes_from_text_and_never_put_the_query_in_a_url(client):
    script = client.get("/static/search.js").get_data(as_text=True)
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "textContent" in script and '"X-CSRFToken": csrfToken' in script
    assert 'method: "POST"' in script and "AbortController" in script and "sequence" in script
    assert "?query" not in script and "location.search" not in script
    article = client.get("/static/article.js").get_data(as_text=True)
    assert "navigator.clipboard" in article and "execCommand" in article and "innerHTML" not in article


# -- cross-site scripting in results ------------------------------------------------------------


@pytest.fixture(scope="module")
def xss_searcher(tmp_path_factory):
    root = tmp_path_factory.mktemp("xss-search")
    write_xss_kb(root / "articles")
    build_index(root / "articles", root / "index", FakeEmbedder())
    return root, Searcher(root / "index", FakeEmbedder())


def test_payloads_in_titles_and_snippets_stay_text_in_results(make_app, xss_searcher):
    root, xss = xss_searcher
    app = make_app(KB_ARTICLES=str(root / "articles"))
    app.extensions["kb"].use_searcher(xss)
    client = app.test_client()
    sign_in_as(client, create_user(app.extensions["kb"].engine, "anna", "correct horse battery", "agent"))
    for query in ("payload script alert", "router page img onerror", "javascript href", "says svg onload"):
        page = search(client, query=query, lang="en")
        assert len(titles(page)) >= 5
        assert_safe_page(page)
        assert "&lt;" in page and "<mark>" in page
    assert len(XSS_PAYLOADS) >= 25
