"""kb eval: file parsing with line numbers, and the metrics themselves."""

import json

import pytest

from kb.errors import EvalFileError
from kb.search.bundle import build_index
from kb.search.evaluation import evaluate, read_eval_file
from kb.search.searcher import Searcher


def write(tmp_path, lines):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bad_lines_are_reported_with_their_numbers(tmp_path):
    path = write(
        tmp_path,
        [
            '{"query": "dsl blinking", "expected": ["dsl-no-sync"], "lang": "en"}',
            '{"query": "x", "expected": "dsl-no-sync"}',
            "not json",
            "",
            '{"query": "", "expected": ["a"]}',
            '{"query": "y", "expected": ["a"], "lang": "de"}',
        ],
    )
    with pytest.raises(EvalFileError) as err:
        read_eval_file(path)
    lines = str(err.value).splitlines()
    assert lines[0] == (
        f"{path}:2: 'expected' must be a non-empty list of article ids, or [] for a query the KB does not answer"
    )
    assert lines[1].startswith(f"{path}:3: not valid JSON")
    assert lines[2] == f"{path}:5: 'query' must be a non-empty string"
    assert lines[3] == f"{path}:6: 'lang' must be nl or en (found 'de')"


def test_metrics_count_hits_over_distinct_articles(small_kb, tmp_path, fake_embedder):
    build_index(small_kb, tmp_path / "index", fake_embedder)
    searcher = Searcher(tmp_path / "index", fake_embedder)
    path = write(
        tmp_path,
        [
            json.dumps({"query": "dsl light blinking no sync", "expected": ["dsl-no-sync"], "lang": "en"}),
            json.dumps({"query": "los lampje rood glasvezel", "expected": ["fiber-los-red-light"], "lang": "nl"}),
            json.dumps({"query": "dsl light blinking no sync", "expected": ["not-in-the-kb"], "lang": "en"}),
        ],
    )
    report = evaluate(searcher, read_eval_file(path))
    m = report.metrics
    assert set(m) == {"hit@1", "hit@3", "hit@5", "mrr@10", "count", "weak_rate", "by_lang"}
    assert m["count"] == 3 and m["hit@1"] == round(2 / 3, 4) and m["mrr@10"] == round(2 / 3, 4)
    nl_weak = searcher.search("los lampje rood glasvezel", k=10, lang="nl").weak
    assert m["by_lang"]["nl"] == {
        "hit@1": 1.0,
        "hit@3": 1.0,
        "hit@5": 1.0,
        "mrr@10": 1.0,
        "count": 1,
        "weak_rate": float(nl_weak),
    }
    assert m["by_lang"]["en"]["hit@1"] == 0.5
    assert [miss["line"] for miss in report.misses] == [3]


def test_eval_sets_cover_every_article_in_both_languages():
    from tests.conftest import ROOT

    shipped = {path.stem for path in (ROOT / "articles").glob("*/*.md")}
    sets = {"queries.jsonl": 6, "holdout.jsonl": 2, "short_queries.jsonl": 2, "short_holdout.jsonl": 2}
    for name, minimum in ((name, per_article * len(shipped)) for name, per_article in sets.items()):
        queries = read_eval_file(ROOT / "tests" / "eval" / name)
        assert len(queries) >= minimum
        for lang in ("nl", "en"):
            covered = {q.expected[0] for q in queries if q.lang == lang}
            assert covered == shipped, (name, lang, shipped - covered)


def test_out_of_scope_lines_give_the_true_weak_rate_and_answerable_ones_the_false_weak_rate(
    small_kb, tmp_path, fake_embedder
):
    build_index(small_kb, tmp_path / "index", fake_embedder)
    searcher = Searcher(tmp_path / "index", fake_embedder)
    lines = [
        ("dsl light blinking no sync", ["dsl-no-sync"], "en"),
        ("los lampje rood glasvezel", ["fiber-los-red-light"], "nl"),
        ("order a pizza with extra cheese", [], "en"),
        ("?!? ...", [], "en"),
        ("recept voor appeltaart", [], "nl"),
    ]
    path = write(tmp_path, [json.dumps({"query": q, "expected": e, "lang": lang}) for q, e, lang in lines])
    queries = read_eval_file(path)
    assert [q.out_of_scope for q in queries] == [False, False, True, True, True]
    report = evaluate(searcher, queries)
    weak = [searcher.search(q, k=10, lang=lang).weak for q, _, lang in lines]
    m = report.metrics
    assert m["count"] == 2 and m["out_of_scope_count"] == 3
    assert m["weak_rate"] == round(sum(weak[:2]) / 2, 4)
    assert m["true_weak_rate"] == round(sum(weak[2:]) / 3, 4)
    assert m["by_lang"]["en"]["true_weak_rate"] == round(sum(weak[2:4]) / 2, 4)
    assert m["by_lang"]["nl"]["true_weak_rate"] == float(weak[4]) and m["by_lang"]["nl"]["out_of_scope_count"] == 1
    assert weak[3]  # a query without words is always weak
    kinds = {(e["line"], e["kind"]) for e in report.weak_errors}
    expected_kinds = {(i + 1, "false weak") for i in range(2) if weak[i]}
    expected_kinds |= {(i + 1, "not flagged") for i in range(2, 5) if not weak[i]}
    assert kinds == expected_kinds


def test_a_file_of_out_of_scope_lines_only_has_no_false_weak_rate(small_kb, tmp_path, fake_embedder):
    build_index(small_kb, tmp_path / "index", fake_embedder)
    searcher = Searcher(tmp_path / "index", fake_embedder)
    path = write(tmp_path, [json.dumps({"query": "?!?", "expected": [], "lang": "en"})])
    m = evaluate(searcher, read_eval_file(path)).metrics
    assert m["count"] == 0 and m["weak_rate"] is None and m["true_weak_rate"] == 1.0


def test_out_of_scope_sets_are_large_bilingual_and_separate():
    from tests.conftest import ROOT

    dev = read_eval_file(ROOT / "tests" / "eval" / "out_of_scope.jsonl")
    held_out = read_eval_file(ROOT / "tests" / "eval" / "out_of_scope_holdout.jsonl")
    assert len(dev) + len(held_out) >= 150 and len(held_out) >= 50
    for queries in (dev, held_out):
        assert all(q.out_of_scope for q in queries)
        assert {q.lang for q in queries} == {"nl", "en"}
        assert min(sum(q.lang == lang for q in queries) for lang in ("nl", "en")) >= len(queries) // 2 - 1
    assert not {q.query.lower() for q in dev} & {q.query.lower() for q in held_out}
