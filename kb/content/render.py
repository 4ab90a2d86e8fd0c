"""Articles as safe HTML: Markdown through an allow-list sanitiser.

Article bodies are written by editors but shown to every agent, so every piece of HTML that
leaves this module has been through nh3 with a short allow-list: no scripts, no event-handler
attributes, no style, and links only to http(s), mailto and tel (never javascript: or data:).
Search snippets are made in kb.search.snippets.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

import markdown
import nh3

from kb.content.articles import EXPECTED_PREFIX, Article
from kb.content.style import REFERENCE

BLOCK_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "dd",
        "del",
        "dl",
        "dt",
        "em",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "s",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
INLINE_TAGS = frozenset({"a", "abbr", "b", "br", "code", "del", "em", "i", "kbd", "mark", "s", "strong", "sub", "sup"})
ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists")
_OUTER_P = re.compile(r"\A<p>(.*)</p>\Z", re.S)


def sanitise(fragment: str, inline: bool = False) -> str:
    """Keep only allow-listed tags, attributes and URL schemes; links get rel="noopener noreferrer"."""
    return nh3.clean(
        fragment,
        tags=set(INLINE_TAGS if inline else BLOCK_TAGS),
        attributes=ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def markdown_html(text: str) -> str:
    """Markdown (with tables and fenced code) to sanitised HTML."""
    return sanitise(markdown.markdown(text, extensions=list(MARKDOWN_EXTENSIONS), output_format="html"))


def inline_html(text: str) -> str:
    """One line of Markdown (a step's action) to sanitised inline HTML, without the wrapping <p>."""
    rendered = markdown.markdown(text, extensions=list(MARKDOWN_EXTENSIONS), output_format="html").strip()
    match = _OUTER_P.match(rendered)
    return sanitise(match.group(1) if match else rendered, inline=True)


@dataclass(frozen=True)
class RenderedSection:
    kind: str
    heading: str
    html: str

    @property
    def anchor(self) -> str:
        return anchor(self.kind, self.heading)


@dataclass(frozen=True)
class RenderedStep:
    number: int
    action_html: str
    expected_html: str


@dataclass(frozen=True)
class RenderedArticle:
    """An article ready for a page: every `*html` field is sanitised and safe to insert as is."""

    article: Article
    sections: tuple[RenderedSection, ...]  # all level-2 sections, in the article's order
    steps: tuple[RenderedStep, ...]  # the steps section as a checklist (empty if none parsed)
    expected_label: str  # "Expected:" in the article's language

    def section(self, kind: str) -> RenderedSection | None:
        return next((s for s in self.sections if s.kind == kind), None)


def render_article(article: Article) -> RenderedArticle:
    """Render an article's sections and steps to sanitised HTML."""
    sections = tuple(RenderedSection(s.kind, s.heading, markdown_html(s.text)) for s in article.sections)
    steps = tuple(
        RenderedStep(s.number, inline_html(s.action), inline_html(s.expected) if s.expected else "")
        for s in article.steps
    )
    return RenderedArticle(article, sections, steps, EXPECTED_PREFIX.get(article.lang, "Expected:"))


def anchor(kind: str, heading: str = "", step: int | None = None) -> str:
    """The id of a step or section on the article page: "step-3", "section-escalate", "section-notes"."""
    if step is not None:
        return f"step-{step}"
    return f"section-{kind}" if kind != "other" else f"section-{_slug(heading)}"


def _slug(text: str) -> str:
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:40] or "section"


# "see router-restart" / "zie `router-restart`" in the rendered HTML (the id possibly in <code>).
_REFERENCE_HTML = {
    lang: re.compile(rf"\b({verbs})(\s+)(?:<code>)?([a-z0-9]+(?:-[a-z0-9]+)+)(?:</code>)?(?![\w-])", re.I)
    for lang, verbs in REFERENCE.items()
}
_INSIDE_LINK = re.compile(r"<a\b[^>]*>.*?</a>", re.S)

Resolve = Callable[[str, str], "tuple[str, str] | None"]


def link_references(page: RenderedArticle, resolve: Resolve) -> RenderedArticle:
    """The page with every "see <article-id>" turned into a link to that article, titled.

    `resolve(article_id, lang)` gives (url, title) of a published article, or None: an id that is
    not an article stays plain text (kb lint reports it). The inserted link text is escaped; the
    rest of the HTML is the sanitised HTML it was.
    """
    pattern = _REFERENCE_HTML.get(page.article.lang)
    if pattern is None:
        return page
    lang = page.article.lang

    def link(match: re.Match) -> str:
        found = resolve(match.group(3), lang)
        if found is None:
            return match.group(0)
        url, title = found
        return f'{match.group(1)}{match.group(2)}<a class="article-ref" href="{escape(url)}">{escape(title)}</a>'

    def rewrite(html: str) -> str:
        if not html:
            return html
        out, at = [], 0
        for inside in _INSIDE_LINK.finditer(html):  # text already in a link stays as it is
            out.append(pattern.sub(link, html[at : inside.start()]))
            out.append(inside.group(0))
            at = inside.end()
        out.append(pattern.sub(link, html[at:]))
        return "".join(out)

    sections = tuple(RenderedSection(s.kind, s.heading, rewrite(s.html)) for s in page.sections)
    steps = tuple(RenderedStep(s.number, rewrite(s.action_html), rewrite(s.expected_html)) for s in page.steps)
    return RenderedArticle(page.article, sections, steps, page.expected_label)


_MARKUP = re.compile(r"[*_`#>\[\]]|\(https?://[^)]*\)")


def first_line(text: str, limit: int = 160) -> str:
    """The first bullet or sentence of a Markdown section as plain text: a one-line summary."""
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line).strip()
        if line:
            plain = " ".join(_MARKUP.sub("", line).split())
            sentence = re.split(r"(?<=[.!?])\s", plain, maxsplit=1)[0]
            return sentence if len(sentence) <= limit else sentence[: limit - 1].rsplit(" ", 1)[0] + "…"
    return ""
