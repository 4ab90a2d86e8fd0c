"""Chunking: an article becomes a summary chunk, one chunk per section, and one per step.

Small chunks let a search result point at the step that matched; the title is prepended to
every chunk's embedded text so a step keeps its context ("Restart the router: unplug ...").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from kb.content.articles import Article

CHUNKER_VERSION = 1

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"\*\*|__|`|^\s*>+\s?|^#+\s+", re.M)
_BULLET = re.compile(r"^\s*(?:[-+*]|\d+[.)])\s+", re.M)


@dataclass(frozen=True)
class Chunk:
    """A searchable piece of an article."""

    article_id: str
    lang: str
    kind: str  # summary | symptoms | causes | step | escalate | explain | other
    step: int | None  # step number for kind == 'step'
    heading: str
    text: str  # plain text shown to the agent
    category: str
    connections: tuple[str, ...]
    title: str

    @property
    def key(self) -> str:
        """Stable id of the chunk within the knowledge base."""
        suffix = f"{self.kind}-{self.step}" if self.step is not None else self.kind
        if self.kind == "other":
            suffix = f"other-{_slug(self.heading)}"
        return f"{self.article_id}/{self.lang}/{suffix}"

    @property
    def embed_text(self) -> str:
        return f"{self.title}: {self.text}"

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode("utf-8")).hexdigest()


def plain(markdown_text: str) -> str:
    """Markdown to readable plain text: links to their label, markup and bullets dropped."""
    text = _LINK.sub(r"\1", markdown_text)
    text = _BULLET.sub("", text)
    text = _MARKUP.sub("", text)
    return re.sub(r"[ \t]*\n[ \t]*", "\n", text).strip()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "section"


def chunk_article(a: Article) -> list[Chunk]:
    """Split one article into chunks, in reading order."""
    base = dict(article_id=a.id, lang=a.lang, category=a.category, connections=tuple(a.connections), title=a.title)
    summary = "; ".join(a.symptoms) or a.title
    chunks = [Chunk(kind="summary", step=None, heading=a.title, text=summary, **base)]
    for section in a.sections:
        if section.kind == "steps":
            for s in a.steps:
                text = plain(s.action)
                if s.expected:
                    text += "\n" + plain(s.expected)
                chunks.append(
                    Chunk(kind="step", step=s.number, heading=f"{section.heading} {s.number}", text=text, **base)
                )
        elif section.text.strip():
            chunks.append(
                Chunk(kind=section.kind, step=None, heading=section.heading, text=plain(section.text), **base)
            )
    return chunks


def bm25_text(chunk: Chunk, tags: list[str]) -> str:
    """Text that BM25 indexes: the chunk, its title, and for the summary the tags too."""
    if chunk.kind == "summary":
        return f"{chunk.title} {chunk.text} {' '.join(tags)}"
    return f"{chunk.title} {chunk.text}"
