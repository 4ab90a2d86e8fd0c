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
    assert lines[0] == f"{path}:2: 'expected' must be a non-empty list of article ids"
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
    assert set(m) == {"hit@1", "hit@3", "hit@5", "mrr@10", "count", "by_lang"}
    assert m["count"] == 3 and m["hit@1"] == round(2 / 3, 4) and m["mrr@10"] == round(2 / 3, 4)
    assert m["by_lang"]["nl"] == {"hit@1": 1.0, "hit@3": 1.0, "hit@5": 1.0, "mrr@10": 1.0, "count": 1}
    assert m["by_lang"]["en"]["hit@1"] == 0.5
    assert [miss["line"] for miss in report.misses] == [3]


def test_eval_sets_cover_every_article_in_both_languages():
    from tests.conftest import ROOT

    shipped = {path.stem for path in (ROOT / "articles").glob("*/*.md")}
    for name, minimum in (("queries.jsonl", 3 * 2 * len(shipped)), ("holdout.jsonl", 2 * len(shipped))):
        queries = read_eval_file(ROOT / "tests" / "eval" / name)
        assert len(queries) >= minimum
        for lang in ("nl", "en"):
            covered = {q.expected[0] for q in queries if q.lang == lang}
            assert covered == shipped, (name, lang, shipped - covered)
