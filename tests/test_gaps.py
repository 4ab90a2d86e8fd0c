"""kb.gaps: flagged searches appended to a JSON Lines file, readable newest first."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from kb.errors import QueryError
from kb.gaps import GapLog, flag_gap


def test_flags_are_kept_newest_first_with_a_cleaned_query(tmp_path):
    store = GapLog(tmp_path / "instance" / "gaps.jsonl")
    flag_gap(store, "modem  makes\ta noise", "en", 3)
    flag_gap(store, "tv zegt geen signaal", "nl", None)
    newest, oldest = store.recent()
    assert (newest.query, newest.lang, newest.user_id) == ("tv zegt geen signaal", "nl", None)
    assert (oldest.query, oldest.lang, oldest.user_id) == ("modem makes a noise", "en", 3)
    assert oldest.at <= newest.at and oldest.at.tzinfo is not None
    assert len(store.recent(limit=1)) == 1


def test_the_file_is_private_and_a_torn_line_is_skipped(tmp_path):
    store = GapLog(tmp_path / "gaps.jsonl")
    flag_gap(store, "first", None, 1)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600  # the queries are customer data
    with store.path.open("a", encoding="utf-8") as fh:
        fh.write('{"query": "cut sh')
    assert [g.query for g in store.recent()] == ["first"]


def test_concurrent_flags_all_arrive_whole(tmp_path):
    store = GapLog(tmp_path / "gaps.jsonl")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: flag_gap(store, f"query {n} " + "x" * 900, "en", n), range(64)))
    assert sorted(g.user_id for g in store.recent(limit=100)) == list(range(64))


@pytest.mark.parametrize("query, lang, message", [
    ("   ", "en", "the query is empty"),
    ("x" * 1001, "en", "the limit is 1000"),
    ("dsl", "de", "the language 'de' is unknown; use one of nl, en"),
])
def test_unusable_flags_are_refused(tmp_path, query, lang, message):
    store = GapLog(tmp_path / "gaps.jsonl")
    with pytest.raises(QueryError, match=message):
        flag_gap(store, query, lang, 1)
    assert store.recent() == []
