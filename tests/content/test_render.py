"""kb.content.render: sanitised Markdown, articles as checklists, and escaped search snippets with <mark>."""

from __future__ import annotations

import re

import pytest

from kb.content.articles import parse_article
from kb.content.render import BLOCK_TAGS, INLINE_TAGS, inline_html, markdown_html, render_article
from kb.search.snippets import query_terms, snippet
from tests.conftest import article_text
from tests.security.xss import XSS_PAYLOADS, _Collector, active_content, xss_article


def tags_in(html: str) -> set[str]:
    collector = _Collector()
    collector.feed(html)
    return {tag for tag, _ in collector.tags}


def test_the_corpus_covers_the_known_tricks():
    assert len(XSS_PAYLOADS) >= 25
    joined = "\n".join(XSS_PAYLOADS)
    for trick in (
        "<script",
        "onerror",
        "onload",
        "javascript:",
        "&#106;",
        "jAvAsCrIpT",
        "data:",
        "style=",
        "<iframe",
        "<object",
        "<embed",
        "](javascript:",
        '"><script>',
        "expression(",
    ):
        assert trick in joined


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_markdown_html_keeps_nothing_active(payload):
    for text in (payload, f"Before\n\n{payload}\n\nafter **bold**", f"- item {payload}\n- second"):
        html = markdown_html(text)
        assert not active_content(html), html
        assert tags_in(html) <= BLOCK_TAGS, html
        assert "<script" not in html.lower()


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_inline_html_keeps_nothing_active(payload):
    html = inline_html(f"Open the page {payload} now")
    assert not active_content(html), html
    assert tags_in(html) <= INLINE_TAGS, html


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_a_whole_article_with_the_payload_renders_safely(payload):
    page = render_article(parse_article(xss_article("xss", "en", payload), "articles/en/xss.md"))
    fragments = [s.html for s in page.sections] + [s.action_html + s.expected_html for s in page.steps]
    for html in fragments:
        assert not active_content(html), html
    assert [s.number for s in page.steps] == [1, 2]
    assert '<a href="https://docs.example/router" rel="noopener noreferrer">manual</a>' in page.steps[1].action_html


def test_normal_markdown_still_renders():
    html = markdown_html(
        "Some **bold** and *italic* text with `code` and a [link](https://status.example-isp.nl).\n\n"
        "- one\n- two\n\n1. first\n2. second\n\n"
        "| port | use |\n|------|-----|\n| 993 | IMAP |\n\n"
        "```\nping 1.1.1.1\n```\n\n> quoted\n\n### Sub heading\n\n[mail](mailto:help@example-isp.nl)"
    )
    for fragment in (
        "<strong>bold</strong>",
        "<em>italic</em>",
        "<code>code</code>",
        "<ul>",
        "<li>one</li>",
        "<ol>",
        "<table>",
        "<th>port</th>",
        "<td>993</td>",
        "<pre><code>ping 1.1.1.1",
        "<blockquote>",
        "<h3>Sub heading</h3>",
        '<a href="https://status.example-isp.nl" rel="noopener noreferrer">link</a>',
        '<a href="mailto:help@example-isp.nl" rel="noopener noreferrer">mail</a>',
    ):
        assert fragment in html


def test_links_always_get_noopener_noreferrer():
    html = markdown_html('<a href="https://x.example" rel="opener" target="_blank">x</a>')
    assert 'rel="noopener noreferrer"' in html and "target" not in html and 'rel="opener"' not in html


def test_article_sections_steps_and_expected_label_in_the_article_language():
    text = article_text(
        "dsl-no-sync",
        "nl",
        "DSL",
        steps=(("Druk op **reset**.", "Het lampje brandt."), ("Wacht `5` minuten.", "Sync.")),
    )
    page = render_article(parse_article(text, "articles/nl/dsl-no-sync.md"))
    assert [s.kind for s in page.sections] == ["symptoms", "causes", "steps", "escalate", "explain"]
    assert page.section("escalate").anchor == "section-escalate"
    assert page.expected_label == "Verwacht:"
    assert page.steps[0].action_html == "Druk op <strong>reset</strong>."
    assert page.steps[0].expected_html == "Het lampje brandt."
    assert page.steps[1].action_html == "Wacht <code>5</code> minuten."


def test_snippet_escapes_html_before_marking():
    cut = snippet('Check the <b>DSL</b> light & the "modem" <script>alert(1)</script>', "dsl modem script")
    assert cut.html == (
        "Check the &lt;b&gt;<mark>DSL</mark>&lt;/b&gt; light &amp; the &quot;<mark>modem</mark>&quot; "
        "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt;"
    )
    assert cut.text == 'Check the <b>DSL</b> light & the "modem" <script>alert(1)</script>'
    assert ("DSL", True) in cut.parts and ("modem", True) in cut.parts


def test_markup_in_the_query_cannot_reach_the_html():
    cut = snippet("the router mark page", '"><mark onclick=alert(1)> router')
    assert "onclick" not in cut.html and cut.html.count("<mark>") == 2  # "mark" and "router", as words
    assert re.fullmatch(r"(?:[^<>]|<mark>|</mark>)*", cut.html)


def test_snippet_marks_word_forms_and_synonyms_but_not_stop_words():
    cut = snippet("The light blinks; het lampje knippert", "the blinking light")
    marked = [text for text, hit in cut.parts if hit]
    assert marked == ["light", "blinks", "lampje", "knippert"]
    assert "the" not in query_terms("the blinking light")


def test_snippet_cuts_long_text_around_the_first_match():
    text = "filler " * 100 + "the modem restarts" + " tail" * 100
    cut = snippet(text, "modem", width=120)
    assert cut.text.startswith("…") and cut.text.endswith("…")
    assert len(cut.text) <= 122 and ("modem", True) in cut.parts


def test_snippet_joins_lines_and_shows_the_start_without_a_match():
    cut = snippet("Check the cable.\nThe light is on.", "xyzzy")
    assert cut.text == "Check the cable. · The light is on." and not any(hit for _, hit in cut.parts)
