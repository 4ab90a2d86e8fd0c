"""Users and roles, salted scrypt password hashes, and log-in with throttling.

A password hash is a self-describing string `scrypt$n$r$p$salt$hash` (salt and hash in base64),
so the cost can be raised later without breaking the hashes already stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError, InternalError, OperationalError

from kb.errors import InvalidInput, LoginFailed, LoginThrottled, NotFound
from kb.store import engine as db
from kb.store.tables import LANGUAGES, ROLES, AuditLogRow, LoginAttemptRow, UserRow, check_choice, check_id, check_text

__all__ = [
    "ROLES",
    "User",
    "create_user",
    "authenticate",
    "set_role",
    "disable_user",
    "enable_user",
    "set_password",
    "change_own_password",
    "revoke_sessions",
    "unlock_user",
    "set_language",
    "get_user",
    "list_users",
    "ensure_demo_users",
    "hash_password",
    "verify_password",
]

log = logging.getLogger(__name__)

USERNAME = re.compile(r"[a-z0-9._-]{3,64}\Z")
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_USER_FAILURES = 5  # failed log-ins per user name in the window before refusing more
# Per address the log-in slows down rather than locks: behind a proxy or a NAT many colleagues share
# one address, and someone else's guesses must not lock them all out for the window. From the 20th
# failure in the window on, the next attempt from that address waits 1 s, then 2, 4 ... at most 60 s
# after the previous failure: a colleague with the right password is let in within a minute, a
# guesser gets about one try a minute (and each user name still locks after MAX_USER_FAILURES).
MAX_ADDRESS_FAILURES = 20
MAX_ADDRESS_DELAY = timedelta(seconds=60)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    display_name: str
    language: str | None
    team: str | None
    is_active: bool
    session_generation: int = 0  # a session cookie is valid only for the generation it was issued in


def _user(row: UserRow) -> User:
    return User(
        row.id,
        row.username,
        row.role,
        row.display_name,
        row.language,
        row.team,
        row.is_active,
        row.session_generation or 0,
    )


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password` as `scrypt$n$r$p$salt$hash`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return (
        f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    )


def verify_password(password: str, stored: str) -> bool:
    """True if `password` matches the stored hash (constant-time compare); False for a malformed hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))  # unknown users cost as much time as known ones


def _check_username(value: object) -> str:
    if not isinstance(value, str) or not USERNAME.match(value.strip().lower()):
        raise InvalidInput(
            "username",
            "The user name must be 3 to 64 characters: lowercase letters, "
            "digits, dots, hyphens or underscores (e.g. anna.devries).",
        )
    return value.strip().lower()


def _check_password(value: object) -> str:
    if not isinstance(value, str) or not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise InvalidInput(
            "password",
            f"The password must be text of {MIN_PASSWORD} to {MAX_PASSWORD} characters; choose a longer one.",
        )
    return value


def _check_language(value: object) -> str | None:
    return None if value is None else check_choice("language", value, LANGUAGES, label="language")


def create_user(
    engine: Engine,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    language: str | None = None,
    team: str | None = None,
) -> User:
    """Add an active user; the display name defaults to the user name."""
    username = _check_username(username)
    password = _check_password(password)
    role = check_choice("role", role, ROLES, label="role")
    display_name = (
        check_text("display_name", display_name, label="display name", required=False, one_line=True) or username
    )
    language = _check_language(language)
    team = check_text("team", team, label="team", required=False, one_line=True) or None
    row = UserRow(
        username=username,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name,
        language=language,
        team=team,
        is_active=True,
        created_at=db.utcnow(),
    )
    try:
        with db.session_scope(engine) as session:
            if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
                raise InvalidInput("username", f"The user name {username!r} is taken; choose another.")
            session.add(row)
    except IntegrityError:  # a concurrent create_user won the race
        raise InvalidInput("username", f"The user name {username!r} is taken; choose another.") from None
    return _user(row)


def authenticate(engine: Engine, username: str, password: str, address: str) -> User:
    """The active user with this user name and password; every attempt is recorded.

    Raises LoginThrottled after too many failures for the user name or the address in the last
    15 minutes, and LoginFailed for a wrong user name or password or a disabled account.

    The count and the decision are one step: in one write transaction (serialised per user name
    and address) the attempt is checked against the limits and recorded as failed, and only a
    right password turns it into a success afterwards. So concurrent guesses cannot all be
    evaluated before any of them is counted.
    """
    for field, value in (("username", username), ("password", password), ("address", address)):
        if not isinstance(value, str):
            raise InvalidInput(field, f"The {field.replace('username', 'user name')} must be text.")
    name, address = username.strip().lower()[:64], address.strip()[:64]
    now = db.utcnow()
    try:
        with db.session_scope(engine) as session:
            _serialise_attempts(session, name, address)
            _refuse_if_throttled(session, name, address, now)
            attempt = LoginAttemptRow(username=name, address=address, succeeded=False, at=now)
            session.add(attempt)
            session.flush()
            attempt_id = attempt.id
            user, stored = _credentials(session, name)
    except (OperationalError, InternalError) as exc:  # InternalError: PostgreSQL's read-only transaction
        # The attempt log cannot be written (disk full, read-only database): fail open on the log,
        # never on the password. The throttle is still read and obeyed.
        log.error("log-in attempt not recorded (%s); checking the password without it", type(exc.orig).__name__)
        attempt_id = None
        with db.session_scope(engine, readonly=True) as session:
            _refuse_if_throttled(session, name, address, now)
            user, stored = _credentials(session, name)
    matches = verify_password(password, stored) and user is not None  # outside the lock: scrypt is slow
    ok = matches and user.is_active
    if ok and attempt_id is not None:
        with db.session_scope(engine) as session:
            session.get(LoginAttemptRow, attempt_id).succeeded = True
            session.get(UserRow, user.id).last_login_at = now
    if matches and not user.is_active:
        raise LoginFailed("This account is disabled; ask an admin to enable it.")
    if not ok:
        raise LoginFailed(
            f"Wrong user name or password; check both and try again (after "
            f"{MAX_USER_FAILURES} failed attempts you must wait 15 minutes)."
        )
    return user


def _credentials(session, name: str) -> tuple[User | None, str]:
    row = session.scalar(select(UserRow).where(UserRow.username == name))
    return (_user(row), row.password_hash) if row else (None, _DUMMY_HASH)


def _serialise_attempts(session, name: str, address: str) -> None:
    """One log-in attempt at a time per user name and per address (SQLite: every write is serial)."""
    if session.get_bind().dialect.name == "postgresql":
        for key in (f"login-user:{name}", f"login-address:{address}"):  # always this order: no deadlock
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def unlock_user(engine: Engine, username: str, actor_id: int | None = None) -> User:
    """Let a user sign in again at once after someone else's failed guesses (audited)."""
    user = _update(engine, username, "unlock_user", actor_id)
    with db.session_scope(engine) as session:
        # A success marker: the user name's failure count starts after it.
        session.add(LoginAttemptRow(username=user.username, address="unlocked", succeeded=True, at=db.utcnow()))
    return user


def _refuse_if_throttled(session, name: str, address: str, now: datetime) -> None:
    since = now - THROTTLE_WINDOW
    last_success = session.scalar(
        select(func.max(LoginAttemptRow.at)).where(
            LoginAttemptRow.username == name, LoginAttemptRow.succeeded.is_(True)
        )
    )
    user_since = max(since, last_success) if last_success else since
    times = _failures(session, LoginAttemptRow.username == name, user_since, MAX_USER_FAILURES)
    if len(times) >= MAX_USER_FAILURES:
        retry_at = times[-1] + THROTTLE_WINDOW
        minutes = max(1, -(-int((retry_at - now).total_seconds()) // 60))
        raise LoginThrottled(
            f"Too many failed log-ins for this user name; try again after "
            f"{retry_at:%H:%M} UTC (in {minutes} minute{'s' if minutes > 1 else ''}). "
            "If you forgot your password, ask an admin to set a new one or to unlock the account.",
            retry_at,
        )
    refuse_if_address_throttled(session, address, now)


def refuse_if_address_throttled(session, address: str, now: datetime, what: str = "log-ins") -> None:
    """LoginThrottled while the failures from `address` in the window call for a wait (see
    MAX_ADDRESS_FAILURES); API token failures count against the address the same way."""
    since = now - THROTTLE_WINDOW
    cap = MAX_ADDRESS_FAILURES + 8  # 2**7 s is past the longest delay: no need to count further
    times = _failures(session, LoginAttemptRow.address == address, since, cap)
    if len(times) >= MAX_ADDRESS_FAILURES:
        delay = min(MAX_ADDRESS_DELAY, timedelta(seconds=2 ** (len(times) - MAX_ADDRESS_FAILURES)))
        retry_at = times[0] + delay
        if now < retry_at:
            seconds = max(1, -(-int((retry_at - now).total_seconds() * 1000) // 1000))
            raise LoginThrottled(
                f"Too many failed {what} from your address; wait {seconds} second{'s' if seconds > 1 else ''} "
                "and try again.",
                retry_at,
            )


def _failures(session, where, since: datetime, limit: int) -> list[datetime]:
    """The times of the newest failed attempts matching `where` after `since`, newest first."""
    return session.scalars(
        select(LoginAttemptRow.at)
        .where(where, LoginAttemptRow.succeeded.is_(False), LoginAttemptRow.at > since)
        .order_by(LoginAttemptRow.at.desc())
        .limit(limit)
    ).all()


def _update(
    engine: Engine, username: str, action: str, actor_id: int | None = None, revoke: bool = False, **changes
) -> User:
    """Change a user (audited with the admin who did it; None: the `kb` command on the server).

    `revoke` ends every session the user has (a new generation).
    """
    username = _check_username(username)
    actor_id = None if actor_id is None else check_id("actor_id", actor_id)
    with db.session_scope(engine) as session:
        row = session.scalar(select(UserRow).where(UserRow.username == username).with_for_update())
        if row is None:
            raise NotFound(f"There is no user {username!r}; check the spelling or list the users.")
        shown = {key: value for key, value in changes.items() if key != "password_hash"}
        before = {key: getattr(row, key) for key in shown}
        for key, value in changes.items():
            setattr(row, key, value)
        if revoke:
            row.session_generation = (row.session_generation or 0) + 1
        session.add(
            AuditLogRow(
                at=db.utcnow(),
                actor_id=actor_id,
                action=action,
                target=f"user:{row.id}",
                detail=json.dumps({"before": before, "after": shown}),
            )
        )
        return _user(row)


def set_role(engine: Engine, username: str, role: str, actor_id: int | None = None) -> User:
    """Give the user another role (audited)."""
    return _update(engine, username, "set_role", actor_id, role=check_choice("role", role, ROLES, label="role"))


def disable_user(engine: Engine, username: str, actor_id: int | None = None) -> User:
    """Stop the user from logging in and end their sessions (audited); their cases stay."""
    return _update(engine, username, "disable_user", actor_id, revoke=True, is_active=False)


def enable_user(engine: Engine, username: str, actor_id: int | None = None) -> User:
    """Let a disabled user log in again (audited); sessions from before the disable stay void."""
    return _update(engine, username, "enable_user", actor_id, is_active=True)


def set_password(engine: Engine, username: str, password: str, actor_id: int | None = None) -> User:
    """Give the user a new password (audited, without the password); their sessions end."""
    password_hash = hash_password(_check_password(password))
    return _update(engine, username, "set_password", actor_id, revoke=True, password_hash=password_hash)


def change_own_password(engine: Engine, user_id: int, current: str, new: str) -> User:
    """The signed-in user's own change: the current password must be right; every session ends."""
    user_id = check_id("user_id", user_id)
    if not isinstance(current, str) or not current:
        raise InvalidInput("current_password", "Type your current password.")
    new = _check_password(new)
    with db.session_scope(engine, readonly=True) as session:
        row = session.get(UserRow, user_id)
        if row is None or not row.is_active:
            raise NotFound("Your account is not active any more; sign in again.")
        username, stored = row.username, row.password_hash
    if not verify_password(current, stored):
        raise InvalidInput("current_password", "The current password is wrong; nothing was changed.")
    if new == current:
        raise InvalidInput("password", "The new password is the same as the current one; choose another.")
    return set_password(engine, username, new, actor_id=user_id)


def revoke_sessions(engine: Engine, user_id: int) -> None:
    """End every session of this user (signing out signs out everywhere)."""
    user_id = check_id("user_id", user_id)
    with db.session_scope(engine) as session:
        row = session.get(UserRow, user_id, with_for_update=True)
        if row is not None:
            row.session_generation = (row.session_generation or 0) + 1


def set_language(engine: Engine, user_id: int, language: str | None) -> User:
    """Set the user's interface language (`nl`, `en`, or None to follow the browser)."""
    user_id, language = check_id("user_id", user_id), _check_language(language)
    with db.session_scope(engine) as session:
        row = session.get(UserRow, user_id)
        if row is None:
            raise NotFound(f"There is no user with id {user_id}; log in again.")
        row.language = language
        return _user(row)


def get_user(engine: Engine, user_id: int) -> User | None:
    """The user with this id, or None."""
    check_id("user_id", user_id)
    with db.session_scope(engine, readonly=True) as session:
        row = session.get(UserRow, user_id)
        return _user(row) if row else None


def list_users(engine: Engine) -> list[User]:
    """All users, by user name."""
    with db.session_scope(engine, readonly=True) as session:
        return [_user(row) for row in session.scalars(select(UserRow).order_by(UserRow.username))]


def ensure_demo_users(engine: Engine) -> list[tuple[str, str, str]]:
    """If there are no users at all, create one per role with a random password.

    Returns (username, password, role) for each created user, to show once; [] if users existed.
    """
    with db.session_scope(engine, readonly=True) as session:
        if session.scalar(select(func.count()).select_from(UserRow)):
            return []
    created = [(f"demo-{role}", secrets.token_urlsafe(12), role) for role in ROLES]
    rows = [
        UserRow(
            username=name,
            password_hash=hash_password(password),
            role=role,
            display_name=f"Demo {role}",
            language=None,
            team=None,
            is_active=True,
            created_at=db.utcnow(),
        )
        for name, password, role in created
    ]
    try:
        with db.session_scope(engine) as session:
            if session.scalar(select(func.count()).select_from(UserRow)):
                return []  # another process got there first
            session.add_all(rows)
    except IntegrityError:
        return []
    return created
