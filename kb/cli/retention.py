"""`kb purge`: remove customer details of cases closed longer ago than the retention period."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from kb.cli.registry import command, database_url


def _purge_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--days", type=int, help="retention in days (default: $KB_RETENTION_DAYS)")
    sp.add_argument("--dry-run", action="store_true", help="count what would be removed; change nothing")


@command(
    "purge",
    "remove customer details of cases closed more than the retention period ago (counts stay)",
    "kb purge --days 365 --dry-run",
    _purge_arguments,
    (),
)
def cmd_purge(args) -> int:
    from kb.caselog.retention import purge, retention_days
    from kb.store.engine import make_engine, upgrade, utcnow

    days = args.days if args.days is not None else retention_days()
    if days is None or days < 1:
        print("error: no retention period: give --days N (1 or more) or set KB_RETENTION_DAYS", file=sys.stderr)
        return 2
    engine = make_engine(database_url())
    upgrade(engine)
    report = purge(engine, utcnow() - timedelta(days=days), dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(
        f"{verb} the customer details of {report.cases} case(s) closed more than {days} days ago "
        f"({report.events} event text(s), {report.deliveries} webhook deliveries), the query text of "
        f"{report.gaps} content gap(s), and {report.login_attempts} old log-in attempt(s)"
    )
    return 0
