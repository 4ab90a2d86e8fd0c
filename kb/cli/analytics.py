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
    from kb.analytics.metrics import Filters, headline, outage_linked_cases, outages
    from kb.store.engine import make_engine, upgrade, utcnow

    until = args.until or utcnow().date()
    since = args.since or until - timedelta(days=29)
    f = Filters(since, until)
    engine = make_engine(database_url())
    upgrade(engine)
    figures = headline(engine, f).as_dict()
    figures["outage_linked_cases"] = outage_linked_cases(engine, f)
    per_outage = [o.as_dict() for o in outages(engine, f)]
    if args.json:
        print(
            json.dumps(
                {"since": since.isoformat(), "until": until.isoformat(), **figures, "outages": per_outage}, indent=2
            )
        )
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
    print(f"outages in the period: {len(per_outage)} (each over its whole window)")
    for o in per_outage:
        print(_outage_line(o))
    return 0


def _outage_line(o: dict) -> str:
    """One outage of `kb report`: what, where, when, linked, handle times, lateness, callbacks."""

    def minutes(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / 60:.1f} min"

    areas = ",".join(o["areas"] + o["nodes"])
    if len(areas) > 40:
        areas = areas[:39] + "…"
    late = "-" if o["minutes_late"] is None else f"{o['minutes_late']:.0f} min"
    return (
        f"  #{o['id']} {o['status']}{' planned' if o['planned'] else ''} {','.join(o['services'])} in {areas}"
        f" from {o['starts_at'][:16]} to {(o['fixed_at'] or 'now')[:16]}: linked {o['linked_cases']},"
        f" handle time median linked {minutes(o['median_handle_seconds_linked'])}"
        f" vs unlinked {minutes(o['median_handle_seconds_unlinked'])} ({o['unlinked_closed']} calls),"
        f" calls before registration {o['calls_before_registration']} (first {late} before),"
        f" callbacks asked {o['callbacks_asked']}, done {o['callbacks_done']}"
        f" ({o['callbacks_restored']} restored, {o['callbacks_still_broken']} still broken),"
        f" due {o['callbacks_due']}, waiting for the fix {o['callbacks_waiting']}"
    )


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
