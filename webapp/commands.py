"""What `kb start` and `kb serve` do (their options are declared in kb.cli.web)."""

from __future__ import annotations

import os
import sys

from kb.cli.registry import articles_dir, index_dir, instance_dir
from kb.cli.search import build


def start(args) -> int:
    from kb.identity.users import ensure_demo_users
    from kb.search.embedding import QUERY, load_embedder
    from kb.search.searcher import Searcher
    from kb.store.engine import upgrade
    from webapp import create_app, write_secret_key
    from webapp.server import local_server

    report, embedder = build(args)
    print(f"index: {report.articles} articles, {report.chunks} chunks (bundle {report.name})")
    if getattr(embedder, "threads", 1) > 1:  # built with every core; serve with the query setting
        embedder = load_embedder(getattr(args, "model", None), purpose=QUERY)
    write_secret_key(instance_dir())
    app = create_app(web_settings(args))
    upgrade(app.extensions["kb"].engine)
    app.extensions["kb"].use_searcher(Searcher(index_dir(args), embedder))
    server = local_server(app, "127.0.0.1", args.port)  # a taken port stops us before passwords are shown
    app.extensions["kb_notifier"].start()  # the hand-off sender runs from the start
    print(_login_help(ensure_demo_users(app.extensions["kb"].engine)))
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
    engine.dispose()  # the workers open their own connections after the fork
    print(f"serving on http://{args.host}:{args.port}/ with {args.workers} worker(s)", flush=True)
    run_gunicorn(app, args.host, args.port, args.workers)
    return 0
