"""A BM25 index over analysed chunks, with typo-tolerant, bilingual query analysis.

Scores are precomputed per (chunk, term) into a sparse matrix at build time, so a query is one
sparse column selection and a dot product.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse

from kb.search.analysis import SYNONYMS, analyze, query_words, stem

K1, B = 1.2, 0.75
SYNONYM_WEIGHT = 0.4
MIN_TYPO_LENGTH = 5


class BM25Index:
    """Chunk-by-term BM25 scores plus the surface vocabulary used to correct typos."""

    def __init__(self, vocab: list[str], matrix: sparse.csc_matrix, surface: dict[str, int]):
        self.vocab = {term: i for i, term in enumerate(vocab)}
        self.matrix = matrix
        self.surface = surface
        # Built here, before the index is shared: searches on several threads only ever read it.
        self._deletes = _deletes_table(surface)

    @classmethod
    def build(cls, texts: list[str], langs: list[str]) -> BM25Index:
        """Index one text per chunk, each analysed in its own language."""
        docs = [analyze(t, lang) for t, lang in zip(texts, langs, strict=True)]
        surface: Counter = Counter()
        for text in texts:
            surface.update(set(query_words(text)))
        vocab = sorted({t for d in docs for t in d})
        col = {t: i for i, t in enumerate(vocab)}
        n = len(docs)
        lengths = np.array([len(d) for d in docs], dtype=np.float64)
        avgdl = float(lengths.mean()) if n and lengths.mean() > 0 else 1.0
        df = Counter(t for d in docs for t in set(d))
        rows, cols, vals = [], [], []
        for i, d in enumerate(docs):
            norm = K1 * (1 - B + B * lengths[i] / avgdl)
            for term, tf in Counter(d).items():
                idf = np.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                rows.append(i)
                cols.append(col[term])
                vals.append(idf * tf * (K1 + 1) / (tf + norm))
        matrix = sparse.csc_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(n, len(vocab)))
        return cls(vocab, matrix, dict(surface))

    def save(self, folder: Path) -> None:
        m = self.matrix
        np.savez(folder / "bm25.npz", data=m.data, indices=m.indices, indptr=m.indptr, shape=np.array(m.shape))
        record = {"k1": K1, "b": B, "vocab": sorted(self.vocab, key=self.vocab.get), "surface": self.surface}
        (folder / "bm25.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        arrays = np.load(folder / "bm25.npz")
        matrix = sparse.csc_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"]))
        record = json.loads((folder / "bm25.json").read_text(encoding="utf-8"))
        return cls(record["vocab"], matrix, record["surface"])

    # -- queries ---------------------------------------------------------------------------

    def query_terms(self, query: str) -> dict[int, float]:
        """Vocabulary columns and weights for a query, in either language, typos corrected."""
        weights: dict[int, float] = {}

        def add(word: str, weight: float) -> bool:
            found = False
            for lang in ("nl", "en"):
                column = self.vocab.get(stem(word, lang))
                if column is not None:
                    weights[column] = max(weights.get(column, 0.0), weight)
                    found = True
            return found

        for word in query_words(query):
            matched = add(word, 1.0)
            if not matched and word not in self.surface:
                for part in self._split_compound(word) or self._correct(word):
                    matched = add(part, 0.9) or matched
            for synonym in SYNONYMS.get(word, ()):
                add(synonym, SYNONYM_WEIGHT)
        return weights

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros when no query term is known)."""
        terms = self.query_terms(query)
        if not terms:
            return np.zeros(self.matrix.shape[0], dtype=np.float32)
        cols = np.fromiter(terms.keys(), dtype=np.int64)
        w = np.fromiter(terms.values(), dtype=np.float32)
        return np.asarray(self.matrix[:, cols] @ w).ravel()

    def _split_compound(self, word: str) -> list[str]:
        """'wifiwachtwoord' -> ['wifi', 'wachtwoord'] when both parts are known words."""
        best: list[str] = []
        for i in range(3, len(word) - 2):
            left, right = word[:i], word[i:]
            if left in self.surface and right in self.surface:
                if not best or min(len(left), len(right)) > min(map(len, best)):
                    best = [left, right]
        return best

    def _correct(self, word: str) -> list[str]:
        """The most frequent known word within one edit (insert, delete, replace, swap)."""
        if len(word) < MIN_TYPO_LENGTH or word.isdigit():
            return []
        candidates = set()
        for variant in _deletes(word) | {word}:
            candidates.update(self._deletes.get(variant, ()))
        if not candidates:
            return []
        return [max(sorted(candidates), key=lambda w: self.surface[w])]


def _deletes_table(surface: dict[str, int]) -> dict[str, list[str]]:
    """Every one-letter deletion of each known word (and the word itself) -> the words it came from."""
    table: dict[str, list[str]] = {}
    for known in surface:
        if len(known) >= MIN_TYPO_LENGTH - 1:
            for variant in _deletes(known) | {known}:
                table.setdefault(variant, []).append(known)
    return table


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}
