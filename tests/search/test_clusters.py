"""Content-gap clustering: hand-made vectors for the rules, the real model for the quality floor."""

from __future__ import annotations

import json
from collections import Counter
from math import comb

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from kb.search import clusters
from kb.search.analysis import guess_language
from kb.search.clusters import Cluster, cluster_queries, embed_for_clustering, embedding_text, text_key
from tests.conftest import ROOT

EVAL_FILE = ROOT / "tests" / "eval" / "gap_clusters.jsonl"


def unit(*rows) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def partition(result: list[Cluster], texts=None) -> set[frozenset]:
    """The clusters as sets (of texts when given, else of indexes), order ignored."""
    return {frozenset(texts[i] if texts else i for i in c.members) for c in result}


def planted(n_gaps: int, per_gap: int, singles: int, dim: int = 64, seed: int = 0, common: float = 0.0):
    """Unit vectors around random gap centres (within-gap similarity about 0.9), plus one-offs."""
    rng = np.random.default_rng(seed)
    truth = np.r_[np.repeat(np.arange(n_gaps), per_gap), np.arange(n_gaps, n_gaps + singles)]
    centres = rng.standard_normal((n_gaps + singles, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    shared = rng.standard_normal(dim)
    shared /= np.linalg.norm(shared)
    noise = rng.standard_normal((len(truth), dim)) / np.sqrt(dim)
    v = np.sqrt(common) * shared + np.sqrt(0.92 - common) * centres[truth] + np.sqrt(0.08) * noise
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    texts = [f"query {i} about gap {g}" for i, g in enumerate(truth)]
    return texts, v.astype(np.float32), truth


def scipy_average(vectors: np.ndarray, threshold: float) -> set[frozenset]:
    """Reference: scipy's UPGMA on all pairs, cut where the mean similarity falls below threshold."""
    v = vectors.astype(np.float64)
    distance = np.clip(1 - v @ v.T, 0, None)
    np.fill_diagonal(distance, 0)
    labels = fcluster(linkage(squareform(distance, checks=False), "average"), 1 - threshold, "distance")
    return {frozenset(np.flatnonzero(labels == k).tolist()) for k in set(labels.tolist())}


# --- input checks --------------------------------------------------------------------------------


def test_empty_input_gives_no_clusters():
    assert cluster_queries([], np.zeros((0, 8), dtype=np.float32)) == []
    assert cluster_queries([], np.zeros(0, dtype=np.float32)) == []


@pytest.mark.parametrize(
    "texts, vectors, message",
    [
        (["a", "b"], np.ones((3, 4)), "2 texts but 3 vector rows"),
        (["a"], np.ones(4), "2-D array"),
        ([], np.ones((2, 4)), "0 texts but 2 vector rows"),
        (["a", "b"], np.ones((2, 0)), "2-D array"),
        (["a", "b"], np.array([[1.0, 0.0], [np.nan, 1.0]]), "NaN or infinite"),
        (["a", "b"], np.array([[1.0, 0.0], [0.0, 0.0]]), "vector row 1 is zero"),
        (["a", 7], np.eye(2), "text 1 is int"),
    ],
)
def test_bad_input_is_refused_with_what_is_wrong(texts, vectors, message):
    with pytest.raises(ValueError, match=message):
        cluster_queries(texts, vectors)


def test_threshold_and_size_limits():
    with pytest.raises(ValueError, match="threshold"):
        cluster_queries(["a"], unit([1, 0]), threshold=0)
    with pytest.raises(ValueError, match="threshold"):
        cluster_queries(["a"], unit([1, 0]), threshold=1.5)
    with pytest.raises(ValueError, match="3 queries to cluster; the limit is 2"):
        cluster_queries(["a", "b", "c"], np.eye(3), max_items=2)


# --- the rules -----------------------------------------------------------------------------------


def test_identical_texts_always_merge_and_far_apart_queries_stay_alone():
    texts = ["WiFi printer offline", "wifi   printer offline?", "tv zenders weg", "esim activeren"]
    vectors = np.eye(4, dtype=np.float32)  # all orthogonal: only the text says 0 and 1 are one query
    result = cluster_queries(texts, vectors)
    assert partition(result) == {frozenset({0, 1}), frozenset({2}), frozenset({3})}
    assert result[0].size == 2 and result[0].label in {"WiFi printer offline", "wifi printer offline?"}


def test_orthogonal_queries_are_all_singletons():
    texts = [f"gap {i}" for i in range(6)]
    result = cluster_queries(texts, np.eye(6, dtype=np.float32), threshold=0.5)
    assert [c.members for c in result] == [(i,) for i in range(6)]  # size ties: by label


def test_no_chaining_when_the_ends_are_far_apart():
    # B is 0.9 from A and from C, but A and C are 0.62 apart: single linkage would chain all three.
    cos = 0.9
    sin = np.sqrt(1 - cos**2)
    vectors = unit([cos, sin, 0], [1, 0, 0], [cos, -sin, 0])
    result = cluster_queries(["a", "b", "c"], vectors, threshold=0.8)
    assert partition(result) == {frozenset({0, 1}), frozenset({2})}  # the tie goes to the lowest pair

    # A longer arc: each step 0.95, the ends nearly orthogonal; no cluster may span it.
    angles = np.arange(12) * np.arccos(0.95)
    arc = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    result = cluster_queries([f"q{i}" for i in range(12)], arc, threshold=0.9)
    for c in result:
        sims = arc[list(c.members)] @ arc[list(c.members)].T
        assert sims[np.triu_indices(c.size, 1)].mean() >= 0.9 if c.size > 1 else True
    assert max(c.size for c in result) < 12


def test_members_most_central_first_and_clusters_by_size_then_label():
    texts = ["edge one", "the centre", "edge two", "pair b", "pair a", "alone"]
    vectors = unit(
        [1, 0.35, 0, 0, 0],
        [1, 0, 0, 0, 0],
        [1, -0.35, 0, 0, 0],
        [0, 0, 1, 0.1, 0],
        [0, 0, 1, -0.1, 0],
        [0, 0, 0, 0, 1],
    )
    result = cluster_queries(texts, vectors, threshold=0.85)
    assert [c.size for c in result] == [3, 2, 1]
    assert result[0].members[0] == 1 and result[0].label == "the centre"
    assert set(result[0].members) == {0, 1, 2}
    assert result[1].members == (3, 4) and result[1].label == "pair b"  # equal centrality: lower index first
    assert result[2] == Cluster(members=(5,), label="alone")


def test_sizes_tie_on_label():
    texts = ["zz", "zz 2", "aa", "aa 2"]
    vectors = unit([1, 0.01, 0], [1, -0.01, 0], [0, 1, 0.01], [0, 1, -0.01])
    assert [c.label for c in cluster_queries(texts, vectors)] == ["aa", "zz"]


def test_label_is_the_cleaned_query():
    texts = ["  wifi\tprinter\x00 offline  ", "wifi printer offline!"]
    result = cluster_queries(texts, unit([1, 0], [1, 0.01]))
    assert result[0].label in {"wifi printer offline", "wifi printer offline!"}
    assert "\x00" not in result[0].label and "  " not in result[0].label


def test_repeats_pull_the_label_to_the_common_phrasing():
    texts = ["printer via wifi weg", "wifi printer offline", "wifi printer offline", "WIFI PRINTER OFFLINE"]
    vectors = unit([1, 0.3, 0], [1, 0, 0.1], [1, 0, 0.1], [1, 0, 0.12])
    result = cluster_queries(texts, vectors, threshold=0.8)
    assert len(result) == 1 and result[0].label.casefold() == "wifi printer offline"
    assert result[0].members[-1] == 0


def test_deterministic_and_independent_of_input_order():
    texts, vectors, _ = planted(n_gaps=12, per_gap=5, singles=20, common=0.6)
    first = cluster_queries(texts, vectors)
    assert cluster_queries(texts, vectors) == first
    perm = np.random.default_rng(1).permutation(len(texts))
    shuffled = cluster_queries([texts[i] for i in perm], vectors[perm])
    assert partition(shuffled, [texts[i] for i in perm]) == partition(first, texts)


@pytest.mark.parametrize("common", [0.0, 0.6, 0.8])
def test_matches_scipy_average_linkage(common, monkeypatch):
    """The same partition as scipy's average linkage on every pair."""
    texts, vectors, _ = planted(n_gaps=15, per_gap=6, singles=30, common=common, seed=2)
    threshold = 0.86 if common else 0.75
    expected = scipy_average(vectors, threshold)
    assert partition(cluster_queries(texts, vectors, threshold=threshold)) == expected
    monkeypatch.setattr(clusters, "NEIGHBOURS", 4)  # few candidates per query: the later rounds find the rest
    assert partition(cluster_queries(texts, vectors, threshold=threshold)) == expected


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.7, 0.8, 0.9])
def test_matches_scipy_on_unstructured_points(seed, threshold, monkeypatch):
    """Points spread over a 6-D sphere: many overlapping neighbourhoods, no planted structure."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((150, 6))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"q{i}" for i in range(150)]
    expected = scipy_average(vectors, threshold)
    assert partition(cluster_queries(texts, vectors, threshold=threshold)) == expected
    monkeypatch.setattr(clusters, "NEIGHBOURS", 4)  # few candidates per query: the later rounds find the rest
    assert partition(cluster_queries(texts, vectors, threshold=threshold)) == expected


def test_mixed_component_is_split_like_average_linkage():
    # Two tight groups joined by one middling query: one component, not a clique.
    rng = np.random.default_rng(5)
    a = unit(*(np.r_[1, 0, 0.05 * rng.standard_normal(6)] for _ in range(5)))
    b = unit(*(np.r_[0.6, 0.8, 0.05 * rng.standard_normal(6)] for _ in range(5)))
    bridge = unit(np.r_[0.9, 0.44, np.zeros(6)])
    vectors = np.vstack([a, b, bridge])
    texts = [f"q{i}" for i in range(len(vectors))]
    expected = scipy_average(vectors, 0.9)
    assert partition(cluster_queries(texts, vectors, threshold=0.9)) == expected
    assert len(expected) >= 2


def test_cells_path_recovers_planted_gaps(monkeypatch):
    """Above EXACT_LIMIT candidates come from overlapping cells; planted gaps still come out whole."""
    texts, vectors, truth = planted(n_gaps=60, per_gap=8, singles=200, dim=96, common=0.7, seed=3)
    monkeypatch.setattr(clusters, "EXACT_LIMIT", 100)
    monkeypatch.setattr(clusters, "CELL_SIZE", 60)
    result = cluster_queries(texts, vectors, threshold=0.85)
    expected = {frozenset(np.flatnonzero(truth == g).tolist()) for g in set(truth.tolist())}
    assert partition(result) == expected
    assert cluster_queries(texts, vectors, threshold=0.85) == result  # deterministic too


def test_duplicates_weigh_in_the_average():
    # "x" said four times: the cluster {x x4, y} has mean similarity 0.9, {x x4, y, z} does not reach 0.88.
    texts = ["x", "x", "X", "x!", "y", "z"]
    y = unit([0.9, np.sqrt(1 - 0.81), 0])[0]
    z = unit([0.86, 0, np.sqrt(1 - 0.86**2)])[0]
    vectors = np.stack([[1, 0, 0]] * 4 + [y, z]).astype(np.float32)
    result = cluster_queries(texts, vectors, threshold=0.88)
    assert partition(result) == {frozenset({0, 1, 2, 3, 4}), frozenset({5})}


# --- text handling and embedding -----------------------------------------------------------------


def test_text_key_and_embedding_text():
    assert text_key("  Wifi  printer, OFFLINE?? ") == text_key("wifi printer offline") == "wifi printer offline"
    assert text_key("???") == "???"
    assert embedding_text("klant wil kopie van factuur") == "wil kopie van factuur"
    assert embedding_text("Customer's router fan is loud, please help") == "router fan is loud, help"
    assert embedding_text("klant zegt:") == "klant zegt:"  # nothing left: keep the words


class CountingEmbedder:
    name, dim = "counting", 3

    def __init__(self):
        self.batches: list[list[str]] = []

    def embed_queries(self, texts):
        self.batches.append(list(texts))
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_embed_for_clustering_batches_cleans_and_normalises():
    embedder = CountingEmbedder()
    texts = ["klant: wifi weg", "tv\tzenders  weg", "a", "bb", "ccc"]
    vectors = embed_for_clustering(embedder, texts, batch_size=2)
    assert [len(b) for b in embedder.batches] == [2, 2, 1]
    assert embedder.batches[0] == ["wifi weg", "tv zenders weg"]
    assert vectors.shape == (5, 3) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert embed_for_clustering(embedder, []).shape == (0, 3)
    with pytest.raises(ValueError, match="batch_size"):
        embed_for_clustering(embedder, texts, batch_size=0)


def test_embed_then_cluster_with_the_fake_embedder(fake_embedder):
    texts = ["wifi printer offline", "printer offline wifi", "Wifi printer offline!", "tv zenders weg decoder"]
    result = cluster_queries(texts, embed_for_clustering(fake_embedder, texts), threshold=0.9)
    assert partition(result) == {frozenset({0, 1, 2}), frozenset({3})}


# --- the labelled set, and the real model --------------------------------------------------------


def read_eval() -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in EVAL_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert all(set(r) == {"query", "cluster"} and r["query"].strip() and r["cluster"].strip() for r in rows)
    return [r["query"] for r in rows], [r["cluster"] for r in rows]


def test_labelled_set_shape():
    queries, labels = read_eval()
    sizes = Counter(labels)
    gaps = [k for k, n in sizes.items() if n > 1]
    assert len(queries) >= 120 and len(set(map(text_key, queries))) >= len(queries) - 2
    assert 20 <= len(gaps) <= 25 and all(2 <= sizes[k] <= 10 for k in gaps)
    assert sum(n == 1 for n in sizes.values()) >= 15
    langs = {k: {guess_language(q) for q, label in zip(queries, labels, strict=True) if label == k} for k in gaps}
    assert sum({"nl", "en"} <= found for found in langs.values()) >= 20  # gaps are asked in both languages


def pair_scores(truth: list[str], predicted: list[int]) -> dict[str, float]:
    """Pairwise precision and recall over query pairs, and the adjusted Rand index."""
    same_true = Counter(truth)
    same_pred = Counter(predicted)
    both = Counter(zip(truth, predicted, strict=True))
    tp = sum(comb(n, 2) for n in both.values())
    true_pairs = sum(comb(n, 2) for n in same_true.values())
    pred_pairs = sum(comb(n, 2) for n in same_pred.values())
    expected = true_pairs * pred_pairs / comb(len(truth), 2)
    top = (true_pairs + pred_pairs) / 2
    precision, recall = tp / pred_pairs if pred_pairs else 1.0, tp / true_pairs
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if tp else 0.0,
        "ari": (tp - expected) / (top - expected),
    }


def scores_for(queries, labels, vectors) -> dict[str, float]:
    predicted = [0] * len(queries)
    for k, c in enumerate(cluster_queries(queries, vectors)):
        for i in c.members:
            predicted[i] = k
    return pair_scores(labels, predicted)


def test_pair_scores_are_the_textbook_ones():
    perfect = pair_scores(["a", "a", "b", "c"], [1, 1, 2, 3])
    assert perfect == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "ari": 1.0}
    merged = pair_scores(["a", "a", "b", "b"], [1, 1, 1, 1])
    assert merged["precision"] == pytest.approx(2 / 6) and merged["recall"] == 1.0 and merged["ari"] == 0.0


@pytest.fixture(scope="module")
def real_embedder():
    from kb.search.embedding import DEFAULT_MODEL, load_embedder

    return load_embedder(DEFAULT_MODEL)


@pytest.mark.integration
def test_real_model_clusters_the_labelled_gaps(real_embedder):
    """Floors just under what was measured (kb.search.clusters docstring) at the default threshold."""
    queries, labels = read_eval()
    vectors = embed_for_clustering(real_embedder, queries)
    whole = scores_for(queries, labels, vectors)
    assert whole["precision"] >= 0.62 and whole["recall"] >= 0.32 and whole["ari"] >= 0.41, whole
    odd = list(range(1, len(queries), 2))  # the held-out half: the threshold was tuned on the even lines
    held_out = scores_for([queries[i] for i in odd], [labels[i] for i in odd], vectors[odd])
    assert held_out["precision"] >= 0.68 and held_out["recall"] >= 0.5 and held_out["f1"] >= 0.58, held_out
