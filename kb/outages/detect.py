"""Possible outages seen in the calls themselves, before the network operations centre registers one.

When at least KB_OUTAGE_ALERT_CASES cases (default 5) with a connectivity problem come in from the
same four-digit postcode area within KB_OUTAGE_ALERT_MINUTES (default 30), and no active outage
covers that area, the area is a possible outage. A case has a connectivity problem when an article
of a connectivity category was its best search result, or was opened or worked on it; without
that knowledge (`connectivity` None) every case with a postcode counts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from kb.store import engine as db
from kb.store.tables import OUTAGE_ACTIVE, CaseEventRow, CaseRow, OutageAreaRow, OutageRow

# The article categories whose problems an outage explains.
OUTAGE_CATEGORIES = ("connectivity", "wifi", "router", "telephony", "email", "tv")


def thresholds() -> tuple[int, timedelta]:
    """(cases, window) from KB_OUTAGE_ALERT_CASES and KB_OUTAGE_ALERT_MINUTES (5 in 30 minutes)."""

    def number(name: str, default: int) -> int:
        try:
            value = int(os.environ.get(name) or default)
        except ValueError:
            return default
        return value if value > 0 else default

    return number("KB_OUTAGE_ALERT_CASES", 5), timedelta(minutes=number("KB_OUTAGE_ALERT_MINUTES", 30))


@dataclass(frozen=True)
class Alert:
    area: str  # four digits
    case_ids: tuple[int, ...]
    first_at: datetime
    last_at: datetime
    connection_types: tuple[str, ...]


def possible_outages(
    engine: Engine,
    connectivity: set[str] | None = None,
    *,
    now: datetime | None = None,
    cases: int | None = None,
    window: timedelta | None = None,
) -> list[Alert]:
    """The areas with at least `cases` connectivity cases opened within `window` before `now` that
    no active outage covers; most cases first."""
    default_cases, default_window = thresholds()
    cases, window, now = cases or default_cases, window or default_window, now or db.utcnow()
    since = now - window
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(CaseRow.id, CaseRow.postcode, CaseRow.opened_at, CaseRow.connection_type).where(
                CaseRow.postcode.is_not(None), CaseRow.opened_at > since, CaseRow.opened_at <= now
            )
        ).all()
        if connectivity is not None and rows:
            rows = [r for r in rows if r.id in _connectivity_cases(session, [r.id for r in rows], connectivity)]
        by_area: dict[str, list] = {}
        for row in rows:
            by_area.setdefault(row.postcode[:4], []).append(row)
        candidates = {area: found for area, found in by_area.items() if len(found) >= cases}
        if not candidates:
            return []
        covered = set(
            session.scalars(
                select(OutageAreaRow.value)
                .join(OutageRow, OutageRow.id == OutageAreaRow.outage_id)
                .where(
                    OutageRow.status.in_(OUTAGE_ACTIVE),
                    OutageRow.starts_at <= now,
                    OutageAreaRow.kind != "node",
                    OutageAreaRow.value.in_(list(candidates) + [r.postcode for f in candidates.values() for r in f]),
                )
            )
        )
    alerts = []
    for area, found in candidates.items():
        if area in covered:
            continue
        found = [r for r in found if r.postcode not in covered]  # a full-postcode outage explains its own street
        if len(found) < cases:
            continue
        found.sort(key=lambda r: (r.opened_at, r.id))
        alerts.append(
            Alert(
                area,
                tuple(r.id for r in found),
                found[0].opened_at,
                found[-1].opened_at,
                tuple(sorted({r.connection_type for r in found if r.connection_type != "unknown"})),
            )
        )
    return sorted(alerts, key=lambda a: (-len(a.case_ids), a.area))


def _connectivity_cases(session, case_ids: list[int], connectivity: set[str]) -> set[int]:
    found = set()
    events = session.execute(
        select(CaseEventRow.case_id, CaseEventRow.kind, CaseEventRow.article_id, CaseEventRow.data).where(
            CaseEventRow.case_id.in_(case_ids),
            CaseEventRow.kind.in_(("search", "article_opened", "step_ticked", "resolved")),
        )
    ).all()
    for case_id, kind, article_id, data in events:
        if kind == "search":
            try:
                top = (json.loads(data or "{}").get("top_ids") or [None])[0]
            except (ValueError, AttributeError):
                top = None
            if top in connectivity:
                found.add(case_id)
        elif article_id in connectivity:
            found.add(case_id)
    return found
