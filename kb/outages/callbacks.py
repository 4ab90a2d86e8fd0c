"""The callback worklist: customers of cases closed as a known outage who asked to be called back,
once their outage is fixed. Each is called back once: restored, or still broken (the case reopens,
kb.caselog.cases.record_callback)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select

from kb.store import engine as db
from kb.store.tables import CaseRow, OutageRow, UserRow


@dataclass(frozen=True)
class Callback:
    case_id: int
    outage_id: int
    agent_name: str
    channel: str
    customer_ref: str = field(repr=False)
    closed_at: datetime | None = None
    fixed_at: datetime | None = None


def due(engine: Engine, *, outage_id: int | None = None, limit: int = 500) -> list[Callback]:
    """The callbacks to make now (outage fixed, not called back yet), oldest fix first."""
    query = (
        select(
            CaseRow.id,
            CaseRow.outage_id,
            UserRow.display_name,
            CaseRow.channel,
            CaseRow.customer_ref,
            CaseRow.closed_at,
            OutageRow.fixed_at,
        )
        .join(OutageRow, OutageRow.id == CaseRow.outage_id)
        .join(UserRow, UserRow.id == CaseRow.agent_id)
        .where(
            CaseRow.status == "known_outage",
            CaseRow.callback.is_(True),
            CaseRow.callback_result.is_(None),
            OutageRow.fixed_at.is_not(None),
        )
    )
    if outage_id is not None:
        query = query.where(CaseRow.outage_id == outage_id)
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(query.order_by(OutageRow.fixed_at, CaseRow.id).limit(limit)).all()
    return [Callback(*row) for row in rows]


def waiting(engine: Engine, outage_id: int) -> int:
    """Linked cases of this outage that asked for a callback and were not called back yet."""
    from sqlalchemy import func

    with db.session_scope(engine, readonly=True) as session:
        return (
            session.scalar(
                select(func.count()).where(
                    CaseRow.outage_id == outage_id, CaseRow.callback.is_(True), CaseRow.callback_result.is_(None)
                )
            )
            or 0
        )
