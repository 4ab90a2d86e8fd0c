"""Articles as safe HTML: Markdown through an allow-list sanitiser.

Article bodies are written by editors but shown to every agent, so every piece of HTML that
leaves this module has been through nh3 with a short allow-list: no scripts, no event-handler
attributes, no style, and links only to http(s), mailto and tel (never javascript: or data:).
Search snippets are made in kb.search.snippets.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import markdown
import nh3

from kb.content.articles import EXPECTED_PREFIX, Article

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
