"""`kb index`, `kb search`, `kb eval`, `kb bench`: build, query and measure the search index."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from kb.cli.registry import articles_dir, command, index_dir, progress

INDEX_PATHS = ("articles", "index")


def build(args, embedder=None):
    """Lint, then build and publish the index from the articles; returns (report, the embedder used).

    Articles that do not lint are refused with the lint messages: nothing is published.
    """
    from kb.content.lint import lint_paths
    from kb.errors import LintFailed
    from kb.search.bundle import build_index
    from kb.search.embedding import INDEX, load_embedder

    root = articles_dir(args)
    problems = lint_paths([root], context_root=root)
    if problems:
        shown = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise LintFailed(
            f"{len(problems)} lint problem(s) in {root}; nothing was published. "
            f"Fix them (`kb lint` lists them) and run `kb index` again:\n{shown}{more}"
        )

    embedder = embedder or load_embedder(getattr(args, "model", None), purpose=INDEX)
    return build_index(
        articles_dir(args), index_dir(args), embedder, progress=progress, force=getattr(args, "force", False)
    ), embedder


def lower_priority() -> None:
    """Index at a lower CPU priority (KB_INDEX_NICE, default 10) so agents' searches on the same
    machine keep their speed while a build runs."""
    raw = os.environ.get("KB_INDEX_NICE", "10")
    try:
        os.nice(max(0, min(19, int(raw))))
    except (ValueError, OSError):
        print(f"warning: KB_INDEX_NICE={raw!r} ignored; use 0 to 19", file=sys.stderr)


def _index_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--force", action="store_true", help="rebuild even when nothing changed")


@command(
    "index",
    "build the search index from the articles and publish it atomically",
    "kb index --force",
    _index_arguments,
    INDEX_PATHS,
)
def cmd_index(args) -> int:
    lower_priority()
    report, _ = build(args)
    if report.skipped:
        print(
            f"index is up to date: {report.articles} articles, {report.chunks} chunks "
            f"(bundle {report.name}); use --force to rebuild"
        )
    else:
        print(
            f"published bundle {report.name}: {report.articles} articles, {report.chunks} chunks, "
            f"{report.embedded} embedded, {report.reused} from cache, {report.seconds:.2f} s"
        )
    return 0


def open_searcher(args):
    from kb.search.embedding import load_embedder
    from kb.search.searcher import Searcher

    return Searcher(index_dir(args), load_embedder(getattr(args, "model", None)))


def print_result(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result_to_dict(result), ensure_ascii=False, indent=2))
        return
    if not result.hits:
        print("no matching articles")
    for rank, hit in enumerate(result.hits, start=1):
        where = f"step {hit.chunk.step}" if hit.chunk.step else hit.chunk.heading
        print(f"{rank:2}. {hit.article_id} [{hit.lang}, {hit.category}] {hit.title}  score {hit.score:.3f}")
        snippet = " ".join(hit.chunk.text.split())
        print(f"    {where}: {snippet[:150]}{'...' if len(snippet) > 150 else ''}")
    label = "weak: no good match, consider escalating or flagging a content gap" if result.weak else "good"
    print(
        f"confidence {result.confidence:.2f} ({label}); {result.total_ms:.1f} ms (embedding {result.embed_ms:.1f} ms)"
    )


def result_to_dict(result) -> dict:
    return {
        "query": result.query,
        "lang": result.lang,
        "mode": result.mode,
        "confidence": result.confidence,
        "weak": result.weak,
        "timing_ms": {"total": result.total_ms, "embedding": result.embed_ms},
        "bundle": result.bundle,
        "hits": [
            {
                "id": h.article_id,
                "lang": h.lang,
                "title": h.title,
                "category": h.category,
                "connections": list(h.connections),
                "score": h.score,
                "dense": h.dense,
                "bm25": h.bm25,
                "match": {"kind": h.chunk.kind, "step": h.chunk.step, "heading": h.chunk.heading, "text": h.chunk.text},
            }
            for h in result.hits
        ],
    }


def _search_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("query", help="the customer's problem in free text")
    sp.add_argument("--lang", choices=["nl", "en"], help="the agent's language (preferred in results)")
    sp.add_argument("--only-lang", action="store_true", help="show only articles in --lang")
    sp.add_argument("--category", help="only this category (connectivity, wifi, router, ...)")
    sp.add_argument(
        "--connection", choices=["fibre", "dsl", "cable", "any"], help="only articles for this connection type"
    )
    sp.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.add_argument("-k", type=int, default=5, help="number of articles (default 5)")
    sp.add_argument(
        "--postcode",
        help="the caller's postcode (1234AB): known outages there are shown first (also read from the query)",
    )


@command(
    "search",
    "search the knowledge base for a customer's problem",
    'kb search "intrnet dood sinds onweer" --lang nl -k 3',
    _search_arguments,
    INDEX_PATHS,
)
def cmd_search(args) -> int:
    searcher = open_searcher(args)
    result = searcher.search(
        args.query,
        k=args.k,
        lang=args.lang,
        only_lang=args.only_lang,
        category=args.category,
        connection=args.connection,
        mode=args.mode,
    )
    outages = _outages(args, result.lang)
    if args.json:
        print(json.dumps({**result_to_dict(result), "outages": outages}, ensure_ascii=False, indent=2))
        return 0
    for outage in outages:
        end = outage["expected_end"] or ("einde onbekend" if result.lang == "nl" else "end unknown")
        print(
            f"KNOWN OUTAGE {outage['id']} ({outage['status']}, {', '.join(outage['services'])}; expected end: {end}):"
        )
        print(f"    {outage['message']}")
    print_result(result, False)
    return 0


def _outages(args, lang: str) -> list[dict]:
    """The active outages at the caller's postcode (--postcode, else one written in the query), as
    the API's search returns them; [] without a postcode or without a database."""
    from kb.outages.register import matching, normalise_postcode, postcode_in

    postcode = normalise_postcode(args.postcode) if args.postcode else postcode_in(args.query)
    if postcode is None:
        return []
    from kb.cli.registry import database_url
    from kb.store.engine import make_engine, upgrade

    engine = make_engine(database_url())
    upgrade(engine)
    connection = args.connection if args.connection not in (None, "any") else None
    return [
        {k: v for k, v in o.as_dict(lang).items() if k in OUTAGE_FIELDS}
        for o in matching(engine, postcode, connection).here
    ]


OUTAGE_FIELDS = ("id", "status", "planned", "services", "connections", "message", "expected_end", "starts_at")


def _eval_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "file", help='JSON Lines: {"query": ..., "expected": [ids], "lang": "nl"}; "expected": [] for out of scope'
    )
    sp.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.add_argument(
        "--misses",
        action="store_true",
        help="list the queries not in the top 3, the answerable ones flagged weak and the out-of-scope ones not",
    )


@command(
    "eval",
    "measure hit@1/3/5, MRR@10 and the weak-match rates on a JSON Lines file of labelled queries",
    "kb eval tests/eval/out_of_scope.jsonl --mode hybrid --json",
    _eval_arguments,
    INDEX_PATHS,
)
def cmd_eval(args) -> int:
    from kb.search.evaluation import evaluate, read_eval_file

    queries = read_eval_file(Path(args.file))
    report = evaluate(open_searcher(args), queries, mode=args.mode)
    if args.json:
        print(json.dumps(report.metrics, indent=2))
        return 0
    print(f"{args.mode}: {_eval_line(report.metrics)}")
    for lang, lm in report.metrics["by_lang"].items():
        print(f"  {lang}: {_eval_line(lm)}")
    if args.misses:
        for miss in report.misses:
            print(
                f"  line {miss['line']}: {miss['query']!r} expected {miss['expected']} "
                f"got {miss['got']} (rank {miss['rank']})"
            )
        for error in report.weak_errors:
            print(f"  line {error['line']}: {error['query']!r} {error['kind']} (confidence {error['confidence']:.2f})")
    return 0


def _eval_line(m: dict) -> str:
    parts = []
    if m["count"]:
        parts.append(
            f"{m['count']} queries  hit@1 {m['hit@1']:.3f}  hit@3 {m['hit@3']:.3f}  "
            f"hit@5 {m['hit@5']:.3f}  mrr@10 {m['mrr@10']:.3f}  weak {m['weak_rate']:.3f}"
        )
    if "true_weak_rate" in m:
        parts.append(f"{m['out_of_scope_count']} out of scope  weak {m['true_weak_rate']:.3f}")
    return "; ".join(parts)


def _bench_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "target",
        nargs="?",
        choices=["search", "analytics", "messages"],
        default="search",
        help="what to measure (default search; messages: short queries and 600-character pasted messages on the "
        "published index, with --under-load also next to a CPU-bound process)",
    )
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.add_argument("--cases", type=int, default=100_000, help="analytics: cases to generate (default 100000)")
    sp.add_argument("--database-url", help="analytics: a database to fill (default: a throw-away SQLite file)")
    sp.add_argument("--synthetic", type=int, default=10000, help="articles in the synthetic KB")
    sp.add_argument("--runs", type=int, default=200, help="timed searches per mode")
    sp.add_argument(
        "--under-load",
        action="store_true",
        help="only search latency: idle, next to a CPU-bound process, and during an index build",
    )


@command(
    "bench",
    "measure search latency, embedding time, build throughput and re-index time; or the analytics",
    "kb bench analytics --cases 100000 --json",
    _bench_arguments,
    INDEX_PATHS,
)
def cmd_bench(args) -> int:
    from kb.search.bench import run_bench

    if args.target == "analytics":
        from kb.analytics.bench import run_analytics_bench

        results = run_analytics_bench(
            args.cases, args.database_url, runs=5, log=None if args.json else lambda s: print(s, file=sys.stderr)
        )
        print(json.dumps(results, indent=2))
        return 0

    if args.target == "messages":
        from kb.search.bench import run_message_bench

        results = run_message_bench(
            index_dir(args),
            model=args.model,
            runs=args.runs,
            under_load=args.under_load,
            log=None if args.json else print,
        )
        if args.json:
            print(json.dumps(results, indent=2))
        return 0

    if args.under_load:
        from kb.search.load import run_under_load

        results = run_under_load(
            articles_dir(args),
            model=args.model,
            runs=args.runs,
            log=None if args.json else print,
            cache_from=index_dir(args) / "cache",
        )
        if args.json:
            print(json.dumps(results, indent=2))
        return 0

    results = run_bench(
        articles_dir(args),
        model=args.model,
        synthetic_articles=args.synthetic,
        runs=args.runs,
        log=None if args.json else print,
    )
    if args.json:
        print(json.dumps(results, indent=2))
    return 0
