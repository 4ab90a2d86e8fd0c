"""Search snippets: the stretch of a matched chunk around the query's words, matches marked.

Snippets are plain text: each piece is escaped before a <mark> is put around it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from kb.search.analysis import STOPWORDS, SYNONYMS, fold, query_words, stem

SNIPPET_CHARS = 240

_WORD = re.compile(r"[^\W_]+")


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
            parts.append((text[pos : m.start()], False))
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
