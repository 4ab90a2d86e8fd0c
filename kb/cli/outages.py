"""`kb outage`: the known-outage register for the network operations centre (add, update, end, list)."""

from __future__ import annotations

import argparse
import json

from kb.cli.registry import command, database_url

OUTAGE_ACTIONS = {
    "add": (
        "register an outage (or --planned maintenance); prints its id",
        'kb outage add --area 3011 --service internet --connection fibre --message-nl "Storing ..." '
        '--message-en "Outage ..." --expected-end 2026-12-01T18:00+01:00',
    ),
    "update": (
        "change an outage: status, expected end, messages, notes, areas, services, connections",
        "kb outage update 4 --status identified --expected-end 2026-12-01T20:00+01:00",
    ),
    "end": ("the outage is over: fixed (callbacks become due) or --closed", "kb outage end 4"),
    "list": ("list outages (--active: only those active now)", "kb outage list --active"),
}


def _many(values):
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _outage_arguments(sp: argparse.ArgumentParser) -> None:
    actions = sp.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, (help_text, example) in OUTAGE_ACTIONS.items():
        ap = actions.add_parser(
            action, help=help_text, description=help_text.capitalize() + ".", epilog=f"Example: {example}"
        )
        if action in ("update", "end"):
            ap.add_argument("id", type=int, help="the outage's id (see kb outage list)")
        if action in ("add", "update"):
            required = action == "add"
            ap.add_argument(
                "--area",
                action="append",
                required=required,
                help="3011, 3011AB or a node name; repeat or comma separate",
            )
            ap.add_argument("--service", action="append", required=required, help="internet, telephony, tv, email")
            ap.add_argument("--connection", action="append", help="fibre, dsl, cable (none: every connection type)")
            ap.add_argument("--message-nl", required=required, help="what the agent reads out, in Dutch")
            ap.add_argument("--message-en", required=required, help="what the agent reads out, in English")
            ap.add_argument("--expected-end", help="ISO time with zone, e.g. 2026-12-01T18:00+01:00 ('' : unknown)")
            ap.add_argument("--start", help="ISO time with zone (default: now); a planned start may be in the future")
            ap.add_argument("--notes", help="internal notes (not read out)")
            ap.add_argument(
                "--status", choices=["investigating", "identified", "fixed", "closed"], help="default: investigating"
            )
        if action == "add":
            ap.add_argument("--planned", action="store_true", help="planned maintenance")
        if action == "end":
            ap.add_argument("--closed", action="store_true", help="closed instead of fixed (no callbacks)")
        if action == "list":
            ap.add_argument("--active", action="store_true", help="only the outages active now")
        ap.add_argument("--json", action="store_true", help="print JSON")


@command(
    "outage",
    "the known-outage register: add, update, end, list",
    "kb outage add --area 3011 --service internet --message-nl ... --message-en ...",
    _outage_arguments,
    (),
)
def cmd_outage(args) -> int:
    from kb.outages import register
    from kb.store.engine import make_engine, upgrade

    engine = make_engine(database_url())
    upgrade(engine)
    if args.action == "add":
        outage = register.add_outage(
            engine,
            areas=_many(args.area),
            services=_many(args.service),
            connections=_many(args.connection),
            message_nl=args.message_nl,
            message_en=args.message_en,
            planned=args.planned,
            status=args.status or "investigating",
            starts_at=args.start,
            expected_end=args.expected_end,
            notes=args.notes or "",
        )
        print(json.dumps(outage.as_dict()) if args.json else outage.id)
        return 0
    if args.action == "update":
        changes = {
            "areas": _many(args.area) or None,
            "services": _many(args.service) or None,
            "connections": _many(args.connection) if args.connection is not None else None,
            "message_nl": args.message_nl,
            "message_en": args.message_en,
            "notes": args.notes,
            "status": args.status,
            "starts_at": args.start,
        }
        changes = {k: v for k, v in changes.items() if v is not None}
        if args.expected_end is not None:
            changes["expected_end"] = args.expected_end or None
        outage = register.update_outage(engine, args.id, **changes)
    elif args.action == "end":
        outage = register.end_outage(engine, args.id, status="closed" if args.closed else "fixed")
    else:
        found = register.list_outages(engine, active_only=args.active)
        if args.json:
            print(json.dumps([o.as_dict() for o in found]))
        elif not found:
            print("no outages" + (" active now" if args.active else " registered"))
        for o in found if not args.json else []:
            end = f"{o.expected_end:%Y-%m-%d %H:%M}" if o.expected_end else "end unknown"
            kind = "planned" if o.planned else "outage"
            where = ",".join(o.areas + o.nodes)
            print(f"{o.id:>4}  {kind:<7} {o.status:<13} {','.join(o.services):<18} {where[:30]:<30} {end}")
        return 0
    if args.json:
        print(json.dumps(outage.as_dict()))
    else:
        print(
            f"outage {outage.id}: {outage.status}"
            + (f", expected end {outage.expected_end:%Y-%m-%d %H:%M %Z}" if outage.expected_end else "")
        )
    return 0
