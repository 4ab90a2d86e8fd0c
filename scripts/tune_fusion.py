"""Grid-search the fusion settings on the development set; print a table (see README, "Fusion").

Usage: python scripts/tune_fusion.py [--eval tests/eval/queries.jsonl] [--index index]
Query embeddings are computed once and reused across settings.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import replace
from pathlib import Path

from kb.search.embedding import load_embedder
from kb.search.evaluation import evaluate, read_eval_file
from kb.search.searcher import Searcher


class CachedQueries:
    """Wraps an embedder so each distinct query is embedded once."""

    def __init__(self, inner):
        self.inner, self.name, self.dim, self._cache = inner, inner.name, inner.dim, {}

    def embed_queries(self, texts):
        import numpy as np

        missing = [t for t in texts if t not in self._cache]
        if missing:
            for t, v in zip(missing, self.inner.embed_queries(missing), strict=True):
                self._cache[t] = v
        return np.stack([self._cache[t] for t in texts])

    def embed_documents(self, texts):
        return self.inner.embed_documents(texts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--eval", default="tests/eval/queries.jsonl")
    p.add_argument("--index", default="index")
    p.add_argument("--model", default=None)
    args = p.parse_args()
    queries = read_eval_file(Path(args.eval))
    searcher = Searcher(Path(args.index), CachedQueries(load_embedder(args.model)))
    rows = []
    for mode in ("dense", "bm25"):
        m = evaluate(searcher, queries, mode=mode).metrics
        rows.append((mode, "-", "-", m))
    for weight, penalty in itertools.product((0.3, 0.4, 0.5, 0.6, 0.7, 0.8), (0.8, 0.9, 1.0)):
        searcher.fusion = replace(searcher.fusion, dense_weight=weight, other_lang_penalty=penalty)
        rows.append(("hybrid", weight, penalty, evaluate(searcher, queries).metrics))
    print(
        f"{'mode':7} {'dense_w':>7} {'lang_pen':>8} {'hit@1':>6} {'hit@3':>6} {'mrr@10':>6} "
        f"{'nl hit@3':>8} {'en hit@3':>8}"
    )
    for mode, w, pen, m in rows:
        print(
            f"{mode:7} {w!s:>7} {pen!s:>8} {m['hit@1']:6.3f} {m['hit@3']:6.3f} {m['mrr@10']:6.3f} "
            f"{m['by_lang']['nl']['hit@3']:8.3f} {m['by_lang']['en']['hit@3']:8.3f}"
        )


if __name__ == "__main__":
    main()
