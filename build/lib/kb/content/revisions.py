"""Revisions: which version of an article someone saw.

Every article text has a revision id (the start of the SHA-256 of its text: the same text gives
the same id on every host, an edit gives a new one). A `Snapshot` is the set of published texts
one search bundle was built from; the web app shows articles from the snapshot the search used,
so the page, the step search said matched, and the checklist all come from one text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from kb.content.articles import Article, parse_article
from kb.errors import ArticleError


class Snapshot:
    """Parsed article versions by (id, lang), each with its revision; read-only once built."""

    def __init__(self, articles: Iterable[Article]):
        self._by_key = {(a.id, a.lang): a for a in articles}
        self._by_revision = {a.revision: a for a in self._by_key.values()}

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Article]:
        return iter(self._by_key.values())

    def get(self, article_id: str, lang: str) -> Article | None:
        return self._by_key.get((article_id, lang))

    def versions(self, article_id: str) -> dict[str, Article]:
        """The language versions of one article, by language."""
        return {lang: a for (aid, lang), a in self._by_key.items() if aid == article_id}

    def at(self, revision: str) -> Article | None:
        """The version with this revision id, if it is in the snapshot."""
        return self._by_revision.get(revision)

    def ids(self) -> list[str]:
        return sorted({aid for aid, _ in self._by_key})

    def write(self, path: Path) -> None:
        """One JSON line per version: id, lang, revision, the path it came from, and its text."""
        with open(path, "w", encoding="utf-8") as fh:
            for (aid, lang), a in sorted(self._by_key.items()):
                fh.write(
                    json.dumps(
                        {"id": aid, "lang": lang, "revision": a.revision, "path": a.path, "text": a.text},
                        ensure_ascii=False,
                    )
                    + "\n"
                )

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        """Read what `write` wrote; raises ValueError when a line is damaged or its text changed."""
        articles = []
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                record = json.loads(line)
                try:
                    article = parse_article(record["text"], record["path"])
                except ArticleError as exc:
                    raise ValueError(f"{path.name}:{number}: {exc}") from exc
                if article.revision != record["revision"]:
                    raise ValueError(f"{path.name}:{number}: text does not match revision {record['revision']}")
                articles.append(article)
        return cls(articles)
