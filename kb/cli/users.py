"""`kb user`: manage web users (add, set-role, set-password, disable, enable, list)."""

from __future__ import annotations

import argparse
import sys

from kb.cli.registry import command, database_url

USER_ACTIONS = {
    "add": (
        "add a user; prints a generated password unless --password-stdin is given",
        'kb user add anna.devries --role agent --name "Anna de Vries" --language nl',
    ),
    "set-role": ("give a user another role", "kb user set-role anna.devries editor"),
    "set-password": (
        "give a user a new password (prints a generated one unless --password-stdin); their sessions end",
        "kb user set-password anna.devries",
    ),
    "disable": ("stop a user from signing in (their cases stay)", "kb user disable demo-agent"),
    "enable": ("let a disabled user sign in again", "kb user enable anna.devries"),
    "list": ("list the users with role, status, language and team", "kb user list"),
}
ROLE_HELP = "agent, editor, analyst, admin or noc (network operations centre)"


def _user_arguments(sp: argparse.ArgumentParser) -> None:
    actions = sp.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, (help_text, example) in USER_ACTIONS.items():
        ap = actions.add_parser(
            action, help=help_text, description=help_text.capitalize() + ".", epilog=f"Example: {example}"
        )
        if action != "list":
            ap.add_argument("username", help="user name: 3-64 of a-z 0-9 . _ -")
        if action in ("add", "set-password"):
            ap.add_argument(
                "--password-stdin", action="store_true", help="read the password from the first line of standard input"
            )
        if action == "add":
            ap.add_argument("--role", required=True, help=ROLE_HELP)
            ap.add_argument("--name", help="full name shown in the app (default: the user name)")
            ap.add_argument("--language", choices=["nl", "en"], help="interface language (default: browser's)")
            ap.add_argument("--team", help="the user's team, e.g. helpdesk-a")
        if action == "set-role":
            ap.add_argument("role", help=ROLE_HELP)


@command(
    "user",
    "manage web users: add, set-role, set-password, disable, enable, list",
    'kb user add anna.devries --role agent --name "Anna de Vries"',
    _user_arguments,
    (),
)
def cmd_user(args) -> int:
    import kb.identity.users as users
    from kb.store.engine import make_engine, upgrade

    engine = make_engine(database_url())
    upgrade(engine)
    if args.action == "add":
        password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else _new_password()
        user = users.create_user(
            engine, args.username, password, args.role, display_name=args.name, language=args.language, team=args.team
        )
        print(f"added {user.username} ({user.role})")
        if not args.password_stdin:
            print(f"password: {password}  (shown only now)")
    elif args.action == "set-password":
        password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else _new_password()
        user = users.set_password(engine, args.username, password)
        print(f"{user.username} has a new password; their sessions have ended")
        if not args.password_stdin:
            print(f"password: {password}  (shown only now)")
    elif args.action == "set-role":
        user = users.set_role(engine, args.username, args.role)
        print(f"{user.username} is now {user.role}")
    elif args.action in ("disable", "enable"):
        user = (users.disable_user if args.action == "disable" else users.enable_user)(engine, args.username)
        print(f"{user.username} is {'enabled' if user.is_active else 'disabled'}")
    else:
        _print_users(users.list_users(engine))
    return 0


def _new_password() -> str:
    import secrets

    return secrets.token_urlsafe(12)


def _print_users(found) -> None:
    if not found:
        print("no users yet; add one with `kb user add NAME --role admin`")
    for u in found:
        print(
            f"{u.username:<24} {u.role:<8} {'active' if u.is_active else 'disabled':<9} "
            f"{u.language or '-':<3} {u.team or '-':<16} {u.display_name}"
        )
