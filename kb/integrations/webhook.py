"""An outbox of hand-off notifications: stored first, POSTed as JSON later, retried with back-off.

Queueing is a database row, written in the same transaction as the escalation (`outbox`), so an
escalation is never committed without its notification nor announced without being committed.
A receiver that is down never loses a hand-off and never blocks
the agent. `deliver_pending` (run after an escalation, or from a periodic job) POSTs what is due;
a failed POST is recorded in `last_error` and tried again after 30 s, 60 s, 120 s, ... until
`max_attempts`, then the delivery is marked failed. Delivery never changes or deletes the case.

With KB_WEBHOOK_SECRET set, every POST carries `X-Firstline-Signature: sha256=<hex>`, the
HMAC-SHA256 of the exact body under that secret, so the receiver can check it came from us.
Plain http:// is refused for any host but this machine unless KB_WEBHOOK_ALLOW_HTTP=1: a
hand-off carries customer data.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from kb.caselog.handoff import DEFAULT_LANGUAGE, HANDOFF_LANGUAGES, Published, StepText, handoff_in
from kb.errors import InvalidInput, NotFound
from kb.store import engine as db
from kb.store.tables import DELIVERY_STATUSES, MAX_LENGTH, CaseRow, WebhookDeliveryRow, check_choice, check_id

__all__ = [
    "Delivery",
    "DeliveryReport",
    "queue_handoff",
    "add_delivery",
    "outbox",
    "deliver_pending",
    "list_deliveries",
    "http_post",
    "backoff",
]

log = logging.getLogger(__name__)

Post = Callable[[str, bytes], int]  # (url, JSON body) -> HTTP status; raising counts as a failure
MAX_ATTEMPTS = 5
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
LEASE = timedelta(minutes=2)  # a claimed delivery is not tried by another worker for this long
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Delivery:
    id: int
    case_id: int
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    payload: dict = field(repr=False)


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def _delivery(row: WebhookDeliveryRow) -> Delivery:
    return Delivery(
        row.id,
        row.case_id,
        row.url,
        row.status,
        row.attempts,
        row.next_attempt_at,
        row.last_error,
        row.delivered_at,
        row.created_at,
        json.loads(row.payload),
    )


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: 30 s doubled each time, at most an hour."""
    return min(BASE_DELAY * 2 ** max(0, attempts - 1), MAX_DELAY)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would follow a 301/302/303 to a POST with a GET without the body, and call that delivered."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise RedirectRefused(
            f"the receiver redirected (HTTP {code}) to {newurl[:200]}; set KB_WEBHOOK_URL to the final address"
        )


class RedirectRefused(urllib.error.URLError):
    def __init__(self, reason: str):
        super().__init__(reason)

    def __str__(self) -> str:
        return str(self.reason)


_OPENER = urllib.request.build_opener(_NoRedirect)


SIGNATURE_HEADER = "X-Firstline-Signature"


def signature(secret: str, body: bytes) -> str:
    """The value of the signature header: 'sha256=' and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def http_post(url: str, body: bytes, timeout: float = TIMEOUT_SECONDS, secret: str | None = None) -> int:
    """POST a JSON body with urllib; the HTTP status (urllib raises for 4xx and 5xx; redirects are failures).

    Signed with `secret`, else with $KB_WEBHOOK_SECRET when set.
    """
    secret = secret if secret is not None else os.environ.get("KB_WEBHOOK_SECRET") or None
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "firstline-kb-handoff"}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    with _OPENER.open(request, timeout=timeout) as response:  # noqa: S310 (scheme checked on queueing)
        response.read()
        return response.status


def _loopback(host: str | None) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_url(url: object) -> str:
    """A webhook URL: https://, or http:// to this machine (or anywhere with KB_WEBHOOK_ALLOW_HTTP=1)."""
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if not parts or parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_LENGTH["url"]:
        raise InvalidInput(
            "url",
            "The webhook URL must be an http:// or https:// address of at most "
            f"{MAX_LENGTH['url']} characters, e.g. https://tickets.example.com/hook.",
        )
    if parts.scheme == "http" and not _loopback(parts.hostname) and os.environ.get("KB_WEBHOOK_ALLOW_HTTP") != "1":
        raise InvalidInput(
            "url",
            f"The webhook URL {parts.scheme}://{parts.netloc} is plain http to another machine: a hand-off "
            "carries customer data. Use https://, or set KB_WEBHOOK_ALLOW_HTTP=1 for a trusted network.",
        )
    return url


def queue_handoff(engine: Engine, case_id: int, url: str, payload: dict) -> Delivery:
    """Store a notification for `url` carrying `payload` (e.g. `build_handoff(...).as_dict()`), due now.

    An escalation queues its notification in its own transaction instead: see `outbox`.
    """
    case_id = check_id("case_id", case_id)
    with db.session_scope(engine) as session:
        if session.get(CaseRow, case_id) is None:
            raise NotFound(f"There is no case {case_id}; check the case number.")
        return add_delivery(session, case_id, url, payload)


def add_delivery(session: Session, case_id: int, url: str, payload: dict) -> Delivery:
    """Add the notification to `session`'s transaction: it is stored if and only if that commits."""
    url = check_url(url)
    if not isinstance(payload, dict):
        raise InvalidInput("payload", "The hand-off payload must be a dict (use Handoff.as_dict()).")
    try:
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            "payload", f"The hand-off payload cannot be sent as JSON ({exc}); use Handoff.as_dict()."
        ) from None
    now = db.utcnow()
    row = WebhookDeliveryRow(
        case_id=case_id, url=url, payload=body, status="pending", attempts=0, next_attempt_at=now, created_at=now
    )
    session.add(row)
    session.flush()
    return _delivery(row)


def outbox(
    url: str,
    step_text: StepText | None = None,
    *,
    language: str = DEFAULT_LANGUAGE,
    published: Published | None = None,
) -> Callable[[Session, int], Delivery]:
    """For `escalate_case(..., outbox=...)`: queue the case's hand-off for `url` in the escalation's
    own transaction (a true outbox: the escalation and its notification commit together).

    The payload is `Handoff.as_dict()` in `language` (labels and titles; every id kept, times in UTC);
    `published` as for build_handoff.
    """
    url = check_url(url)  # a bad address is refused before the escalation starts, not inside it
    language = check_choice("language", language, HANDOFF_LANGUAGES, label="hand-off language (KB_HANDOFF_LANGUAGE)")

    def write(session: Session, case_id: int) -> Delivery:
        handoff = handoff_in(session, case_id, step_text, language=language, published=published)
        return add_delivery(session, case_id, url, handoff.as_dict())

    return write


def deliver_pending(
    engine: Engine,
    post: Post | None = None,
    now: datetime | None = None,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    limit: int = 50,
    url: str | None = None,
) -> DeliveryReport:
    """POST every pending delivery that is due at `now`; record each outcome. Safe to run concurrently.

    `url` is the receiver configured now (KB_WEBHOOK_URL): deliveries queued for an older address
    go there, and the row records where it was sent.
    """
    post, now = post or http_post, now or db.utcnow()
    url = check_url(url) if url is not None else None
    with db.session_scope(engine, readonly=True) as session:
        due = session.scalars(
            select(WebhookDeliveryRow.id)
            .where(WebhookDeliveryRow.status == "pending", WebhookDeliveryRow.next_attempt_at <= now)
            .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
            .limit(limit)
        ).all()
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    for delivery_id in due:
        # A round may take minutes (a slow receiver, up to `limit` deliveries): each claim and each
        # outcome is timed when it happens, not when the round started, so no lease runs out early.
        claimed = _claim(engine, delivery_id, now, max(now, db.utcnow()), url)
        if claimed is None:
            continue  # another worker has it
        target, body, lease = claimed
        error = _attempt(post, target, body)
        outcome = _record(engine, delivery_id, lease, max(now, db.utcnow()), error, max_attempts)
        if outcome is not None:
            counts[outcome] += 1
    return DeliveryReport(**counts)


def _claim(
    engine: Engine, delivery_id: int, due: datetime, now: datetime, url: str | None = None
) -> tuple[str, bytes, datetime] | None:
    """Take the delivery for LEASE (and point it at `url` when given); the lease's end time is the claim's token."""
    lease = now + LEASE
    values = {"next_attempt_at": lease} | ({"url": url} if url else {})
    with db.session_scope(engine) as session:
        result = session.execute(
            update(WebhookDeliveryRow)
            .where(
                WebhookDeliveryRow.id == delivery_id,
                WebhookDeliveryRow.status == "pending",
                WebhookDeliveryRow.next_attempt_at <= due,
            )
            .values(**values)
        )
        if result.rowcount != 1:
            return None
        row = session.get(WebhookDeliveryRow, delivery_id)
        return row.url, row.payload.encode("utf-8"), lease


def _attempt(post: Post, url: str, body: bytes) -> str | None:
    """None on success, else what went wrong."""
    try:
        status = post(url, body)
    except Exception as exc:  # noqa: BLE001 - whatever the receiver does, record it and retry later
        return f"{type(exc).__name__}: {exc}"[:2000]
    return None if 200 <= status < 300 else f"HTTP status {status}"


def _record(
    engine: Engine, delivery_id: int, lease: datetime, now: datetime, error: str | None, max_attempts: int
) -> str | None:
    """Record the outcome, unless the lease ran out and another worker took the delivery over (None)."""
    with db.session_scope(engine) as session:
        row = session.get(WebhookDeliveryRow, delivery_id, with_for_update=True)
        if row is None or row.status != "pending" or row.next_attempt_at != lease:
            log.warning(
                "hand-off delivery %d: the lease ran out before the answer came; not recorded here", delivery_id
            )
            return None
        row.attempts += 1
        if error is None:
            row.status, row.delivered_at, row.next_attempt_at = "delivered", now, now
            return "delivered"
        row.last_error = error
        if row.attempts >= max_attempts:
            row.status, row.next_attempt_at = "failed", now
            log.warning("hand-off delivery %d failed for good after %d attempts", delivery_id, row.attempts)
            return "failed"
        row.next_attempt_at = now + backoff(row.attempts)
        log.info(
            "hand-off delivery %d failed (attempt %d); next try at %s",
            delivery_id,
            row.attempts,
            row.next_attempt_at.isoformat(),
        )
        return "retrying"


def list_deliveries(engine: Engine, case_id: int | None = None, status: str | None = None) -> list[Delivery]:
    """Deliveries, newest first, optionally for one case and/or with one status."""
    query = select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.id.desc())
    if case_id is not None:
        query = query.where(WebhookDeliveryRow.case_id == check_id("case_id", case_id))
    if status is not None:
        query = query.where(
            WebhookDeliveryRow.status == check_choice("status", status, DELIVERY_STATUSES, label="delivery status")
        )
    with db.session_scope(engine, readonly=True) as session:
        return [_delivery(row) for row in session.scalars(query)]
