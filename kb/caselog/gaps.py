"""Content gaps: searches an agent flagged because no article answered them.

Editors read these to decide which articles to write next. `flag_gap` checks a flag and hands it
to a store with two methods, `add` and `recent`; the store of the app is `GapTable`, the
content_gaps table in the database (SQLite or PostgreSQL), so the flags of every host end up in
one place. `GapTable.add` validates, then writes in one transaction that is committed before it
returns. The queries are customer data: nothing here writes them to a log, and `Gap` keeps the
query out of its repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, select

from kb.errors import InvalidInput, NotFound, QueryError
from kb.search.searcher import clean_query
from kb.store import engine as db
from kb.store.tables import LANGUAGES, CaseRow, ContentGapRow, UserRow, check_choice, check_id, check_text

__all__ = ["LANGUAGES", "MAX_RECENT", "Gap", "GapStore", "GapTable", "flag_gap"]

MAX_RECENT = 1000


@dataclass(frozen=True)
class Gap:
    """One flag: what the agent searched for, in which language, who flagged it and when (UTC),
    and the case the agent was working on, if any."""

    query: str = field(repr=False)  # customer data: kept out of repr so a logged Gap leaks nothing
    lang: str | None
    user_id: int | None
    at: datetime
    case_id: int | None = None
    vector: bytes | None = field(default=None, repr=False, compare=False)  # the query's embedding, float32


class GapStore(Protocol):
    def add(self, gap: Gap) -> None: ...

    def recent(self, limit: int = 100) -> list[Gap]: ...


class GapTable:
    """Gaps as rows of the content_gaps table; safe to share between threads, processes and hosts."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def add(self, gap: Gap) -> None:
        """Store one flag. Raises InvalidInput for a value the table cannot hold, NotFound for an
        unknown user or case."""
        query = check_text("query", gap.query, label="search query")
        lang = None if gap.lang is None else check_choice("lang", gap.lang, LANGUAGES, label="language")
        user_id = None if gap.user_id is None else check_id("user_id", gap.user_id)
        case_id = None if gap.case_id is None else check_id("case_id", gap.case_id)
        if not isinstance(gap.at, datetime) or gap.at.utcoffset() is None:
            raise InvalidInput(
                "at", "The time of a flag must be a timezone-aware datetime (use kb.store.engine.utcnow())."
            )
        with db.session_scope(self.engine) as session:
            if user_id is not None and session.get(UserRow, user_id) is None:
                raise NotFound(f"There is no user with id {user_id}; log in again.")
            if case_id is not None and session.get(CaseRow, case_id) is None:
                raise NotFound(f"There is no case {case_id}; check the case number.")
            session.add(
                ContentGapRow(query=query, lang=lang, user_id=user_id, case_id=case_id, at=gap.at, vector=gap.vector)
            )

    def add_weak(
        self, query: str, lang: str | None, user_id: int, case_id: int | None, vector: bytes | None = None
    ) -> None:
        """Keep a search whose best match was weak (source "weak"), with its embedding for clustering.

        Search-as-you-type sends "printr", "printer wifi", "printer wifi offline" within seconds: a
        weak search that extends or shortens the same user's previous one of less than
        REFINE_WINDOW_SECONDS ago replaces it, so the worklist counts searches, not keystrokes.
        """
        from kb.caselog.cases import REFINE_WINDOW_SECONDS, _refines

        query = check_text("query", query, label="search query")
        lang = None if lang is None else check_choice("lang", lang, LANGUAGES, label="language")
        user_id = check_id("user_id", user_id)
        now = db.utcnow()
        with db.session_scope(self.engine) as session:
            last = session.scalars(
                select(ContentGapRow)
                .where(ContentGapRow.user_id == user_id, ContentGapRow.source == "weak")
                .order_by(ContentGapRow.id.desc())
                .limit(1)
            ).first()
            if (
                last is not None
                and (now - last.at).total_seconds() < REFINE_WINDOW_SECONDS
                and _refines(last.query, query)
            ):
                last.query, last.at, last.vector, last.lang, last.case_id = query, now, vector, lang, case_id
                return
            session.add(
                ContentGapRow(
                    query=query, lang=lang, user_id=user_id, case_id=case_id, at=now, source="weak", vector=vector
                )
            )

    def recent(self, limit: int = 100, source: str = "flagged") -> list[Gap]:
        """The newest `limit` (1 to MAX_RECENT) gaps of `source`: "flagged" by agents or "weak" searches."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RECENT:
            raise InvalidInput("limit", f"The limit must be a whole number from 1 to {MAX_RECENT}.")
        with db.session_scope(self.engine, readonly=True) as session:
            rows = session.scalars(
                select(ContentGapRow)
                .where(ContentGapRow.source == source)
                .order_by(ContentGapRow.at.desc(), ContentGapRow.id.desc())
                .limit(limit)
            ).all()
        return [Gap(row.query, row.lang, row.user_id, row.at, row.case_id) for row in rows]


def flag_gap(
    store: GapStore,
    query,
    lang: str | None,
    user_id: int | None,
    case_id: int | None = None,
    vector: bytes | None = None,
) -> Gap:
    """Record that `query` found no good article. Raises QueryError for an empty or oversized query
    or an unknown language; the store may refuse unknown user or case ids."""
    query = clean_query(query)
    if lang is not None and lang not in LANGUAGES:
        raise QueryError(f"the language '{str(lang)[:10]}' is unknown; use one of {', '.join(LANGUAGES)}")
    gap = Gap(query, lang, user_id, db.utcnow(), case_id, vector)
    store.add(gap)
    return gap
