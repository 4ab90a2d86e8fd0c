"""`kb bench --under-load`: search latency idle, next to a CPU-bound process, and during an index build.

A server is never idle: another worker, an index build or a neighbour shares the CPU. This runs
the same timed hybrid searches three times, in-process, with the model loaded as a server loads
it (KB_QUERY_THREADS): on an idle machine, while one busy-looping process runs, and while a
`kb index --force` builds a bundle from scratch in another process (at its own KB_INDEX_NICE and
KB_INDEX_THREADS). Everything runs in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kb.search.bench import bench_queries, machine, percentiles, time_searches
from kb.search.bundle import build_index
from kb.search.embedding import INDEX, configured_model, load_embedder
from kb.search.searcher import Searcher

BUSY_LOOP = "import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
TARGET_RATIO, TARGET_P95_MS = 3.0, 60.0


def run_under_load(
    articles_root: Path,
    model: str | None = None,
    runs: int = 200,
    log: Callable[[str], None] | None = print,
    cache_from: Path | None = None,
) -> dict:
    """Idle, CPU-loaded and build-loaded hybrid search p50/p95 (ms), with the targets checked.

    `cache_from` (an index's embedding cache) only speeds up building the index searched; the
    build that runs as load always starts from an empty cache.
    """
    say = log or (lambda _msg: None)
    model = model or configured_model()
    queries = bench_queries()
    work = Path(tempfile.mkdtemp(prefix="kb-bench-load-"))
    try:
        articles = work / "articles"
        shutil.copytree(articles_root, articles)
        if cache_from is not None and Path(cache_from).is_dir():
            shutil.copytree(cache_from, work / "index" / "cache")
        say(f"building an index of {articles_root} with {model} (all cores) ...")
        build_index(articles, work / "index", load_embedder(model, purpose=INDEX))
        embedder = load_embedder(model)
        searcher = Searcher(work / "index", embedder)
        results: dict = {"machine": machine(), "model": model, "runs": runs, "query_threads": embedder.threads}
        phases = (("idle", None), ("cpu", _busy_process), ("build", _index_build))
        for name, start_load in phases:
            load = start_load(articles, work, model) if start_load else None
            try:
                time.sleep(0 if load is None else 3)  # let the load get going (the build loads its model)
                p50, p95 = percentiles(time_searches(searcher, queries, runs, "hybrid"))
                still_running = load is None or load.poll() is None
            finally:
                if load is not None:
                    load.kill()
                    load.wait()
            results[f"{name}_hybrid_p50_ms"], results[f"{name}_hybrid_p95_ms"] = p50, p95
            if load is not None:
                results[f"{name}_load_ran_throughout"] = still_running
            say(
                f"{name:5} hybrid search: p50 {p50} ms, p95 {p95} ms"
                + ("" if still_running else " (the load ended before the searches did)")
            )
        idle = results["idle_hybrid_p95_ms"]
        for name in ("cpu", "build"):
            loaded = results[f"{name}_hybrid_p95_ms"]
            results[f"{name}_p95_ratio"] = round(loaded / idle, 2) if idle else None
            results[f"{name}_meets_target"] = loaded <= TARGET_P95_MS and loaded <= TARGET_RATIO * idle
        say(
            f"targets (p95 <= {TARGET_RATIO:g} x idle and <= {TARGET_P95_MS:g} ms): "
            f"cpu {'met' if results['cpu_meets_target'] else 'MISSED'}, "
            f"build {'met' if results['build_meets_target'] else 'MISSED'}"
        )
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _busy_process(articles: Path, work: Path, model: str) -> subprocess.Popen:
    """One CPU-bound process (it ends by itself after 10 minutes if it is somehow left behind)."""
    return subprocess.Popen([sys.executable, "-c", BUSY_LOOP.format(seconds=600)])


def _index_build(articles: Path, work: Path, model: str) -> subprocess.Popen:
    """A full `kb index --force` from an empty cache in another process, as an editor's publish would run."""
    env = {**os.environ, "KB_MODEL": model}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kb.cli",
            "index",
            "--force",
            "--articles",
            str(articles),
            "--index",
            str(work / "index-under-load"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
