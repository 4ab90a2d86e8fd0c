"""The command registry and what every command shares: paths from the settings, progress output."""

from __future__ import annotations

import os
import sys
from pathlib import Path

COMMANDS: dict[str, tuple] = {}


def command(name: str, help: str, example: str, arguments=None, paths: tuple[str, ...] = ("articles",)):
    """Register a sub-command; every command has a help line and an example.

    `arguments(parser)` adds the command's own arguments; `paths` names the shared options it takes
    (`articles`: --articles; `index`: --index and --model).
    """

    def wrap(fn):
        COMMANDS[name] = (fn, help, example, arguments, paths)
        return fn

    return wrap


def articles_dir(args) -> Path:
    return Path(getattr(args, "articles", None) or os.environ.get("KB_ARTICLES", "articles"))


def index_dir(args) -> Path:
    return Path(getattr(args, "index", None) or os.environ.get("KB_INDEX", "index"))


def instance_dir() -> Path:
    """The web app's instance folder (secret key, SQLite database): $KB_INSTANCE or Flask's default."""
    from flask import Flask  # only to agree with the web app on the default; never at import time

    return Path(os.environ.get("KB_INSTANCE") or Flask("webapp").instance_path)


def database_url() -> str:
    """The database the web app uses: $KB_DATABASE_URL, else firstline.db in the instance folder."""
    return os.environ.get("KB_DATABASE_URL") or f"sqlite:///{instance_dir() / 'firstline.db'}"


def progress(stage: str, done: int, total: int) -> None:
    """Progress of long work on stderr: one updating line on a terminal, every 256 items in a log."""
    if sys.stderr.isatty():
        print(f"\r{stage}: {done}/{total} chunks", end="" if done < total else "\n", file=sys.stderr, flush=True)
    elif done == total or done % 256 == 0:
        print(f"{stage}: {done}/{total} chunks", file=sys.stderr, flush=True)
