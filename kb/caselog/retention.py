"""Retention: customer details of old closed cases are removed, the counts analytics need stay.

`purge(engine, before)` works on cases closed before `before` (KB_RETENTION_DAYS ago, from
`kb purge`): the customer reference, the problem, notes, step results, searches, reasons and
outcome notes are replaced by PURGED or removed; what happened (event kinds and times, articles
and revisions, steps ticked, team, outcome, handle time) stays. Webhook deliveries of those cases
(their payload is the full hand-off) are deleted, flagged content gaps older than the cut-off lose
their query text, and log-in attempts older than the cut-off (or than 30 days) are deleted. Open
cases are never touched. Running it again changes nothing more.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update

from kb.errors import InvalidInput
from kb.store import engine as db
from kb.store.tables import (
    CaseEventRow,
    CaseRow,
    ContentGapRow,
    IdempotencyKeyRow,
    LoginAttemptRow,
    WebhookDeliveryRow,
)

PURGED = "(purged)"
ATTEMPTS_KEPT = timedelta(days=30)
IDEMPOTENCY_KEPT = timedelta(hours=24)  # stored answers of idempotent API requests (kb.integrations.idempotency)


@dataclass(frozen=True)
class PurgeReport:
    cases: int
    events: int
    gaps: int
    deliveries: int
    login_attempts: int


def retention_days() -> int | None:
    """KB_RETENTION_DAYS as a whole number of days, or None when unset (keep everything)."""
    raw = os.environ.get("KB_RETENTION_DAYS", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(
            "KB_RETENTION_DAYS",
            f"KB_RETENTION_DAYS must be a whole number of days, 1 or more (found {raw!r}); unset it to keep everything",
        )
    return int(raw)


def purge(engine: Engine, before: datetime, dry_run: bool = False) -> PurgeReport:
    """Remove customer details of cases closed before `before` (timezone-aware); see the module text."""
    if not isinstance(before, datetime) or before.utcoffset() is None:
        raise InvalidInput("before", "The cut-off must be a timezone-aware datetime (use kb.store.engine.utcnow()).")
    with db.session_scope(engine) as session:
        ids = session.scalars(
            select(CaseRow.id).where(
                CaseRow.status != "open", CaseRow.closed_at < before, CaseRow.customer_ref != PURGED
            )
        ).all()
        texts = select(CaseEventRow.id).where(CaseEventRow.case_id.in_(ids), CaseEventRow.text.is_not(None))
        events = len(session.scalars(texts).all()) if ids else 0
        deliveries = (
            len(session.scalars(select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.case_id.in_(ids))).all())
            if ids
            else 0
        )
        gaps_query = select(ContentGapRow.id).where(ContentGapRow.at < before, ContentGapRow.query != PURGED)
        gaps = len(session.scalars(gaps_query).all())
        attempts_before = max(before, db.utcnow() - ATTEMPTS_KEPT)
        attempts = len(session.scalars(select(LoginAttemptRow.id).where(LoginAttemptRow.at < attempts_before)).all())
        if not dry_run:
            if ids:
                session.execute(
                    update(CaseRow)
                    .where(CaseRow.id.in_(ids))
                    .values(
                        customer_ref=PURGED, problem=PURGED, escalation_reason=None, outcome_note=None, postcode=None
                    )
                )
                # A search keeps its top article ids in `data`; its query text goes.
                session.execute(
                    update(CaseEventRow)
                    .where(CaseEventRow.case_id.in_(ids), CaseEventRow.text.is_not(None))
                    .values(text=PURGED)
                )
                session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.case_id.in_(ids)))
            session.execute(
                update(ContentGapRow).where(ContentGapRow.id.in_(gaps_query)).values(query=PURGED, vector=None)
            )
            session.execute(delete(LoginAttemptRow).where(LoginAttemptRow.at < attempts_before))
            # Stored answers to idempotent API requests may hold customer details: kept 24 hours only.
            session.execute(
                delete(IdempotencyKeyRow).where(IdempotencyKeyRow.created_at < db.utcnow() - IDEMPOTENCY_KEPT)
            )
    return PurgeReport(len(ids), events, gaps, deliveries, attempts)
