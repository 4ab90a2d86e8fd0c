"""`kb bench messages`: pasted messages of 600 characters and short queries, idle and next to a busy process."""

from __future__ import annotations

from kb.search import bench
from kb.search.bench import DEFAULT_MESSAGE, MESSAGE_CHARS, bench_messages, run_message_bench
from kb.search.bundle import build_index


def test_the_benchmark_messages_are_the_length_asked_for(tmp_path, monkeypatch):
    messages = bench_messages()  # run from the repository root: the development messages
    assert len(messages) >= 10 and all(len(m) == MESSAGE_CHARS for m in messages)
    assert any("\n" in m for m in messages)  # pasted with their line breaks
    monkeypatch.chdir(tmp_path)  # no evaluation file here
    assert bench_messages(400) == [DEFAULT_MESSAGE[:400]] and len(DEFAULT_MESSAGE) >= MESSAGE_CHARS


def test_the_message_benchmark_times_both_kinds_of_search(small_kb, tmp_path, fake_embedder, monkeypatch):
    build_index(small_kb, tmp_path / "index", fake_embedder)
    fake_embedder.threads = 1
    monkeypatch.setattr(bench, "load_embedder", lambda model=None: fake_embedder)
    results = run_message_bench(tmp_path / "index", model="fake-embedder", runs=12, under_load=True, log=None)
    for phase in ("idle", "cpu"):
        for name in ("short", "message600"):
            assert 0 < results[f"{phase}_{name}_p50_ms"] <= results[f"{phase}_{name}_p95_ms"]
        assert len(results[f"{phase}_load_average"]) == 3
    assert results["message_chars"] == 600 and results["dense_chars"] > 0
