"""Hybrid search: dense (FAISS) and BM25 scores fused per article, best chunk shown."""

from __future__ import annotations

import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kb.errors import IndexInvalid, ModelMismatch, QueryError
from kb.search.analysis import guess_language, words
from kb.search.bundle import Bundle, current_path, load_bundle
from kb.search.chunking import Chunk
from kb.search.confidence import (
    RUNNER_UP,
    WEAK_BELOW,
    anchor_vectors,
    calibration_for,
    coverage,
    query_vectors,
    scope_model,
    symptom_texts,
    word_articles,
)
from kb.search.cues import cue_scores
from kb.search.embedding import Embedder
from kb.search.message import focus, message_text, sentences

MAX_QUERY_CHARS = 5000  # a pasted chat or e-mail message; quoted history and signatures are cut off first
MODES = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Fusion:
    """How dense and BM25 evidence are combined. Tuned on tests/eval/queries.jsonl (see README)."""

    dense_weight: float = 0.6  # share of the dense score in the fused score
    other_lang_penalty: float = 0.9  # multiplier for a version in a language the agent did not ask for
    candidates: int = 200  # chunks taken from each retriever before fusion
    # A message longer than this is searched without its quoted history, greeting and signature
    # (kb.search.message). With `sentence_weight` > 0 it is also read sentence by sentence: a
    # chunk's dense score blends its cosine to the whole message with its best cosine to one
    # sentence. Measured on tests/eval/messages.jsonl (README): no gain yet, so it is off.
    long_query_chars: int = 200
    sentence_weight: float = 0.0
    # Scope cues (kb.search.cues): "the rest works", "nothing in the house", "the neighbours too"
    # move the scope articles' fused scores by cue_scores() times this; 0 switches them off.
    cue_weight: float = 1.0
    # The embedding reads at most this many characters of a message: its sentences with the most
    # problem words (kb.search.message.focus). Keeps a pasted e-mail within the time budget on one
    # core; on the development messages it ranked as well as the whole text (README).
    dense_chars: int = 350


@dataclass(frozen=True)
class Hit:
    """One article in a result list, with the chunk that matched best.

    `score` ranks the list (fused and normalised per query: the top hit has about 1.0 however good
    it is); `confidence` says how likely this article answers the query, on the same scale as the
    search's confidence and never above it (kb.search.confidence).
    """

    article_id: str
    lang: str
    title: str
    category: str
    connections: tuple[str, ...]
    score: float
    dense: float
    bm25: float
    chunk: Chunk
    coverage: float = 0.0  # share of the query's words found in the article
    margin: float = 0.0  # fused score minus the best other article's
    confidence: float = 0.0


@dataclass(frozen=True)
class SearchResult:
    query: str
    lang: str | None
    hits: tuple[Hit, ...]
    confidence: float
    weak: bool
    embed_ms: float
    total_ms: float
    mode: str = "hybrid"
    bundle: str = ""
    # The query's embedding (None in bm25 mode): a weak search is kept with it for gap clustering.
    query_vector: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass
class _Prepared:
    """Per-bundle arrays the search loop needs, computed once when the bundle is loaded."""

    bundle: Bundle
    article_keys: list[tuple[str, str]]
    chunk_article: np.ndarray
    chunk_lang: np.ndarray
    chunk_category: np.ndarray
    chunk_connections: list[frozenset]
    ids_by_key: dict = field(default_factory=dict)
    # For the confidence: each chunk's article number (one per article id, both languages), and
    # each article version's chunks.
    chunk_article_no: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    article_no: dict[str, int] = field(default_factory=dict)
    version_chunks: list[np.ndarray] = field(default_factory=list)
    # The articles' symptoms and titles embedded as queries (kb.search.confidence), on first use.
    symptom_vectors: np.ndarray | None = None
    # The scope direction (kb.search.confidence.scope_model): weights and bias, on first use.
    scope: tuple[np.ndarray, float] | None = None


def _prepare(bundle: Bundle) -> _Prepared:
    keys: dict[tuple[str, str], int] = {}
    numbers: dict[str, int] = {}
    chunk_article = np.empty(len(bundle.chunks), dtype=np.int64)
    chunk_article_no = np.empty(len(bundle.chunks), dtype=np.int64)
    for i, c in enumerate(bundle.chunks):
        chunk_article[i] = keys.setdefault((c.article_id, c.lang), len(keys))
        chunk_article_no[i] = numbers.setdefault(c.article_id, len(numbers))
    return _Prepared(
        bundle=bundle,
        article_keys=list(keys),
        chunk_article=chunk_article,
        chunk_lang=np.array([c.lang for c in bundle.chunks]),
        chunk_category=np.array([c.category for c in bundle.chunks]),
        chunk_connections=[frozenset(c.connections) for c in bundle.chunks],
        ids_by_key={c.key: i for i, c in enumerate(bundle.chunks)},
        chunk_article_no=chunk_article_no,
        article_no=numbers,
        version_chunks=[np.flatnonzero(chunk_article == v) for v in range(len(keys))],
    )


def clean_query(query) -> str:
    """Validate and normalise a query; raises QueryError with what to do."""
    if isinstance(query, bytes):
        try:
            query = query.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise QueryError("the query is not readable text; type the customer's problem in words") from exc
    if not isinstance(query, str):
        raise QueryError("the query must be text")
    query = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in query)
    query = " ".join(query.split())
    if not query:
        raise QueryError("the query is empty; type a few words about the customer's problem")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(query)} characters; the limit is {MAX_QUERY_CHARS}. "
            "Describe the problem in a sentence or two"
        )
    return query


class Searcher:
    """Searches the published bundle; picks up a newly published bundle without a restart."""

    def __init__(self, index_root: Path, embedder: Embedder, fusion: Fusion | None = None):
        self.index_root = Path(index_root)
        self.embedder = embedder
        self.fusion = fusion or Fusion()
        self._lock = threading.Lock()
        self._prepared: _Prepared | None = None
        self._loaded_path: Path | None = None
        self.last_reload_error: str | None = None
        self._failed: tuple[Path, tuple] | None = None  # the published bundle that last failed to load
        self._anchors: np.ndarray | None = None  # out-of-scope anchors, embedded on first use
        self.refresh()

    @property
    def bundle(self) -> Bundle:
        return self._current().bundle

    def refresh(self) -> bool:
        """Load the published bundle if it changed. Keeps the old one if the new one fails to load.

        A bundle that failed is not tried again (hashing every file, under the lock, on every
        search) until the published bundle or its manifest changes.
        """
        path = current_path(self.index_root)
        if path == self._loaded_path:
            return False
        if self._prepared is not None and self._failed == (path, _signature(path)):
            return False
        with self._lock:
            if path == self._loaded_path:
                return False
            try:
                bundle = load_bundle(path)
                self._check_model(bundle)
            except (IndexInvalid, ModelMismatch) as exc:
                self.last_reload_error = str(exc)
                self._failed = (path, _signature(path))
                if self._prepared is None:
                    raise
                return False
            self._prepared, self._loaded_path = _prepare(bundle), path
            self.last_reload_error = None
            return True

    def _check_model(self, bundle: Bundle) -> None:
        built, dim = bundle.manifest.get("model"), bundle.manifest.get("dim")
        if built != self.embedder.name or dim != self.embedder.dim:
            raise ModelMismatch(
                f"the index was built with model '{built}' ({dim} dimensions) but the "
                f"configured model is '{self.embedder.name}' ({self.embedder.dim}); "
                "run `kb index` to rebuild it with the configured model"
            )

    def _current(self) -> _Prepared:
        try:
            self.refresh()
        except (OSError, IndexInvalid, ModelMismatch):
            if self._prepared is None:
                raise
        assert self._prepared is not None
        return self._prepared

    def search(
        self,
        query,
        k: int = 5,
        lang: str | None = None,
        only_lang: bool = False,
        category: str | None = None,
        connection: str | None = None,
        mode: str = "hybrid",
    ) -> SearchResult:
        """Rank articles for a free-text query. `lang` is the agent's language (preferred)."""
        started = time.perf_counter()
        raw, query = query, clean_query(query)
        if mode not in MODES:
            raise QueryError(f"unknown mode '{mode}'; use one of {', '.join(MODES)}")
        k = max(1, min(int(k), 50))
        prep = self._current()
        preferred = lang or guess_language(query)
        if not any(ch.isalnum() for ch in query) or not words(query):
            return SearchResult(query, preferred, (), 0.0, True, 0.0, _ms(started), mode, prep.bundle.name)
        allowed = self._allowed(prep, lang if only_lang else None, category, connection)
        text, parts = query, []
        if len(query) > self.fusion.long_query_chars:
            text = message_text(_lines_kept(raw))
            if self.fusion.sentence_weight > 0 and len(text) > self.fusion.long_query_chars:
                parts = sentences(text)
        embed_ms = 0.0
        qvec = dense = bm25 = None
        if mode in ("hybrid", "dense"):
            t = time.perf_counter()
            dense_text = focus(text, self.fusion.dense_chars) if self.fusion.dense_chars else text
            vectors = self.embedder.embed_queries([dense_text, *parts] if len(parts) > 1 else [dense_text])
            qvec = vectors[0]
            embed_ms = _ms(t)
            dense = self._dense(prep, qvec, allowed)
            if len(parts) > 1:
                dense = self._by_sentence(prep, dense, qvec, vectors[1:], allowed)
        if mode in ("hybrid", "bm25"):
            bm25 = prep.bundle.bm25.scores(text)
        hits, confidence = self._rank(prep, text, qvec, dense, bm25, allowed, preferred, k)
        return SearchResult(
            query,
            preferred,
            tuple(hits),
            confidence,
            confidence < WEAK_BELOW,
            embed_ms,
            _ms(started),
            mode,
            prep.bundle.name,
            qvec,
        )

    def out_of_scope(self, qvec: np.ndarray) -> float:
        """The query's best cosine to the out-of-scope anchors (kb.search.confidence)."""
        if self._anchors is None:
            with self._lock:
                if self._anchors is None:
                    self._anchors = anchor_vectors(self.embedder, self.index_root / "cache")
        return float((self._anchors @ qvec).max())

    def in_scope(self, qvec: np.ndarray) -> float:
        """The query's best cosine to one of the published articles' symptoms or titles, embedded as
        queries (kb.search.confidence.symptom_texts; `kb index` embeds them into the cache)."""
        prep = self._current()
        if prep.symptom_vectors is None:
            with self._lock:
                if prep.symptom_vectors is None:
                    texts = symptom_texts(prep.bundle.articles)
                    prep.symptom_vectors = query_vectors(self.embedder, texts, self.index_root / "cache")
        vectors = prep.symptom_vectors
        return float((vectors @ qvec).max()) if len(vectors) else 0.0

    def scope_score(self, qvec: np.ndarray) -> float:
        """The log-odds that the query is another team's question, from the scope direction fitted on
        the anchors against the published articles' symptoms and titles (kb.search.confidence;
        `kb index` fits it into the cache)."""
        prep = self._current()
        if prep.scope is None:
            with self._lock:
                if prep.scope is None:
                    prep.scope = scope_model(self.embedder, prep.bundle.articles, self.index_root / "cache")
        weights, bias = prep.scope
        return float(qvec @ weights) + bias

    # -- internals ---------------------------------------------------------------------------

    def _allowed(self, prep: _Prepared, lang, category, connection) -> np.ndarray | None:
        mask = None
        if lang:
            mask = prep.chunk_lang == lang
        if category:
            m = prep.chunk_category == category
            mask = m if mask is None else mask & m
        if connection and connection != "any":
            m = np.fromiter(
                ((connection in c or "any" in c) for c in prep.chunk_connections),
                dtype=bool,
                count=len(prep.chunk_connections),
            )
            mask = m if mask is None else mask & m
        return mask

    def _dense(self, prep: _Prepared, qvec: np.ndarray, allowed, limit: int | None = None) -> dict[int, float]:
        """Top chunks by inner product (FAISS, exact), as {chunk: cosine}."""
        index = prep.bundle.faiss_index
        n = index.ntotal
        if n == 0:
            return {}
        k = min(n, limit or self.fusion.candidates)
        params = None
        if allowed is not None:
            import faiss

            ids = np.flatnonzero(allowed).astype(np.int64)
            if len(ids) == 0:
                return {}
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))
            k = min(k, len(ids))
        scores, ids = index.search(qvec.reshape(1, -1), k, params=params)
        return {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}

    def _by_sentence(self, prep: _Prepared, dense: dict[int, float], qvec, svecs, allowed) -> dict[int, float]:
        """Dense scores for a long message: each candidate chunk's cosine to the whole message
        blended with its best cosine to one sentence (candidates: the top chunks of either)."""
        candidates = set(dense)
        for svec in svecs:
            candidates |= set(self._dense(prep, svec, allowed, self.fusion.candidates // 4))
        ids = np.fromiter(candidates, dtype=np.int64)
        if len(ids) == 0:
            return dense
        chunk_vectors = prep.bundle.vectors[ids]
        whole = chunk_vectors @ qvec
        best = (chunk_vectors @ np.asarray(svecs).T).max(axis=1)
        w = self.fusion.sentence_weight
        blended = (1 - w) * whole + w * best
        return {int(i): float(v) for i, v in zip(ids, blended, strict=True)}

    def _bm25_top(self, scores: np.ndarray, allowed) -> dict[int, float]:
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        k = min(len(scores), self.fusion.candidates)
        if k == 0:
            return {}
        top = np.argpartition(-scores, k - 1)[:k]
        return {int(i): float(scores[i]) for i in top if scores[i] > 0}

    def _rank(self, prep, query, qvec, dense, bm25, allowed, preferred, k):
        f = self.fusion
        dense_top = dense or {}
        bm25_top = self._bm25_top(bm25, allowed) if bm25 is not None else {}
        candidates = set(dense_top) | set(bm25_top)
        if not candidates:
            return [], 0.0
        cand = np.fromiter(candidates, dtype=np.int64)
        vectors = prep.bundle.vectors
        if dense is not None:
            # BM25 candidates outside the dense top get their exact dense score.
            missing = [int(i) for i in cand if int(i) not in dense_top]
            if missing:
                extra = vectors[missing] @ qvec
                dense_top = {**dense_top, **{i: float(s) for i, s in zip(missing, extra, strict=True)}}
        d = np.array([dense_top.get(int(i), 0.0) for i in cand], dtype=np.float64)
        b = np.array([bm25[i] if bm25 is not None else 0.0 for i in cand], dtype=np.float64)
        dn = _normalise_dense(d) if dense is not None else np.zeros_like(d)
        bn = b / b.max() if bm25 is not None and b.max() > 0 else np.zeros_like(b)
        weight = f.dense_weight if (dense is not None and bm25 is not None) else (1.0 if dense is not None else 0.0)
        fused_chunk = weight * dn + (1 - weight) * bn
        # Per article version: the best chunk on each signal, fused.
        per_version: dict[int, dict] = {}
        for pos, chunk_i in enumerate(cand):
            v = int(prep.chunk_article[chunk_i])
            rec = per_version.setdefault(
                v, {"d": 0.0, "b": 0.0, "draw": -1.0, "braw": 0.0, "best": chunk_i, "best_score": -1.0}
            )
            rec["d"] = max(rec["d"], dn[pos])
            rec["b"] = max(rec["b"], bn[pos])
            rec["draw"] = max(rec["draw"], d[pos])
            rec["braw"] = max(rec["braw"], b[pos])
            if fused_chunk[pos] > rec["best_score"]:
                rec["best"], rec["best_score"] = chunk_i, fused_chunk[pos]
        by_id: dict[str, tuple[float, int, dict]] = {}
        cued = cue_scores(query) if f.cue_weight else {}
        for v, rec in per_version.items():
            article_id, lang = prep.article_keys[v]
            score = weight * rec["d"] + (1 - weight) * rec["b"]
            if preferred and lang != preferred:
                score *= f.other_lang_penalty
            score += f.cue_weight * cued.get(article_id, 0.0)
            if article_id not in by_id or score > by_id[article_id][0]:
                by_id[article_id] = (score, v, rec)
        ranked = sorted(by_id.items(), key=lambda item: (-item[1][0], item[0]))
        hits = self._judged(prep, query, ranked, qvec, bm25, preferred, allowed, k)
        return hits, hits[0].confidence

    def _judged(self, prep, query, ranked, qvec, bm25, preferred, allowed, k) -> list[Hit]:
        """The first k hits, each with its confidence (kb.search.confidence): the top hit's is the
        search's; a runner-up's comes from its margin and is never above the search's."""
        dense_available = qvec is not None
        calibration = calibration_for(self.embedder.name, dense_available)
        anchor = self.out_of_scope(qvec) if dense_available and calibration.out_of_scope else None
        symptom = self.in_scope(qvec) if anchor is not None and calibration.in_scope else None
        scope = self.scope_score(qvec) if anchor is not None and calibration.scope else 0.0
        found = word_articles(prep.bundle.bm25, prep.chunk_article_no, query)
        # Dense mode: BM25 did not rank, but it is still evidence for the confidence.
        bm25_all = prep.bundle.bm25.scores(query) if bm25 is None else None
        scores = [score for _, (score, _, _) in ranked]
        hits: list[Hit] = []
        for i, (article_id, (score, v, rec)) in enumerate(ranked[:k]):
            margin = score - (scores[1] if i == 0 else scores[0]) if len(scores) > 1 else score
            braw = rec["braw"] if bm25_all is None else float(bm25_all[prep.version_chunks[v]].max())
            covered = coverage(found, prep.article_no[article_id])
            if hits:
                confidence = min(RUNNER_UP.confidence(0.0, 0.0, 0.0, margin), hits[0].confidence)
            else:
                dense = rec["draw"] if dense_available else 0.0
                gap = anchor - dense if anchor is not None else 0.0
                scope_gap = anchor - symptom if symptom is not None else 0.0
                confidence = calibration.confidence(dense, braw, covered, margin, gap, scope_gap, scope)
            hits.append(self._hit(prep, article_id, score, rec, preferred, allowed, covered, margin, confidence))
        return hits

    def _hit(self, prep, article_id, score, rec, preferred, allowed, covered, margin, confidence) -> Hit:
        chunk = prep.bundle.chunks[rec["best"]]
        if preferred and chunk.lang != preferred:
            # Show the agent's language when that version exists (and passes the filters).
            twin = prep.ids_by_key.get(chunk.key.replace(f"/{chunk.lang}/", f"/{preferred}/", 1))
            if twin is not None and (allowed is None or allowed[twin]):
                chunk = prep.bundle.chunks[twin]
        return Hit(
            article_id,
            chunk.lang,
            chunk.title,
            chunk.category,
            chunk.connections,
            round(float(score), 4),
            round(float(rec["draw"]), 4),
            round(float(rec["braw"]), 4),
            chunk,
            round(covered, 4),
            round(float(margin), 4),
            confidence,
        )


def _lines_kept(query) -> str:
    """The query as clean_query reads it but with its line breaks (a pasted e-mail's quoted lines
    and header blocks are told apart by them, kb.search.message)."""
    if isinstance(query, bytes):
        query = query.decode("utf-8")
    text = query.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch if ch == "\n" or unicodedata.category(ch)[0] != "C" else " " for ch in text)


def _normalise_dense(d: np.ndarray) -> np.ndarray:
    lo, hi = float(d.min()), float(d.max())
    return (d - lo) / (hi - lo) if hi > lo else np.ones_like(d)


def _signature(folder: Path) -> tuple:
    """What tells a changed bundle folder from the same one: its manifest's size and modification time."""
    try:
        stat = (Path(folder) / "manifest.json").stat()
    except OSError:
        return ()
    return (stat.st_size, stat.st_mtime_ns)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
