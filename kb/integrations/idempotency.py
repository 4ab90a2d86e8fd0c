"""Idempotency keys: a POST sent again with the same `Idempotency-Key` gets the first answer.

A telephony system retries on a time-out; the first request may have been committed anyway. The
first request with a key claims it (a row without a status); its answer is stored when it is
done, and a retry with the same key and the same request gets that answer again without running
anything twice. The same key with another request is refused; a retry while the first one is
still running is told to wait. A claim whose request failed with a server error is released, so
the retry runs. Keys are per user and kept for KEEP (24 hours); the answers may contain customer
details, so they are deleted after that (also by `kb purge`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from kb.caselog.retention import IDEMPOTENCY_KEPT as KEEP
from kb.store import engine as db
from kb.store.tables import IdempotencyKeyRow

MAX_KEY = 255


@dataclass(frozen=True)
class Claim:
    """What a request with a key should do: `run` it (then `finish`), `replay` the stored answer,
    or refuse it as a `conflict` (the key was used for another request) or `busy` (still running)."""

    outcome: str  # run | replay | conflict | busy
    row_id: int | None = None
    status: int | None = None
    body: str | None = None


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def claim(engine: Engine, user_id: int, key: str, print_: str) -> Claim:
    now = db.utcnow()
    with db.session_scope(engine) as session:
        session.execute(delete(IdempotencyKeyRow).where(IdempotencyKeyRow.created_at < now - KEEP))
    try:
        with db.session_scope(engine) as session:
            row = IdempotencyKeyRow(user_id=user_id, key=key, fingerprint=print_, status=None, created_at=now)
            session.add(row)
            session.flush()
            return Claim("run", row.id)
    except IntegrityError:
        pass
    with db.session_scope(engine, readonly=True) as session:
        row = session.scalar(
            select(IdempotencyKeyRow).where(IdempotencyKeyRow.user_id == user_id, IdempotencyKeyRow.key == key)
        )
        if row is None:  # released between our insert and this read: the caller may simply retry
            return Claim("busy")
        if row.fingerprint != print_:
            return Claim("conflict")
        if row.status is None:
            return Claim("busy")
        return Claim("replay", row.id, row.status, row.body)


def finish(engine: Engine, row_id: int, status: int, body: str) -> None:
    with db.session_scope(engine) as session:
        row = session.get(IdempotencyKeyRow, row_id)
        if row is not None:
            row.status, row.body = status, body


def release(engine: Engine, row_id: int) -> None:
    with db.session_scope(engine) as session:
        session.execute(delete(IdempotencyKeyRow).where(IdempotencyKeyRow.id == row_id))
