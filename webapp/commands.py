"""What `kb start` and `kb serve` do (their options are declared in kb.cli.web)."""

from __future__ import annotations

import os
import sys

from kb.cli.registry import articles_dir, index_dir, instance_dir


def start(args) -> int:
    from kb.cli.editorial import seed_and_build
    from kb.identity.users import ensure_demo_users
    from kb.search.embedding import INDEX, QUERY, load_embedder
    from kb.search.searcher import Searcher
    from kb.store.engine import upgrade
    from webapp import create_app, write_secret_key
    from webapp.server import local_server

    write_secret_key(instance_dir())
    app = create_app(web_settings(args))
    engine = app.extensions["kb"].engine
    upgrade(engine)
    embedder = load_embedder(getattr(args, "model", None), purpose=INDEX)
    seeded, report = seed_and_build(args, engine, embedder)
    if seeded is not None:
        print(f"articles: imported {articles_dir(args)} into the database ({seeded.added} article files)")
    print(f"index: {report.articles} published articles, {report.chunks} chunks (bundle {report.name})")
    if getattr(embedder, "threads", 1) > 1:  # built with every core; serve with the query setting
        embedder = load_embedder(getattr(args, "model", None), purpose=QUERY)
    app.extensions["kb"].use_searcher(Searcher(index_dir(args), embedder))
    server = local_server(app, "127.0.0.1", args.port)  # a taken port stops us before passwords are shown
    app.extensions["kb_notifier"].start()  # the hand-off sender runs from the start
    app.extensions["kb_index_sync"].start()  # editors' publications become searchable here
    demo_users = ensure_demo_users(app.extensions["kb"].engine)  # before the demo history adds its agents
    _demo_history(args, engine)
    print(_login_help(demo_users))
    print(
        f"Firstline KB is running: open http://127.0.0.1:{args.port}/ in a browser and sign in (Ctrl-C stops it).",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _login_help(demo: list[tuple[str, str, str]]) -> str:
    if not demo:
        return (
            "Sign in with your user name and password (`kb user list` shows the users; "
            "`kb user add NAME --role admin` adds one)."
        )
    lines = ["Demo users were created; their passwords are shown only now:"]
    lines += [f"  {name:<16} {password:<20} ({role})" for name, password, role in demo]
    lines.append(
        "Sign in as demo-admin to add real users; disable the demo users before real use "
        "(`kb user disable demo-agent`)."
    )
    return "\n".join(lines)


def _demo_history(args, engine) -> None:
    """A database without any case gets a demo history (kb demo), so the analytics show something."""
    from sqlalchemy import func, select

    from kb.analytics.demo import generate
    from kb.content.articles import load_articles
    from kb.store import engine as db
    from kb.store.tables import CaseRow

    wanted = getattr(args, "demo_cases", 0) or 0
    with db.session_scope(engine, readonly=True) as session:
        if wanted <= 0 or session.scalar(select(func.count()).select_from(CaseRow)):
            return
    print(f"the database has no cases: writing a demo history of {wanted} cases (kb demo --remove deletes it) ...")

    def progress(done: int, total: int) -> None:
        print(f"\rdemo: {done}/{total} cases", end="" if done < total else "\n", file=sys.stderr, flush=True)

    report = generate(engine, load_articles(articles_dir(args)), cases=wanted, days=90, seed=1, progress=progress)
    print(f"demo history: {report.cases} cases over 90 days, marked as demo data")


def _seed(args, engine):
    from kb.editorial.documents import count_docs, import_folder

    return import_folder(engine, articles_dir(args)) if count_docs(engine) == 0 else None


def _build_in_child(args) -> None:
    """Bring this server's index up to date with the database before the workers start, in a child
    process with every core that then exits (the master never loads the model: workers load theirs
    after the fork, and no helper process of the master outlives the build)."""
    import subprocess

    code = "import sys; from webapp.commands import build_from_database; build_from_database(*sys.argv[1:])"
    argv = [str(articles_dir(args)), str(index_dir(args)), getattr(args, "model", None) or ""]
    if subprocess.run([sys.executable, "-c", code, *argv], check=False).returncode != 0:
        print("warning: the index could not be built now; the workers build it when they start", file=sys.stderr)


def build_from_database(articles: str, index: str, model: str = "") -> None:
    import argparse

    from kb.cli.editorial import seed_and_build
    from kb.cli.registry import database_url
    from kb.search.embedding import INDEX, load_embedder
    from kb.store.engine import make_engine

    args = argparse.Namespace(articles=articles, index=index, model=model or None)
    engine = make_engine(database_url())
    _, report = seed_and_build(args, engine, load_embedder(args.model, purpose=INDEX))
    print(f"index: {report.articles} published articles, {report.chunks} chunks (bundle {report.name})", flush=True)


def web_settings(args) -> dict:
    """Settings for create_app from the command line (the rest come from KB_* variables)."""
    settings = {"KB_ARTICLES": str(articles_dir(args)), "KB_INDEX": str(index_dir(args))}
    if getattr(args, "model", None):
        settings["KB_MODEL"] = args.model
    return settings


def serve(args) -> int:
    from kb.store.engine import make_engine, upgrade
    from webapp import create_app
    from webapp.server import run_gunicorn

    folder = instance_dir()
    if folder.exists() and not os.access(folder, os.W_OK):
        print(
            f"error: the instance folder {folder} is read-only; the database and the secret key live there. "
            "Make it writable for this user, or set KB_INSTANCE to a writable folder.",
            file=sys.stderr,
        )
        return 2
    try:
        app = create_app(web_settings(args))
    except RuntimeError as exc:  # no secret key
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(app.config["KB_DATABASE_URL"])
    upgrade(engine)
    seeded = _seed(args, engine)
    engine.dispose()  # the workers open their own connections after the fork
    if seeded is not None:
        print(f"articles: imported {articles_dir(args)} into the empty database ({seeded.added} files)")
    _build_in_child(args)
    print(f"serving on http://{args.host}:{args.port}/ with {args.workers} worker(s)", flush=True)
    run_gunicorn(app, args.host, args.port, args.workers)
    return 0
