"""`kb start` and `kb serve`: their options live here, their work in the web app.

The library never imports the web app (an import-linter contract): the commands are looked up
through the `firstline_kb.web` entry point when they run, so `kb --help` stays light and a core
without the web app installed still has every other command.
"""

from __future__ import annotations

import argparse
from importlib.metadata import entry_points

from kb.cli.registry import command
from kb.errors import KBError

WEB_PATHS = ("articles", "index")


class WebAppMissing(KBError):
    """The web app package is not installed next to the core."""


def _web(name: str):
    found = [ep for ep in entry_points(group="firstline_kb.web") if ep.name == name]
    if not found:
        raise WebAppMissing(
            f"`kb {name}` needs the web app, which is not installed; run the README's install command (`make install`)"
        )
    return found[0].load()


def _start_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default 5000)")
    sp.add_argument(
        "--demo-cases",
        type=int,
        default=5000,
        help="on a database without cases, write this many demo cases so analytics show something (0: none)",
    )


def _serve_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sp.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sp.add_argument("--workers", type=int, default=2, help="worker processes, each with its own model (default 2)")


@command(
    "start",
    "first run on one machine: database, articles, index, demo history when empty, then the web app",
    "kb start --port 5000",
    _start_arguments,
    WEB_PATHS,
)
def cmd_start(args) -> int:
    return _web("start")(args)


@command(
    "serve",
    "run the web app with gunicorn (several workers, for a team)",
    "kb serve --host 0.0.0.0 --port 8000 --workers 4",
    _serve_arguments,
    WEB_PATHS,
)
def cmd_serve(args) -> int:
    return _web("serve")(args)
