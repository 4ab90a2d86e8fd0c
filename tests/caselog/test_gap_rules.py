"""kb.caselog.gaps.flag_gap: checks a flag and hands it to the store (here an in-memory one; the table is
tested in tests/caselog/test_gaps.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kb.caselog.gaps import Gap, flag_gap
from kb.errors import QueryError
from kb.store import engine as db


class MemoryStore:
    """The GapStore interface over a list."""

    def __init__(self):
        self.gaps: list[Gap] = []

    def add(self, gap: Gap) -> None:
        self.gaps.append(gap)

    def recent(self, limit: int = 100) -> list[Gap]:
        return self.gaps[::-1][:limit]


NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(monkeypatch):
    monkeypatch.setattr(db, "utcnow", lambda: NOW)
    return MemoryStore()


def test_a_flag_is_stored_with_a_cleaned_query_and_the_time(store):
    gap = flag_gap(store, "  modem  makes\ta noise\n", "en", 3)
    assert gap == Gap("modem makes a noise", "en", 3, NOW, None)
    assert store.gaps == [gap]


def test_language_user_and_case_are_optional(store):
    gap = flag_gap(store, "tv zegt geen signaal", None, None)
    assert (gap.lang, gap.user_id, gap.case_id) == (None, None, None)
    assert flag_gap(store, "tv zegt geen signaal", "nl", 5, case_id=12).case_id == 12
    assert [g.case_id for g in store.recent()] == [12, None]


def test_the_query_stays_out_of_the_repr(store):
    gap = flag_gap(store, "customer 12345 at Dorpsstraat 1", "en", 3)
    assert "Dorpsstraat" not in repr(gap) and "12345" not in repr(gap)


def test_existing_callers_can_still_build_a_gap_without_a_case():
    assert Gap("dsl", "en", 1, NOW).case_id is None


@pytest.mark.parametrize(
    "query, lang, message",
    [
        ("   ", "en", "the query is empty"),
        (None, "en", "the query must be text"),
        ("x" * 5001, "en", "the limit is 5000"),
        ("dsl", "de", "the language 'de' is unknown; use one of nl, en"),
    ],
)
def test_unusable_flags_are_refused_before_the_store(store, query, lang, message):
    with pytest.raises(QueryError, match=message):
        flag_gap(store, query, lang, 1)
    assert store.gaps == []


def test_the_longest_query_is_accepted(store):
    assert len(flag_gap(store, "x" * 1000, "en", 1).query) == 1000
