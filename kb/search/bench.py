"""`kb bench`: latency, embedding time, build throughput and re-index time, measured here.

Everything runs in temporary folders; the published index is not touched.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kb.content.articles import load_articles
from kb.search.bundle import build_index, publish, stage_bundle
from kb.search.chunking import Chunk
from kb.search.embedding import INDEX, configured_model, load_embedder
from kb.search.searcher import Searcher

DEFAULT_QUERIES = [
    "intrnet dood sinds onweer",
    "fibre box shows red LOS light",
    "wifi valt steeds weg op zolder",
    "klant kan niet mailen vanuit outlook",
    "slow speed on cable but paying for 1 gig",
    "geen kiestoon telefoon",
    "wachtwoord mijn account vergeten",
    "DNS_PROBE_FINISHED_NXDOMAIN",
    "ping hoog tijdens gamen",
    "169.254 ip adres laptop",
    "router resetten naar fabrieksinstellingen",
    "customer got a suspicious sms about a bill",
    "port forwarding for a camera",
    "modem lampjes knipperen oranje",
    "how to set up guest wifi",
    "nieuwe aansluiting werkt nog niet",
]


# A pasted customer e-mail of about 600 characters, for when tests/eval/messages.jsonl is not there.
DEFAULT_MESSAGE = (
    "Beste klantenservice,\n\nSinds gisteravond hebben wij thuis geen internet meer. Eerst dacht ik dat het aan mijn "
    "laptop lag, want die deed vorige week ook al raar na een update, maar de computer van mijn man en onze telefoons "
    "krijgen ook geen verbinding via de wifi. Het lampje op het modem knippert oranje. Ik heb het modem twee keer "
    "uitgezet en weer aangezet en alle kabels gecontroleerd, ook de kabel naar de muur. De buren weten van niks, die "
    "hebben een andere aanbieder. Ik werk morgen thuis en moet dan echt online kunnen. Kunnen jullie zien of er iets "
    "aan de lijn is?\n\nMet vriendelijke groet,\nA. de Vries"
)
MESSAGE_CHARS = 600


def bench_messages(chars: int = MESSAGE_CHARS) -> list[str]:
    """Customer messages of `chars` characters: the development messages that long, cut there (their
    line breaks kept), or DEFAULT_MESSAGE when the evaluation file is not there."""
    path = Path("tests/eval/messages.jsonl")
    texts = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                text = json.loads(line)["query"]
                if len(text) >= chars:
                    texts.append(text[:chars])
    return texts or [DEFAULT_MESSAGE[:chars]]


def run_message_bench(
    index_root: Path,
    model: str | None = None,
    runs: int = 200,
    under_load: bool = False,
    log: Callable[[str], None] | None = print,
    chars: int = MESSAGE_CHARS,
) -> dict:
    """Hybrid search p50/p95 of short agent queries and of pasted messages of `chars` characters, on
    the published index, with the model loaded as a server loads it (KB_QUERY_THREADS); with
    `under_load` also next to one CPU-bound process. Includes the query embedding; reports the
    load average before each phase (the machine may be shared)."""
    say = log or (lambda _msg: None)
    model = model or configured_model()
    embedder = load_embedder(model)
    searcher = Searcher(Path(index_root), embedder)
    queries, messages = bench_queries(), bench_messages(chars)
    results: dict = {
        "machine": machine(),
        "model": model,
        "runs": runs,
        "query_threads": embedder.threads,
        "message_chars": chars,
        "messages": len(messages),
        "dense_chars": searcher.fusion.dense_chars,
    }
    for phase in ("idle", "cpu") if under_load else ("idle",):
        busy = None
        if phase == "cpu":
            from kb.search.load import BUSY_LOOP

            busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP.format(seconds=600)])
            time.sleep(1)
        try:
            results[f"{phase}_load_average"] = [round(x, 2) for x in os.getloadavg()]
            for name, texts in (("short", queries), (f"message{chars}", messages)):
                samples, embeds = [], []
                for text in texts[:5]:
                    searcher.search(text)
                for i in range(runs):
                    result = searcher.search(texts[i % len(texts)])
                    samples.append(result.total_ms)
                    embeds.append(result.embed_ms)
                p50, p95 = percentiles(samples)
                results[f"{phase}_{name}_p50_ms"], results[f"{phase}_{name}_p95_ms"] = p50, p95
                embed_p95 = results[f"{phase}_{name}_embedding_p95_ms"] = percentiles(embeds)[1]
                say(f"{phase:4} {name:10} hybrid search: p50 {p50} ms, p95 {p95} ms (embedding p95 {embed_p95} ms)")
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    return results


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return round(statistics.median(ordered), 3), round(p95, 3)


def time_searches(searcher: Searcher, queries: list[str], runs: int, mode: str) -> list[float]:
    for q in queries[:5]:  # warm up
        searcher.search(q, mode=mode)
    out = []
    for i in range(runs):
        t = time.perf_counter()
        searcher.search(queries[i % len(queries)], mode=mode)
        out.append((time.perf_counter() - t) * 1000)
    return out


def run_bench(
    articles_root: Path,
    model: str | None = None,
    synthetic_articles: int = 10000,
    runs: int = 200,
    log: Callable[[str], None] | None = print,
) -> dict:
    """Run every measurement and return the figures as a flat dict (see README)."""
    say = log or (lambda _msg: None)
    model = model or configured_model()
    results: dict = {"machine": machine(), "model": model, "runs": runs}
    t = time.perf_counter()
    embedder = load_embedder(model)  # as a server loads it: KB_QUERY_THREADS
    results["model_load_s"] = round(time.perf_counter() - t, 3)
    indexer = load_embedder(model, purpose=INDEX)  # as `kb index` loads it: KB_INDEX_THREADS
    results["query_threads"], results["index_threads"] = embedder.threads, indexer.threads
    queries = bench_queries()
    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    try:
        articles_copy = work / "articles"
        shutil.copytree(articles_root, articles_copy)
        index_root = work / "index"
        say(f"building the index of the shipped KB from scratch with {model} ...")
        report = build_index(articles_copy, index_root, indexer, force=True)
        results.update(
            build_seconds=round(report.seconds, 3),
            build_chunks=report.chunks,
            build_articles=report.articles,
            build_chunks_per_s=round(report.chunks / report.seconds, 2),
        )
        searcher = Searcher(index_root, embedder)
        for mode in ("hybrid", "dense", "bm25"):
            p50, p95 = percentiles(time_searches(searcher, queries, runs, mode))
            results[f"{mode}_p50_ms"], results[f"{mode}_p95_ms"] = p50, p95
            say(f"{mode:6} search over the shipped KB: p50 {p50} ms, p95 {p95} ms")
        embed = []
        for i in range(runs):
            t = time.perf_counter()
            embedder.embed_queries([queries[i % len(queries)]])
            embed.append((time.perf_counter() - t) * 1000)
        results["embedding_p50_ms"], results["embedding_p95_ms"] = percentiles(embed)
        overhead = results["hybrid_p50_ms"] - results["embedding_p50_ms"]
        results["hybrid_overhead_p50_ms"] = round(overhead, 3)
        results["hybrid_overhead_ratio"] = round(overhead / results["embedding_p50_ms"], 3)
        say(
            f"query embedding alone: p50 {results['embedding_p50_ms']} ms; search overhead beyond it "
            f"{overhead:.2f} ms ({100 * results['hybrid_overhead_ratio']:.0f}% of the embedding)"
        )
        results.update(_reindex(articles_copy, index_root, indexer, say))
        results.update(_cold_index(articles_copy, index_root, model, say))
        if synthetic_articles:
            words = {w for a in load_articles(articles_copy) for w in a.body.lower().split() if w.isalpha()}
            results.update(_synthetic(work / "synthetic", embedder, queries, words, synthetic_articles, runs, say))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def bench_queries() -> list[str]:
    path = Path("tests/eval/queries.jsonl")
    if path.exists():
        return [json.loads(line)["query"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return DEFAULT_QUERIES


def _edit_one(articles_root: Path, marker: str) -> Path:
    target = sorted((articles_root / "en").glob("*.md"))[0]
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("\n1. ", f"\n1. ({marker}) ", 1), encoding="utf-8")
    return target


def _reindex(articles_root: Path, index_root: Path, embedder, say) -> dict:
    """Edit one article, re-index in-process with the model loaded (as the web app does)."""
    samples, embedded = [], 0
    for i in range(3):
        _edit_one(articles_root, f"bench edit {i}")
        t = time.perf_counter()
        report = build_index(articles_root, index_root, embedder)
        samples.append(time.perf_counter() - t)
        embedded = report.embedded
    seconds = round(statistics.median(samples), 3)
    say(
        f"re-index after editing one article, in-process: {seconds} s median of 3 "
        f"({embedded} chunk(s) re-embedded, {report.reused} from cache)"
    )
    return {"reindex_one_article_s": seconds, "reindex_embedded_chunks": embedded}


def _cold_index(articles_root: Path, index_root: Path, model: str, say) -> dict:
    """`kb index` in a new process after one edit: includes importing torch and loading the model."""
    _edit_one(articles_root, "bench cold edit")
    env = {**os.environ, "KB_MODEL": model}
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "kb.cli", "index", "--articles", str(articles_root), "--index", str(index_root)],
        check=True,
        env=env,
        capture_output=True,
    )
    seconds = round(time.perf_counter() - t, 3)
    say(f"cold `kb index` after one edit (new process, imports and model load included): {seconds} s")
    return {"cold_index_after_edit_s": seconds}


def _synthetic(root: Path, embedder, queries: list[str], kb_words: set[str], n_articles: int, runs: int, say) -> dict:
    """A KB of n_articles x 12 chunks with random unit vectors and text drawn from the real vocabulary.

    Search time does not depend on the vectors' values, so random vectors stand in for embeddings;
    the query is embedded for real.
    """
    rng = np.random.default_rng(42)
    vocab = sorted({w for q in queries for w in q.lower().split()} | kb_words)
    categories = ("connectivity", "wifi", "router", "account", "email", "telephony", "service")
    chunks, texts = [], []
    for a in range(n_articles):
        lang = "nl" if a % 2 else "en"
        for s in range(12):
            text = " ".join(rng.choice(vocab, size=40))
            chunks.append(
                Chunk(
                    f"synthetic-{a // 2}",
                    lang,
                    "step" if s else "summary",
                    s or None,
                    f"Step {s}",
                    text,
                    categories[a % 7],
                    ("any",),
                    f"Synthetic article {a // 2}",
                )
            )
            texts.append(text)
    vectors = rng.standard_normal((len(chunks), embedder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    t = time.perf_counter()
    (root / "bundles").mkdir(parents=True)
    name, path = stage_bundle(
        root, chunks, vectors, texts, {"model": embedder.name, "counts": {"articles": n_articles}, "synthetic": True}
    )
    publish(root, path)
    build_s = time.perf_counter() - t
    searcher = Searcher(root, embedder)
    p50, p95 = percentiles(time_searches(searcher, queries, runs, "hybrid"))
    say(
        f"synthetic KB of {n_articles} articles ({len(chunks)} chunks; random unit vectors, queries "
        f"embedded for real): hybrid p50 {p50} ms, p95 {p95} ms; bundle written in {build_s:.1f} s"
    )
    return {
        "synthetic_articles": n_articles,
        "synthetic_chunks": len(chunks),
        "synthetic_vectors": "random unit vectors; queries embedded for real",
        "synthetic_hybrid_p50_ms": p50,
        "synthetic_hybrid_p95_ms": p95,
    }


def machine() -> str:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"
    )
