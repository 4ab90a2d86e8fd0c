"""`kb import`, `kb export`: the articles in the database and the `articles/` folder format."""

from __future__ import annotations

import argparse
from pathlib import Path

from kb.cli.registry import articles_dir, command, database_url


def _import_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("path", nargs="?", help="article folder (default: --articles, $KB_ARTICLES or ./articles)")


@command(
    "import",
    "load an article folder into the database (lint first; importing the same files again changes nothing)",
    "kb import articles",
    _import_arguments,
)
def cmd_import(args) -> int:
    from kb.editorial.documents import import_folder
    from kb.store.engine import make_engine, upgrade

    root = Path(args.path) if args.path else articles_dir(args)
    engine = make_engine(database_url())
    upgrade(engine)
    report = import_folder(engine, root)
    print(
        f"imported {root}: {report.added} added, {report.changed} changed, {report.unchanged} unchanged; "
        "running servers make the published ones searchable within seconds"
    )
    return 0


def _export_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("dir", help="folder to write <lang>/<id>.md files into (created if missing)")


@command(
    "export",
    "write the published articles from the database as files that `kb lint` and `kb import` read",
    "kb export /tmp/articles-backup",
    _export_arguments,
    (),
)
def cmd_export(args) -> int:
    from kb.editorial.documents import export_folder
    from kb.store.engine import make_engine, upgrade

    engine = make_engine(database_url())
    upgrade(engine)
    count = export_folder(engine, Path(args.dir))
    print(f"exported {count} published article file(s) to {args.dir}")
    return 0


def seed_and_build(args, engine, embedder):
    """For `kb start` / `kb serve`: import the article folder into an empty database, then build this
    server's index from what the database publishes. Returns (import report or None, build report)."""
    from kb.cli.registry import index_dir, progress
    from kb.editorial.documents import count_docs, import_folder, published_articles
    from kb.search.bundle import build_index

    seeded = import_folder(engine, articles_dir(args)) if count_docs(engine) == 0 else None
    report = build_index(None, index_dir(args), embedder, progress=progress, articles=published_articles(engine))
    return seeded, report
