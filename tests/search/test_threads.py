"""Thread settings: a server embeds one query at a time on one thread; `kb index` uses every core."""

from __future__ import annotations

import os

import pytest

from kb.errors import ModelUnavailable
from kb.search.embedding import INDEX, QUERY, thread_count


@pytest.fixture(autouse=True)
def _no_thread_settings(monkeypatch):
    for name in ("KB_QUERY_THREADS", "KB_INDEX_THREADS", "KB_TORCH_THREADS"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_one_query_thread_and_every_core_for_indexing():
    assert thread_count(QUERY) == 1
    assert thread_count(INDEX) == (os.cpu_count() or 1)


def test_settings_are_read_per_purpose(monkeypatch):
    monkeypatch.setenv("KB_QUERY_THREADS", "2")
    monkeypatch.setenv("KB_INDEX_THREADS", "3")
    assert (thread_count(QUERY), thread_count(INDEX)) == (2, 3)


def test_the_old_torch_setting_still_sets_the_query_threads(monkeypatch):
    monkeypatch.setenv("KB_TORCH_THREADS", "2")
    assert thread_count(QUERY) == 2 and thread_count(INDEX) == (os.cpu_count() or 1)


@pytest.mark.parametrize("value", ["0", "-1", "many", "1.5", "999"])
def test_a_bad_setting_says_what_to_do(monkeypatch, value):
    monkeypatch.setenv("KB_QUERY_THREADS", value)
    with pytest.raises(ModelUnavailable, match=r"KB_QUERY_THREADS must be a whole number from 1 to 256"):
        thread_count(QUERY)


def test_kb_index_lowers_its_own_priority(monkeypatch):
    from kb.cli import search

    calls = []
    monkeypatch.setattr(os, "nice", lambda n: calls.append(n) or n)
    monkeypatch.setenv("KB_INDEX_NICE", "7")
    search.lower_priority()
    monkeypatch.setenv("KB_INDEX_NICE", "40")
    search.lower_priority()
    assert calls == [7, 19]


def test_each_request_thread_is_held_to_the_query_thread_count():
    """torch's thread setting is per thread: a server's new request thread starts with every core."""
    import threading

    import numpy as np
    import torch

    from kb.search.embedding import SentenceTransformerEmbedder

    class Model:
        def encode_query(self, texts, **kwargs):
            seen.append(torch.get_num_threads())
            return np.ones((len(texts), 4), dtype=np.float32)

    seen: list[int] = []
    embedder = SentenceTransformerEmbedder("fake", Model(), 4, threads=1)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # what a fresh thread may start with
        worker = threading.Thread(target=lambda: (torch.set_num_threads(2), embedder.embed_queries(["q"])))
        worker.start()
        worker.join()
    finally:
        torch.set_num_threads(before)
    assert seen == [1]
