"""Per-user API tokens for other systems (telephony, ticket systems, wallboards).

A token reads `fkb_<prefix>_<secret>`. Only the SHA-256 of the whole token is stored; the prefix
(unique, 8 characters) names the token in lists and logs without revealing it. A token acts as its
user, with the user's role, while the user is active, the token is not revoked and not expired.
Failed attempts are recorded like failed log-ins and slow the address down the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, InternalError, OperationalError

from kb.errors import InvalidInput, LoginFailed, NotFound
from kb.identity.users import User, _user, refuse_if_address_throttled
from kb.store import engine as db
from kb.store.tables import ApiTokenRow, AuditLogRow, LoginAttemptRow, UserRow, check_id, check_text

__all__ = ["Token", "create_token", "list_tokens", "revoke_token", "authenticate_token", "TOKEN_PATTERN"]

TOKEN_PATTERN = re.compile(r"fkb_([a-z0-9]{8})_([A-Za-z0-9_-]{43})\Z")
PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
MAX_DAYS = 3650
# A token's last-used time is written at most this often: not one write per API call.
LAST_USED_EVERY = timedelta(minutes=1)
# What failed token attempts are recorded under in the log-in attempts (never a user name).
ATTEMPT_NAME = "(api token)"


@dataclass(frozen=True)
class Token:
    id: int
    user_id: int
    username: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def shown(self) -> str:
        """How the token is named in lists and logs: `fkb_<prefix>_…`."""
        return f"fkb_{self.prefix}_…"

    def state(self, now: datetime | None = None) -> str:
        now = now or db.utcnow()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "user": self.username,
            "name": self.name,
            "prefix": self.prefix,
            "state": self.state(),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _token(row: ApiTokenRow, username: str) -> Token:
    return Token(
        row.id,
        row.user_id,
        username,
        row.name,
        row.prefix,
        row.created_at,
        row.expires_at,
        row.last_used_at,
        row.revoked_at,
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _audit(session, actor_id: int | None, action: str, token: ApiTokenRow) -> None:
    session.add(
        AuditLogRow(
            at=db.utcnow(),
            actor_id=actor_id,
            action=action,
            target=f"user:{token.user_id}",
            detail=json.dumps({"token_id": token.id, "prefix": token.prefix, "name": token.name}),
        )
    )


def create_token(
    engine: Engine,
    username: str,
    name: str | None = None,
    expires_days: int | None = 90,
    actor_id: int | None = None,
) -> tuple[Token, str]:
    """A new token for the user: (its record, the token itself, to show once and never again).

    `expires_days` None or 0: the token does not expire. Audited with `actor_id` (None: `kb`).
    """
    if not isinstance(username, str) or not username.strip():
        raise InvalidInput("username", "Name the user the token is for.")
    name = check_text("name", name or "API token", label="token name", one_line=True, limit="display_name")
    if expires_days is not None and (
        isinstance(expires_days, bool) or not isinstance(expires_days, int) or not 0 <= expires_days <= MAX_DAYS
    ):
        raise InvalidInput("expires", f"The expiry must be a whole number of days from 1 to {MAX_DAYS} (0: never).")
    actor_id = None if actor_id is None else check_id("actor_id", actor_id)
    now = db.utcnow()
    for _attempt in range(5):  # a prefix clash among 36**8 is rare; try again with another one
        prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(8))
        token = f"fkb_{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with db.session_scope(engine) as session:
                user = session.scalar(select(UserRow).where(UserRow.username == username.strip().lower()))
                if user is None:
                    raise NotFound(f"There is no user {username!r}; check the spelling or list the users.")
                row = ApiTokenRow(
                    user_id=user.id,
                    name=name,
                    prefix=prefix,
                    secret_hash=_digest(token),
                    created_at=now,
                    created_by=actor_id,
                    expires_at=now + timedelta(days=expires_days) if expires_days else None,
                )
                session.add(row)
                session.flush()
                _audit(session, actor_id, "create_token", row)
                return _token(row, user.username), token
        except IntegrityError:
            continue
    raise RuntimeError("could not find a free token prefix")  # pragma: no cover


def list_tokens(engine: Engine, username: str | None = None, user_id: int | None = None) -> list[Token]:
    """Tokens (newest first): all, one user name's, or one user id's."""
    query = select(ApiTokenRow, UserRow.username).join(UserRow, UserRow.id == ApiTokenRow.user_id)
    if username is not None:
        query = query.where(UserRow.username == username.strip().lower())
    if user_id is not None:
        query = query.where(ApiTokenRow.user_id == check_id("user_id", user_id))
    with db.session_scope(engine, readonly=True) as session:
        if username is not None and session.scalar(select(UserRow.id).where(UserRow.username == username)) is None:
            raise NotFound(f"There is no user {username!r}; check the spelling or list the users.")
        rows = session.execute(query.order_by(ApiTokenRow.id.desc())).all()
        return [_token(row, name) for row, name in rows]


def revoke_token(engine: Engine, token_id: int, actor_id: int | None = None, owner_id: int | None = None) -> Token:
    """Revoke a token now (audited); its next request is refused. `owner_id`: only if it is theirs."""
    token_id = check_id("token_id", token_id)
    with db.session_scope(engine) as session:
        row = session.get(ApiTokenRow, token_id, with_for_update=True)
        if row is None or (owner_id is not None and row.user_id != owner_id):
            raise NotFound(f"There is no token {token_id}; list the tokens to see their ids.")
        if row.revoked_at is None:
            row.revoked_at = db.utcnow()
            _audit(session, actor_id, "revoke_token", row)
        return _token(row, session.get(UserRow, row.user_id).username)


def authenticate_token(engine: Engine, presented: str, address: str) -> tuple[User, Token]:
    """The active user and token for a presented bearer token; LoginFailed (with what to do) if it
    is unknown, revoked, expired or its user disabled; LoginThrottled while the address is slowed."""
    address = (address or "unknown")[:64]
    now = db.utcnow()
    with db.session_scope(engine, readonly=True) as session:
        refuse_if_address_throttled(session, address, now, what="API token attempts")
    match = TOKEN_PATTERN.match(presented or "")
    row = user = None
    if match is not None:
        with db.session_scope(engine, readonly=True) as session:
            row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.prefix == match.group(1)))
            if row is not None:
                user = session.get(UserRow, row.user_id)
                row = _token(row, user.username), row.secret_hash
    if row is None or not hmac.compare_digest(row[1], _digest(presented)):
        _failed(engine, address, now)
        raise LoginFailed("This API token is not valid; check that it was copied whole, or create a new one.")
    token, _hash = row
    if token.state(now) != "active":
        _failed(engine, address, now)
        raise LoginFailed(
            f"This API token is {token.state(now)}; create a new one (kb token create, or your settings)."
        )
    if not user.is_active:
        _failed(engine, address, now)
        raise LoginFailed("The account of this API token is disabled; ask an admin.")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        try:
            with db.session_scope(engine) as session:
                session.get(ApiTokenRow, token.id).last_used_at = now
        except (OperationalError, InternalError):  # a read-only database still serves reads
            pass
    return _user(user), token


def _failed(engine: Engine, address: str, now: datetime) -> None:
    try:
        with db.session_scope(engine) as session:
            session.add(LoginAttemptRow(username=ATTEMPT_NAME, address=address, succeeded=False, at=now))
    except (OperationalError, InternalError):
        pass  # the refusal stands; only the count is missing
