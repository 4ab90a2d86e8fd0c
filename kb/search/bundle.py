"""The index bundle: built aside, validated, then published by an atomic symlink flip.

Layout under the index root:

    current              -> bundles/<name>   (symlink; replaced atomically)
    bundles/<name>/      manifest.json, chunks.jsonl, vectors.faiss, bm25.npz, bm25.json,
                         articles.jsonl (the article texts it was built from, with their revisions)
    bundles/.tmp-*       a build in progress (or one that crashed; removed by the next build)
    cache/               embedding cache
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kb.content.articles import Article, load_articles
from kb.content.revisions import Snapshot
from kb.errors import IndexInvalid, IndexMissing
from kb.search.analysis import ANALYZER_VERSION
from kb.search.bm25 import BM25Index
from kb.search.cache import EmbeddingCache
from kb.search.chunking import CHUNKER_VERSION, Chunk, bm25_text, chunk_article
from kb.search.confidence import scope_model
from kb.search.embedding import Embedder, text_hash

BUNDLE_FORMAT = 2  # 2: carries the article texts (articles.jsonl)
KEEP_BUNDLES = 3
BUNDLE_FILES = ("chunks.jsonl", "vectors.faiss", "bm25.npz", "bm25.json", "articles.jsonl")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BuildReport:
    """What a build did."""

    name: str
    path: Path
    articles: int
    chunks: int
    embedded: int
    reused: int
    seconds: float
    skipped: bool = False


@dataclass
class Bundle:
    """A loaded, validated bundle, ready to search."""

    path: Path
    manifest: dict
    chunks: list[Chunk]
    faiss_index: object
    vectors: np.ndarray
    bm25: BM25Index
    articles: Snapshot

    @property
    def name(self) -> str:
        return self.path.name


def _faiss():
    import faiss  # imported late: `kb lint` and `kb show` do not need it

    return faiss


def build_index(
    articles_root: Path,
    index_root: Path,
    embedder: Embedder,
    progress: Progress | None = None,
    force: bool = False,
    articles: list[Article] | None = None,
) -> BuildReport:
    """Build a bundle from the published articles and publish it. Serialised by a lock file."""
    start = time.perf_counter()
    index_root = Path(index_root)
    (index_root / "bundles").mkdir(parents=True, exist_ok=True)
    with _build_lock(index_root):
        articles = articles if articles is not None else load_articles(Path(articles_root))
        article_hashes = {f"{a.lang}/{a.id}": a.content_hash for a in articles}
        live = current_manifest(index_root)
        if (
            not force
            and live
            and live.get("format") == BUNDLE_FORMAT
            and live.get("model") == embedder.name
            and live.get("chunker_version") == CHUNKER_VERSION
            and live.get("analyzer_version") == ANALYZER_VERSION
            and live.get("article_hashes") == article_hashes
        ):
            # Read, or embedded and fitted if the anchors changed (kb.search.confidence).
            scope_model(embedder, articles, index_root / "cache")
            return BuildReport(
                current_path(index_root).name,
                current_path(index_root),
                len(articles),
                live["counts"]["chunks"],
                0,
                live["counts"]["chunks"],
                time.perf_counter() - start,
                skipped=True,
            )
        _remove_stale_builds(index_root)
        chunks = [c for a in sorted(articles, key=lambda a: (a.id, a.lang)) for c in chunk_article(a)]
        tags = {(a.id, a.lang): a.tags for a in articles}
        vectors, embedded = _embed_chunks(chunks, embedder, index_root / "cache", progress)
        meta = {
            "model": embedder.name,
            "counts": {
                "articles": len(articles),
                "article_ids": len({a.id for a in articles}),
                "by_lang": {lang: sum(a.lang == lang for a in articles) for lang in ("nl", "en")},
            },
            "article_hashes": article_hashes,
        }
        texts = [bm25_text(c, tags[(c.article_id, c.lang)]) for c in chunks]
        name, final = stage_bundle(index_root, chunks, vectors, texts, meta, started=start, snapshot=Snapshot(articles))
        publish(index_root, final)
        _prune(index_root)
        scope_model(embedder, articles, index_root / "cache")  # embedded and fitted once here, read by every searcher
    return BuildReport(
        name, final, len(articles), len(chunks), embedded, len(chunks) - embedded, time.perf_counter() - start
    )


def stage_bundle(
    index_root: Path,
    chunks: list[Chunk],
    vectors: np.ndarray,
    bm25_texts: list[str],
    meta: dict,
    started: float | None = None,
    snapshot: Snapshot | None = None,
) -> tuple[str, Path]:
    """Write a bundle into a temporary folder, validate it, and rename it into bundles/.

    Nothing points at the new bundle until `publish`; a crash leaves only a `.tmp-*` folder.
    """
    started = started if started is not None else time.perf_counter()
    # Microseconds keep names in build order, so pruning never mistakes the newest for an old one.
    name = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:8]
    tmp = Path(index_root) / "bundles" / f".tmp-{name}"
    tmp.mkdir(parents=True)
    try:
        _write_files(tmp, chunks, vectors, bm25_texts)
        (snapshot or Snapshot(())).write(tmp / "articles.jsonl")
        manifest = {
            "format": BUNDLE_FORMAT,
            "dim": int(vectors.shape[1]),
            "chunker_version": CHUNKER_VERSION,
            "analyzer_version": ANALYZER_VERSION,
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - started, 3),
            **meta,
            "files": {f: _sha256(tmp / f) for f in BUNDLE_FILES},
        }
        manifest["counts"] = {**meta.get("counts", {}), "chunks": len(chunks)}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        load_bundle(tmp)  # validate before anyone can see it
        final = Path(index_root) / "bundles" / name
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return name, final


def _embed_chunks(
    chunks: list[Chunk], embedder: Embedder, cache_dir: Path, progress: Progress | None
) -> tuple[np.ndarray, int]:
    cache = EmbeddingCache(cache_dir, embedder.name, embedder.dim)
    keys = [text_hash(embedder.name, c.embed_text) for c in chunks]
    missing = sorted({k: i for i, k in enumerate(keys) if cache.get(k) is None}.items(), key=lambda kv: kv[1])
    batch = 32
    for done in range(0, len(missing), batch):
        part = missing[done : done + batch]
        vectors = embedder.embed_documents([chunks[i].embed_text for _, i in part])
        for (key, _), vector in zip(part, vectors, strict=True):
            cache.put(key, vector)
        if (done // batch) % 8 == 7:
            cache.save()  # a build killed later does not lose this work
        if progress:  # after saving: progress reported is progress kept
            progress("embedding", min(done + batch, len(missing)), len(missing))
    cache.prune(set(keys))
    cache.save()
    matrix = (
        np.stack([cache.get(k) for k in keys]).astype(np.float32)
        if keys
        else np.zeros((0, embedder.dim), dtype=np.float32)
    )
    return matrix, len(missing)


def _write_files(folder: Path, chunks: list[Chunk], vectors: np.ndarray, bm25_texts: list[str]) -> None:
    faiss = _faiss()
    with open(folder / "chunks.jsonl", "w", encoding="utf-8") as fh:
        for c in chunks:
            fh.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    if len(chunks):
        index.add_with_ids(vectors, np.arange(len(chunks), dtype=np.int64))
    faiss.write_index(index, str(folder / "vectors.faiss"))
    BM25Index.build(bm25_texts, [c.lang for c in chunks]).save(folder)


def load_bundle(folder: Path) -> Bundle:
    """Load and check a bundle; raises IndexInvalid saying what is wrong."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexInvalid(f"bundle {folder.name} has no readable manifest ({exc}); run `kb index`") from exc
    if manifest.get("format") != BUNDLE_FORMAT:
        raise IndexInvalid(
            f"bundle {folder.name} has format {manifest.get('format')}, "
            f"this version reads {BUNDLE_FORMAT}; run `kb index`"
        )
    for name, digest in manifest.get("files", {}).items():
        if not (folder / name).exists() or _sha256(folder / name) != digest:
            raise IndexInvalid(f"bundle {folder.name}: {name} is missing or damaged; run `kb index`")
    try:
        with open(folder / "chunks.jsonl", encoding="utf-8") as fh:
            chunks = [_chunk(json.loads(line)) for line in fh]
        faiss_index = _faiss().read_index(str(folder / "vectors.faiss"))
        bm25 = BM25Index.load(folder)
        articles = Snapshot.read(folder / "articles.jsonl")
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexInvalid(f"bundle {folder.name} cannot be loaded ({exc}); run `kb index`") from exc
    n = len(chunks)
    if faiss_index.ntotal != n or bm25.matrix.shape[0] != n or manifest["counts"]["chunks"] != n:
        raise IndexInvalid(
            f"bundle {folder.name} is inconsistent: {n} chunks, {faiss_index.ntotal} "
            f"vectors, {bm25.matrix.shape[0]} BM25 rows; run `kb index`"
        )
    if faiss_index.d != manifest["dim"]:
        raise IndexInvalid(
            f"bundle {folder.name}: vectors have {faiss_index.d} dimensions, "
            f"manifest says {manifest['dim']}; run `kb index`"
        )
    vectors = faiss_index.index.reconstruct_n(0, n) if n else np.zeros((0, faiss_index.d), np.float32)
    return Bundle(folder, manifest, chunks, faiss_index, np.ascontiguousarray(vectors), bm25, articles)


def _chunk(record: dict) -> Chunk:
    record["connections"] = tuple(record["connections"])
    return Chunk(**record)


def publish(index_root: Path, bundle_dir: Path) -> None:
    """Point `current` at bundle_dir in one atomic rename."""
    link = Path(index_root) / "current"
    tmp_link = Path(index_root) / f".current-{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(bundle_dir, index_root), tmp_link)
    os.replace(tmp_link, link)


def current_path(index_root: Path) -> Path:
    """The published bundle folder; raises IndexMissing when there is none."""
    link = Path(index_root) / "current"
    if not link.is_symlink() and not link.exists():
        raise IndexMissing(f"no index has been built in {index_root}; run `kb index`")
    return (Path(index_root) / os.readlink(link)).resolve() if link.is_symlink() else link.resolve()


def load_snapshot(folder: Path) -> Snapshot:
    """Only the article texts of a bundle (no vectors, no model): for pages that show articles."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        digest = manifest.get("files", {}).get("articles.jsonl")
        if manifest.get("format") != BUNDLE_FORMAT or digest != _sha256(folder / "articles.jsonl"):
            raise IndexInvalid(f"bundle {folder.name} has no valid article texts; run `kb index`")
        return Snapshot.read(folder / "articles.jsonl")
    except (OSError, ValueError, KeyError) as exc:
        raise IndexInvalid(f"bundle {folder.name}: the article texts cannot be read ({exc}); run `kb index`") from exc


def current_manifest(index_root: Path) -> dict | None:
    try:
        return json.loads((current_path(index_root) / "manifest.json").read_text(encoding="utf-8"))
    except (IndexMissing, OSError, ValueError):
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _build_lock(index_root: Path):
    with open(index_root / ".build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale_builds(index_root: Path) -> None:
    """Remove folders of builds that crashed (only one build runs at a time: we hold the lock)."""
    for stale in (index_root / "bundles").glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _prune(index_root: Path) -> None:
    """Keep the newest bundles (a searcher may still be reading the previous one)."""
    live = current_path(index_root)
    bundles = sorted(p for p in (index_root / "bundles").iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in bundles[:-KEEP_BUNDLES]:
        if old.resolve() != live:
            shutil.rmtree(old, ignore_errors=True)
