"""`kb show` and `kb lint`: read and check article files (never loads the model)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kb.cli.registry import articles_dir, command


def _show_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("id", help="article id, e.g. dsl-no-sync")
    sp.add_argument("--lang", choices=["nl", "en"], help="language version to show")


@command("show", "print one article (the agent's language first)", "kb show dsl-no-sync --lang nl", _show_arguments)
def cmd_show(args) -> int:
    from kb.content.articles import load_articles

    found = [a for a in load_articles(articles_dir(args), include_drafts=True) if a.id == args.id]
    if not found:
        print(f"error: no article with id '{args.id}' in {articles_dir(args)}; `kb search` finds ids", file=sys.stderr)
        return 2
    chosen = (
        next((a for a in found if a.lang == args.lang), found[0])
        if args.lang
        else sorted(found, key=lambda a: a.lang)[0]
    )
    other = ", ".join(sorted(a.lang for a in found if a is not chosen))
    print(f"# {chosen.title}\n")
    print(
        f"id: {chosen.id} · lang: {chosen.lang} · category: {chosen.category} · "
        f"connection: {', '.join(chosen.connections)} · escalate to: {chosen.escalate_to} · "
        f"status: {chosen.status} · updated: {chosen.get('updated')}" + (f" · also in: {other}" if other else "")
    )
    print(chosen.body.rstrip())
    return 0


def _lint_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("paths", nargs="*", help="files or folders (default: the article folder)")


@command("lint", "check articles: schema, sections, steps, ids, both languages", "kb lint articles/nl", _lint_arguments)
def cmd_lint(args) -> int:
    from kb.content.lint import lint_paths

    targets = [Path(p) for p in args.paths] or [articles_dir(args)]
    problems = lint_paths(targets, context_root=articles_dir(args))
    for problem in problems:
        print(problem)
    files = sum(1 for t in targets if t.exists() for _ in (t.rglob("*.md") if t.is_dir() else [t]))
    print(f"{len(problems)} problem(s) in {files} file(s)", file=sys.stderr)
    return 1 if problems else 0
