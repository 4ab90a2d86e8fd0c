"""Content gaps: searches an agent flagged because no article answered them.

Editors read these to decide which articles to write next. Flags are appended to a JSON Lines
file for now (`GapLog`); a database table can replace it behind the same two methods, `add`
and `recent`, without the callers changing.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator, Protocol

from kb.db import utcnow
from kb.errors import QueryError
from kb.search import clean_query

LANGUAGES = ("nl", "en")


@dataclass(frozen=True)
class Gap:
    """One flag: what the agent searched for, in which language, who flagged it and when (UTC)."""

    query: str
    lang: str | None
    user_id: int | None
    at: datetime


class GapStore(Protocol):
    def add(self, gap: Gap) -> None: ...

    def recent(self, limit: int = 100) -> list[Gap]: ...


class GapLog:
    """Gaps as JSON Lines in one file; appends from several worker processes are serialised by a lock."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def add(self, gap: Gap) -> None:
        record = {**asdict(gap), "at": gap.at.isoformat()}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The queries are customer data: the file is readable by the service account only.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as fh, _locked(fh):
            fh.write(line)

    def recent(self, limit: int = 100) -> list[Gap]:
        """The newest `limit` gaps, newest first. Lines that cannot be read are skipped."""
        if not self.path.exists():
            return []
        gaps = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                gaps.append(Gap(record["query"], record.get("lang"), record.get("user_id"),
                                datetime.fromisoformat(record["at"])))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash
        return gaps[::-1][:limit]


@contextmanager
def _locked(fh) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not on POSIX: O_APPEND alone keeps short lines whole
        yield
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def flag_gap(store: GapStore, query, lang: str | None, user_id: int | None) -> Gap:
    """Record that `query` found no good article. Raises QueryError for an empty or oversized query."""
    query = clean_query(query)
    if lang is not None and lang not in LANGUAGES:
        raise QueryError(f"the language '{str(lang)[:10]}' is unknown; use one of {', '.join(LANGUAGES)}")
    gap = Gap(query, lang, user_id, utcnow())
    store.add(gap)
    return gap
