"""Articles and search snippets as safe HTML: Markdown through an allow-list sanitiser, matches marked.

Article bodies are written by editors but shown to every agent, so every piece of HTML that
leaves this module has been through nh3 with a short allow-list: no scripts, no event-handler
attributes, no style, and links only to http(s), mailto and tel (never javascript: or data:).
Snippets are plain text: each piece is escaped before a <mark> is put around it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import markdown
import nh3

from kb.analysis import STOPWORDS, SYNONYMS, fold, query_words, stem
from kb.articles import EXPECTED_PREFIX, Article

BLOCK_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h3", "h4", "h5",
    "h6", "hr", "i", "kbd", "li", "mark", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
INLINE_TAGS = frozenset({"a", "abbr", "b", "br", "code", "del", "em", "i", "kbd", "mark", "s",
                         "strong", "sub", "sup"})
ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists")
SNIPPET_CHARS = 240

_WORD = re.compile(r"[^\W_]+")
_OUTER_P = re.compile(r"\A<p>(.*)</p>\Z", re.S)


def sanitise(fragment: str, inline: bool = False) -> str:
    """Keep only allow-listed tags, attributes and URL schemes; links get rel="noopener noreferrer"."""
    return nh3.clean(fragment, tags=set(INLINE_TAGS if inline else BLOCK_TAGS), attributes=ATTRIBUTES,
                     url_schemes=set(URL_SCHEMES), link_rel="noopener noreferrer", strip_comments=True)


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
    sections: tuple[RenderedSection, ...]   # all level-2 sections, in the article's order
    steps: tuple[RenderedStep, ...]         # the steps section as a checklist (empty if none parsed)
    expected_label: str                     # "Expected:" in the article's language

    def section(self, kind: str) -> RenderedSection | None:
        return next((s for s in self.sections if s.kind == kind), None)


def render_article(article: Article) -> RenderedArticle:
    """Render an article's sections and steps to sanitised HTML."""
    sections = tuple(RenderedSection(s.kind, s.heading, markdown_html(s.text)) for s in article.sections)
    steps = tuple(RenderedStep(s.number, inline_html(s.action), inline_html(s.expected) if s.expected else "")
                  for s in article.steps)
    return RenderedArticle(article, sections, steps, EXPECTED_PREFIX.get(article.lang, "Expected:"))


def anchor(kind: str, heading: str = "", step: int | None = None) -> str:
    """The id of a step or section on the article page: "step-3", "section-escalate", "section-notes"."""
    if step is not None:
        return f"step-{step}"
    return f"section-{kind}" if kind != "other" else f"section-{_slug(heading)}"


# -- search snippets ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Snippet:
    """A stretch of plain text cut into (text, is_match) parts."""

    parts: tuple[tuple[str, bool], ...]

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.parts)

    @property
    def html(self) -> str:
        """Each part escaped, matches wrapped in <mark>."""
        return "".join(f"<mark>{html.escape(t)}</mark>" if hit else html.escape(t) for t, hit in self.parts)


def query_terms(query: str) -> frozenset[str]:
    """Folded query words, their stems in both languages and their synonyms: what counts as a match."""
    terms: set[str] = set()
    for word in query_words(query):
        for w in (word, *SYNONYMS.get(word, ())):
            terms.update((w, stem(w, "en"), stem(w, "nl")))
    return frozenset(terms)


def _is_match(word: str, terms: frozenset[str]) -> bool:
    folded = fold(word)
    if len(folded) < 2 and not folded.isdigit():
        return False
    if folded in STOPWORDS["en"] or folded in STOPWORDS["nl"]:
        return False
    return folded in terms or stem(folded, "en") in terms or stem(folded, "nl") in terms


def snippet(text: str, query: str, width: int = SNIPPET_CHARS) -> Snippet:
    """The part of `text` around the first query match (at most about `width` characters), matches marked."""
    text = " · ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    terms = query_terms(query)
    matches = [m for m in _WORD.finditer(text) if _is_match(m.group(), terms)] if terms else []
    start, end = _window(text, matches[0].start() if matches else 0, width)
    parts: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    pos = start
    for m in matches:
        if m.start() < start or m.end() > end:
            continue
        if m.start() > pos:
            parts.append((text[pos:m.start()], False))
        parts.append((m.group(), True))
        pos = m.end()
    if end > pos:
        parts.append((text[pos:end], False))
    if end < len(text):
        parts.append(("…", False))
    return Snippet(tuple(_merge(parts)))


def _window(text: str, first: int, width: int) -> tuple[int, int]:
    """Start and end of a window of about `width` characters showing `first`, cut between words."""
    if len(text) <= width:
        return 0, len(text)
    start = max(0, first - width // 4)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > first else end
    return start, end


def _merge(parts: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    merged: list[tuple[str, bool]] = []
    for text, hit in parts:
        if merged and merged[-1][1] == hit and not hit:
            merged[-1] = (merged[-1][0] + text, hit)
        elif text:
            merged.append((text, hit))
    return merged


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")[:40] or "section"
