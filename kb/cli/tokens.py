"""`kb token`: API tokens for other systems (create, list, revoke)."""

from __future__ import annotations

import argparse
import json

from kb.cli.registry import command, database_url

TOKEN_ACTIONS = {
    "create": (
        "create an API token for a user; prints it once (with --json: an object with id and token)",
        'kb token create cti-bridge --name "Telephony screen pop" --expires 365',
    ),
    "list": ("list API tokens (all, or one user's) with state and last use", "kb token list anna.devries"),
    "revoke": ("revoke a token by its id; its next request is refused", "kb token revoke 3"),
}


def _token_arguments(sp: argparse.ArgumentParser) -> None:
    actions = sp.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, (help_text, example) in TOKEN_ACTIONS.items():
        ap = actions.add_parser(
            action, help=help_text, description=help_text.capitalize() + ".", epilog=f"Example: {example}"
        )
        if action == "create":
            ap.add_argument("username", help="the user the token acts as (with that user's role)")
            ap.add_argument("--name", help="what the token is for, e.g. 'Telephony screen pop'")
            ap.add_argument(
                "--expires", type=int, default=90, metavar="DAYS", help="days until it expires (default 90; 0: never)"
            )
        elif action == "list":
            ap.add_argument("username", nargs="?", help="only this user's tokens")
        else:
            ap.add_argument("id", type=int, help="the token's id (see kb token list)")
        ap.add_argument("--json", action="store_true", help="print JSON")


@command(
    "token",
    "API tokens for other systems: create, list, revoke",
    "kb token create anna.devries --name softphone",
    _token_arguments,
    (),
)
def cmd_token(args) -> int:
    from kb.identity import tokens
    from kb.store.engine import make_engine, upgrade

    engine = make_engine(database_url())
    upgrade(engine)
    if args.action == "create":
        token, secret = tokens.create_token(engine, args.username, args.name, args.expires or None)
        if args.json:
            print(json.dumps({"id": token.id, "token": secret, **token.as_dict()}))
        else:
            print(f"token {token.id} ({token.shown}) for {token.username}: {token.name}")
            print(f"expires: {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "expires: never")
            print(f"token: {secret}")
            print("Shown only now: store it in the other system. Send it as 'Authorization: Bearer <token>'.")
    elif args.action == "list":
        found = tokens.list_tokens(engine, args.username)
        if args.json:
            print(json.dumps([t.as_dict() for t in found]))
        elif not found:
            print("no tokens; create one with `kb token create USER`")
        for t in found:
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
            expires = f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "no expiry"
            if not args.json:
                print(f"{t.id:>4}  {t.shown:<16} {t.username:<20} {t.state():<8} {expires:<10} {used:<16} {t.name}")
    else:
        token = tokens.revoke_token(engine, args.id)
        if args.json:
            print(json.dumps(token.as_dict()))
        else:
            print(f"token {token.id} ({token.shown}) of {token.username} is revoked")
    return 0
