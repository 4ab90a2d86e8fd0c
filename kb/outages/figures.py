"""The analysts' figures of known outages (docs/metrics.md, "Known outages"), per outage.

For each outage: the cases linked to it; the median handle time of the linked calls and of the
unlinked calls from its areas during its window; the calls from its areas that came in after it
started but before it was registered (how late the register was); and its callbacks (asked,
restored, still broken, due, waiting for the fix).

The affected area of an outage is its postcode areas: a four-digit area (`3011`) covers every
case postcode that starts with it, a full postcode (`3011AB`) that postcode only; node names are
not postcodes and cover no case. Its window runs from `starts_at` to `fixed_at`, or to now while it
is not fixed. Three queries over all the outages asked for: the linked cases counted and their
median taken by the database (the cases' outage_id index); the calls from the areas, one postcode
range per area on the cases' (postcode, opened_at) index, one row per outage and call (only the
calls inside the windows travel); and the outages with their areas. No per-case lookups.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Integer, and_, bindparam, case, column, func, literal, select, text

from kb.store import engine as db
from kb.store.tables import CaseRow, OutageAreaRow, OutageRow, UTCDateTime

# The highest postcode inside a four-digit area: Dutch postcodes end in two capital letters.
AREA_END = "ZZ"


@dataclass(frozen=True)
class OutageFigures:
    outage_id: int
    planned: bool
    status: str
    services: tuple[str, ...]
    areas: tuple[str, ...]  # four-digit areas and full postcodes
    nodes: tuple[str, ...]
    starts_at: datetime
    registered_at: datetime  # when it was entered in the register (created_at)
    fixed_at: datetime | None
    window_end: datetime  # fixed_at, or the moment the figures were computed
    linked_cases: int  # cases linked to it (closed as known outage with it; still linked if reopened)
    linked_closed: int  # of which closed, with a handle time
    median_handle_linked: float | None  # seconds
    area_calls: int  # cases from its areas opened in its window (linked or not)
    unlinked_closed: int  # of those: closed, not linked to any outage
    median_handle_unlinked: float | None  # seconds
    calls_before_registration: int  # from its areas, opened at or after the start, before registration
    first_call_before_registration: datetime | None
    callbacks_asked: int
    callbacks_restored: int
    callbacks_still_broken: int
    callbacks_due: int  # fixed, not called back yet (the worklist)
    callbacks_waiting: int  # not fixed yet

    @property
    def minutes_late(self) -> float | None:
        """Minutes from the first call from its areas (after its start) to its registration."""
        if self.first_call_before_registration is None:
            return None
        return round((self.registered_at - self.first_call_before_registration).total_seconds() / 60, 1)

    @property
    def callbacks_done(self) -> int:
        return self.callbacks_restored + self.callbacks_still_broken

    def as_dict(self) -> dict:
        return {
            "id": self.outage_id,
            "planned": self.planned,
            "status": self.status,
            "services": list(self.services),
            "areas": list(self.areas),
            "nodes": list(self.nodes),
            "starts_at": self.starts_at.isoformat(),
            "registered_at": self.registered_at.isoformat(),
            "fixed_at": self.fixed_at.isoformat() if self.fixed_at else None,
            "window_end": self.window_end.isoformat(),
            "linked_cases": self.linked_cases,
            "linked_closed": self.linked_closed,
            "median_handle_seconds_linked": self.median_handle_linked,
            "area_calls": self.area_calls,
            "unlinked_closed": self.unlinked_closed,
            "median_handle_seconds_unlinked": self.median_handle_unlinked,
            "calls_before_registration": self.calls_before_registration,
            "first_call_before_registration": (
                self.first_call_before_registration.isoformat() if self.first_call_before_registration else None
            ),
            "minutes_late": self.minutes_late,
            "callbacks_asked": self.callbacks_asked,
            "callbacks_done": self.callbacks_done,
            "callbacks_restored": self.callbacks_restored,
            "callbacks_still_broken": self.callbacks_still_broken,
            "callbacks_due": self.callbacks_due,
            "callbacks_waiting": self.callbacks_waiting,
        }


AREA_CALLS = (
    text(
        """
    SELECT DISTINCT a.outage_id, c.id, c.opened_at, c.handle_seconds, c.outage_id AS linked_to
    FROM outage_areas a CROSS JOIN cases c CROSS JOIN outages o
    WHERE a.outage_id IN :ids AND a.kind IN ('area', 'postcode') AND o.id = a.outage_id
      AND c.postcode >= a.value
      AND c.postcode <= CASE WHEN a.kind = 'area' THEN a.value || :area_end ELSE a.value END
      AND c.opened_at >= o.starts_at AND c.opened_at <= COALESCE(o.fixed_at, :now)
    """
    )
    .bindparams(bindparam("ids", expanding=True), bindparam("now", type_=UTCDateTime), area_end=AREA_END)
    .columns(
        column("outage_id", Integer),
        column("id", Integer),
        column("opened_at", UTCDateTime),
        column("handle_seconds", Integer),
        column("linked_to", Integer),
    )
)


def _median(values: list[int]) -> float | None:
    """The middle value; the mean of the two middle ones for an even count (as the headline's median)."""
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    return float(ordered[n // 2]) if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def _medians(session, rows_query, key_columns: int) -> dict[tuple, float]:
    """Median of `h` per group, by the database: `rows_query` selects the group keys k0.. and h."""
    inner = rows_query.subquery()
    keys = [inner.c[f"k{i}"] for i in range(key_columns)]
    ranked = select(
        *keys,
        inner.c.h,
        func.row_number().over(partition_by=keys, order_by=inner.c.h).label("rn"),
        func.count().over(partition_by=keys).label("n"),
    ).subquery()
    rows = session.execute(
        select(*[ranked.c[f"k{i}"] for i in range(key_columns)], ranked.c.h, ranked.c.rn, ranked.c.n).where(
            (ranked.c.rn == (ranked.c.n + 1) // 2) | (ranked.c.rn == ranked.c.n // 2 + 1)
        )
    ).all()
    middle: dict[tuple, list[int]] = defaultdict(list)
    for row in rows:
        middle[tuple(row[:key_columns])].append(row[key_columns])
    return {k: sum(v) / len(v) for k, v in middle.items()}


def outages_in(engine: Engine, start: datetime, end: datetime, now: datetime | None = None) -> list[int]:
    """The outages whose window (start to fix, or to now) overlaps [start, end): newest start first.
    Planned work that has not started yet has no window."""
    now = now or db.utcnow()
    window_end = func.coalesce(OutageRow.fixed_at, literal(now, UTCDateTime))
    with db.session_scope(engine, readonly=True) as session:
        return list(
            session.scalars(
                select(OutageRow.id)
                .where(OutageRow.starts_at < end, OutageRow.starts_at <= now, window_end >= start)
                .order_by(OutageRow.starts_at.desc(), OutageRow.id.desc())
            )
        )


def figures(engine: Engine, outage_ids: list[int], now: datetime | None = None) -> list[OutageFigures]:
    """The figures of these outages (unknown ids are left out), in the order given."""
    now = now or db.utcnow()
    ids = sorted({int(i) for i in outage_ids})
    if not ids:
        return []
    o, a, c = OutageRow, OutageAreaRow, CaseRow
    found: dict[int, OutageFigures] = {}
    with db.session_scope(engine, readonly=True) as session:
        outages = {row.id: row for row in session.scalars(select(o).where(o.id.in_(ids)))}
        areas: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for outage_id, kind, value in session.execute(
            select(a.outage_id, a.kind, a.value).where(a.outage_id.in_(ids)).order_by(a.id)
        ):
            areas[outage_id].append((kind, value))

        # Linked cases and callbacks: the cases' outage_id index.
        linked = {
            row[0]: row[1:]
            for row in session.execute(
                select(
                    c.outage_id,
                    func.count(),
                    _count(c.handle_seconds.is_not(None)),
                    _count(c.callback.is_(True)),
                    _count(c.callback_result == "restored"),
                    _count(c.callback_result == "still_broken"),
                    _count(and_(c.callback.is_(True), c.callback_result.is_(None), c.status == "known_outage")),
                )
                .where(c.outage_id.in_(ids))
                .group_by(c.outage_id)
            )
        }
        linked_medians = _medians(
            session,
            select(c.outage_id.label("k0"), c.handle_seconds.label("h")).where(
                c.outage_id.in_(ids), c.handle_seconds.is_not(None)
            ),
            1,
        )

        # The calls from each outage's areas in its window, one row per (outage, case): per area row
        # the postcode range 3011 .. 3011ZZ (or the postcode itself) on the cases' (postcode,
        # opened_at) index. CROSS JOIN keeps SQLite's planner to the order areas, cases, outage (left to
        # itself it walks the cases of each outage's window by opened_at instead, 10 to 20 times slower);
        # PostgreSQL plans it as a plain join. DISTINCT: a case in two areas of one outage (3011, 3011AB) counts once.
        calls: dict[int, list[tuple[datetime, int | None, int | None]]] = defaultdict(list)
        for outage_id, _, opened_at, handle_seconds, linked_to in session.execute(AREA_CALLS, {"ids": ids, "now": now}):
            calls[outage_id].append((opened_at, handle_seconds, linked_to))

    for outage_id, row in outages.items():
        n_linked, n_closed, asked, restored, broken, open_callbacks = (
            int(v or 0) for v in linked.get(outage_id, (0,) * 6)
        )
        found_calls = calls.get(outage_id, [])
        unlinked = [h for _, h, to in found_calls if to is None and h is not None]
        before = [at for at, _, _ in found_calls if at < row.created_at]
        kinds = areas.get(outage_id, [])
        found[outage_id] = OutageFigures(
            outage_id=outage_id,
            planned=bool(row.planned),
            status=row.status,
            services=tuple(s for s in row.services.split(",") if s),
            areas=tuple(v for k, v in kinds if k != "node"),
            nodes=tuple(v for k, v in kinds if k == "node"),
            starts_at=row.starts_at,
            registered_at=row.created_at,
            fixed_at=row.fixed_at,
            window_end=row.fixed_at or now,
            linked_cases=n_linked,
            linked_closed=n_closed,
            median_handle_linked=linked_medians.get((outage_id,)),
            area_calls=len(found_calls),
            unlinked_closed=len(unlinked),
            median_handle_unlinked=_median(unlinked),
            calls_before_registration=len(before),
            first_call_before_registration=min(before, default=None),
            callbacks_asked=asked,
            callbacks_restored=restored,
            callbacks_still_broken=broken,
            callbacks_due=open_callbacks if row.fixed_at is not None else 0,
            callbacks_waiting=open_callbacks if row.fixed_at is None else 0,
        )
    order = {int(i): n for n, i in enumerate(outage_ids)}
    return sorted(found.values(), key=lambda x: order.get(x.outage_id, 0))


def in_period(engine: Engine, start: datetime, end: datetime, now: datetime | None = None) -> list[OutageFigures]:
    """The figures of every outage whose window overlaps [start, end), newest start first."""
    now = now or db.utcnow()
    return figures(engine, outages_in(engine, start, end, now), now)
