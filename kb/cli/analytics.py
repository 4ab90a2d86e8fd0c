"""`kb report` (the headline figures of docs/metrics.md) and `kb demo` (a realistic demo history)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta

from kb.cli.registry import articles_dir, command, database_url


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None


def _report_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--since", type=_day, help="first day, YYYY-MM-DD (default: 30 days before --until)")
    sp.add_argument("--until", type=_day, help="last day, YYYY-MM-DD (default: today, UTC)")
    sp.add_argument("--json", action="store_true", help="one JSON object; keys as in docs/metrics.md")


@command(
    "report",
    "print the headline figures (docs/metrics.md) of the cases closed in a period",
    "kb report --since 2026-11-01 --until 2026-11-30 --json",
    _report_arguments,
    (),
)
def cmd_report(args) -> int:
    from kb.analytics.metrics import Filters, headline
    from kb.store.engine import make_engine, upgrade, utcnow

    until = args.until or utcnow().date()
    since = args.since or until - timedelta(days=29)
    f = Filters(since, until)
    engine = make_engine(database_url())
    upgrade(engine)
    figures = headline(engine, f).as_dict()
    if args.json:
        print(json.dumps({"since": since.isoformat(), "until": until.isoformat(), **figures}, indent=2))
        return 0
    print(f"cases closed {since.isoformat()} to {until.isoformat()} (UTC); definitions in docs/metrics.md")
    for key, value in figures.items():
        if value is None:
            shown = "-"
        elif key.endswith("_rate") or key.endswith("_share"):
            shown = f"{value * 100:.1f}%"
        elif isinstance(value, float):
            shown = f"{value:.1f}"
        else:
            shown = str(value)
        print(f"  {key:<24} {shown}")
    return 0


def _demo_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--cases", type=int, default=5000, help="cases to write (default 5000)")
    sp.add_argument("--days", type=int, default=90, help="spread over the last N days (default 90)")
    sp.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same history")
    sp.add_argument("--remove", action="store_true", help="delete the demo history (and only it)")


@command(
    "demo",
    "fill a database without real cases with a realistic demo history (or --remove it)",
    "kb demo --cases 5000 --days 90",
    _demo_arguments,
)
def cmd_demo(args) -> int:
    from kb.analytics.demo import generate, remove
    from kb.content.articles import load_articles
    from kb.store.engine import make_engine, upgrade

    engine = make_engine(database_url())
    upgrade(engine)
    if args.remove:
        print(f"removed {remove(engine)} demo case(s) and what hung off them; real data was not touched")
        return 0
    if not 1 <= args.cases <= 1_000_000 or not 1 <= args.days <= 3650:
        print("error: --cases must be 1 to 1,000,000 and --days 1 to 3650", file=sys.stderr)
        return 2

    def progress(done: int, total: int) -> None:
        print(f"\rdemo: {done}/{total} cases", end="" if done < total else "\n", file=sys.stderr, flush=True)

    report = generate(
        engine, load_articles(articles_dir(args)), cases=args.cases, days=args.days, seed=args.seed, progress=progress
    )
    print(
        f"wrote {report.cases} demo cases over {args.days} days ({report.resolved} resolved, {report.escalated} "
        f"escalated, {report.unresolved} unresolved, {report.repeats} repeat contacts); `kb demo --remove` deletes them"
    )
    return 0
