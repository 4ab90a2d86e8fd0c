"""The outage register: add, update, end and list outages, with their full history; and matching.

An outage covers areas (four-digit postcode areas such as `3011`, full postcodes such as `3011AB`,
or network node names such as a street cabinet, OLT or CMTS), services (internet, telephony, tv,
email) and connection types (fibre, dsl, cable; none named: all of them). It is active while its
status is investigating or identified and its start has come; planned maintenance is the same
object with `planned` set, active from its start. Every change is written to outage_changes with
who made it (None: the `kb` command) and the values before and after, so the expected end can be
followed as it moved.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, select

from kb.errors import InvalidInput, NotFound
from kb.store import engine as db
from kb.store.tables import (
    CONNECTION_TYPES,
    OUTAGE_ACTIVE,
    OUTAGE_SERVICES,
    OUTAGE_STATUSES,
    OutageAreaRow,
    OutageChangeRow,
    OutageRow,
    UserRow,
    check_id,
    check_text,
)

POSTCODE = re.compile(r"\s*([1-9][0-9]{3})\s?([A-Za-z]{2})?\s*\Z")
# A postcode inside a search query or message: "3011 AB", "3011ab" (a four-digit area alone is a
# number like any other, so it is not taken from free text).
POSTCODE_IN_TEXT = re.compile(r"(?<![\w-])([1-9][0-9]{3}) ?([A-Za-z]{2})(?![\w-])")
# The last two letters of a Dutch postcode are never SA, SD or SS.
NOT_LETTERS = {"SA", "SD", "SS"}
NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}\Z")
CONNECTIONS = tuple(c for c in CONNECTION_TYPES if c != "unknown")
MAX_AREAS = 2000


@dataclass(frozen=True)
class Outage:
    id: int
    planned: bool
    status: str
    services: tuple[str, ...]
    connections: tuple[str, ...]  # empty: every connection type
    areas: tuple[str, ...]  # four-digit areas and full postcodes, normalised
    nodes: tuple[str, ...]
    starts_at: datetime
    expected_end: datetime | None
    fixed_at: datetime | None
    message_nl: str
    message_en: str
    notes: str = field(repr=False)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def active(self, now: datetime | None = None) -> bool:
        return self.status in OUTAGE_ACTIVE and self.starts_at <= (now or db.utcnow())

    def message(self, lang: str) -> str:
        return self.message_nl if lang == "nl" else self.message_en

    def covers(self, postcode: str) -> bool:
        return postcode in self.areas or postcode[:4] in self.areas

    def as_dict(self, lang: str | None = None) -> dict:
        found = {
            "id": self.id,
            "planned": self.planned,
            "status": self.status,
            "services": list(self.services),
            "connections": list(self.connections),
            "areas": list(self.areas),
            "nodes": list(self.nodes),
            "starts_at": self.starts_at.isoformat(),
            "expected_end": self.expected_end.isoformat() if self.expected_end else None,
            "fixed_at": self.fixed_at.isoformat() if self.fixed_at else None,
            "active": self.active(),
        }
        if lang:
            found["message"] = self.message(lang)
        else:
            found |= {"message_nl": self.message_nl, "message_en": self.message_en}
        return found


@dataclass(frozen=True)
class Change:
    at: datetime
    actor: str | None  # None: the kb command
    changes: dict


# -- checks ------------------------------------------------------------------------------------------------


def normalise_postcode(value: object, *, field_name: str = "postcode", area_ok: bool = False) -> str:
    """ "3011 ab" -> "3011AB"; with `area_ok` also "3011". InvalidInput (saying the format) otherwise."""
    match = POSTCODE.match(value) if isinstance(value, str) else None
    if match is None or (match.group(2) is None and not area_ok) or (match.group(2) or "").upper() in NOT_LETTERS:
        shape = "1234AB or 1234" if area_ok else "1234AB"
        raise InvalidInput(field_name, f"A Dutch postcode looks like {shape} (four digits, not starting with 0).")
    return match.group(1) + (match.group(2) or "").upper()


def postcode_in(text: str) -> str | None:
    """The first Dutch postcode written in `text` ("... woon op 3011 AB ..."), normalised, or None."""
    for match in POSTCODE_IN_TEXT.finditer(text or ""):
        if match.group(2).upper() not in NOT_LETTERS:
            return match.group(1) + match.group(2).upper()
    return None


def _choices(field_name: str, values: object, allowed: tuple[str, ...], required: bool) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",") if v.strip()]
    if not isinstance(values, list | tuple) or any(not isinstance(v, str) or v not in allowed for v in values):
        raise InvalidInput(field_name, f"The {field_name} must be some of {', '.join(allowed)}.")
    if required and not values:
        raise InvalidInput(field_name, f"Name at least one of {', '.join(allowed)}.")
    return tuple(sorted(set(values), key=allowed.index))


def _areas(values: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if isinstance(values, str):
        values = [v for v in re.split(r"[,;\s]+", values) if v]
    if not isinstance(values, list | tuple) or len(values) > MAX_AREAS:
        raise InvalidInput("areas", f"Give the areas as a list of at most {MAX_AREAS} postcodes or areas.")
    areas, nodes = [], []
    for value in values:
        if not isinstance(value, str):
            raise InvalidInput("areas", "Each area is text: 3011, 3011AB or a node name.")
        try:
            areas.append(normalise_postcode(value, field_name="areas", area_ok=True))
        except InvalidInput:
            if not NODE.match(value.strip()) or value.strip().isdigit():
                raise InvalidInput(
                    "areas", f"{value[:40]!r} is not a postcode area (3011), a postcode (3011AB) or a node name."
                ) from None
            nodes.append(value.strip().upper())
    return tuple(dict.fromkeys(areas)), tuple(dict.fromkeys(nodes))


def _time(field_name: str, value: object, required: bool = False) -> datetime | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(field_name, f"The {field_name.replace('_', ' ')} is required.")
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                field_name, f"The {field_name.replace('_', ' ')} must be a time like 2026-12-01T14:30+01:00."
            ) from None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInput(field_name, f"The {field_name.replace('_', ' ')} needs a time zone, e.g. +01:00 or Z.")
    if not 2000 <= value.year <= 2100:  # also keeps the conversion to UTC inside datetime's range
        raise InvalidInput(field_name, f"The {field_name.replace('_', ' ')} must be a time between 2000 and 2100.")
    return value.astimezone(UTC)


# -- reading ------------------------------------------------------------------------------------------------


def _outage(row: OutageRow, areas: list[OutageAreaRow]) -> Outage:
    return Outage(
        row.id,
        row.planned,
        row.status,
        tuple(s for s in row.services.split(",") if s),
        tuple(c for c in row.connections.split(",") if c),
        tuple(a.value for a in areas if a.kind != "node"),
        tuple(a.value for a in areas if a.kind == "node"),
        row.starts_at,
        row.expected_end,
        row.fixed_at,
        row.message_nl,
        row.message_en,
        row.notes,
        row.created_at,
        row.updated_at,
    )


def _load(session, rows: list[OutageRow]) -> list[Outage]:
    if not rows:
        return []
    areas: dict[int, list[OutageAreaRow]] = {}
    for area in session.scalars(
        select(OutageAreaRow).where(OutageAreaRow.outage_id.in_([r.id for r in rows])).order_by(OutageAreaRow.id)
    ):
        areas.setdefault(area.outage_id, []).append(area)
    return [_outage(row, areas.get(row.id, [])) for row in rows]


MAX_ID = 2**31 - 1  # the id column (PostgreSQL integer)


def get_outage(engine: Engine, outage_id: int) -> Outage:
    outage_id = check_id("outage_id", outage_id)
    if outage_id > MAX_ID:
        raise NotFound(f"There is no outage {outage_id}; list them with `kb outage list`.")
    with db.session_scope(engine, readonly=True) as session:
        row = session.get(OutageRow, outage_id)
        if row is None:
            raise NotFound(f"There is no outage {outage_id}; list them with `kb outage list`.")
        return _load(session, [row])[0]


def list_outages(engine: Engine, *, active_only: bool = False, limit: int = 200) -> list[Outage]:
    """Newest first; `active_only`: the ones active now (started, not fixed or closed)."""
    query = select(OutageRow)
    if active_only:
        query = query.where(OutageRow.status.in_(OUTAGE_ACTIVE), OutageRow.starts_at <= db.utcnow())
    with db.session_scope(engine, readonly=True) as session:
        rows = session.scalars(query.order_by(OutageRow.starts_at.desc(), OutageRow.id.desc()).limit(limit)).all()
        return _load(session, list(rows))


def history(engine: Engine, outage_id: int) -> list[Change]:
    outage_id = check_id("outage_id", outage_id)
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(OutageChangeRow, UserRow.username)
            .outerjoin(UserRow, UserRow.id == OutageChangeRow.actor_id)
            .where(OutageChangeRow.outage_id == outage_id)
            .order_by(OutageChangeRow.id)
        ).all()
    return [Change(row.at, name, json.loads(row.detail)) for row, name in rows]


@dataclass(frozen=True)
class Match:
    """The outages for a caller: `here` (their postcode, service and connection type), `near` (same
    four-digit area, another service or connection) and, without a postcode, every active unplanned one."""

    postcode: str | None
    here: tuple[Outage, ...] = ()
    near: tuple[Outage, ...] = ()
    elsewhere: tuple[Outage, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.here or self.near or self.elsewhere)


def matching(
    engine: Engine,
    postcode: str | None,
    connection: str | None = None,
    services: tuple[str, ...] | None = None,
    now: datetime | None = None,
) -> Match:
    """The active outages for a caller at `postcode` (normalised 1234AB, or None) with this
    connection type (None or "unknown": any) and these services (None: any).

    Runs on every search, so it reads plain rows (no ORM objects) and two index ranges: the area
    values of the caller's four-digit area, 3011 up to 3011ZZ (the area itself, the caller's postcode
    and the rest of the area, for `near`) on outage_areas (value, outage_id), and the areas of the
    outages found."""
    now = now or db.utcnow()
    outages, areas = OutageRow.__table__, OutageAreaRow.__table__
    active = (outages.c.status.in_(OUTAGE_ACTIVE), outages.c.starts_at <= now)
    with db.session_scope(engine, readonly=True) as session:
        if postcode is None:
            query = select(outages).where(*active, outages.c.planned.is_(False)).order_by(outages.c.starts_at).limit(20)
        else:
            in_area = select(areas.c.outage_id).where(
                areas.c.value >= postcode[:4], areas.c.value <= postcode[:4] + "ZZ"
            )
            query = select(outages).where(*active, outages.c.id.in_(in_area)).order_by(outages.c.starts_at)
        rows = session.execute(query).all()
        found_areas: dict[int, list] = {}
        if rows:
            for area in session.execute(
                select(areas.c.outage_id, areas.c.kind, areas.c.value)
                .where(areas.c.outage_id.in_([r.id for r in rows]))
                .order_by(areas.c.id)
            ):
                found_areas.setdefault(area.outage_id, []).append(area)
        found = [_outage(row, found_areas.get(row.id, [])) for row in rows]
    if postcode is None:
        return Match(None, elsewhere=tuple(found))
    here, near = [], []
    for outage in found:
        fits_service = services is None or bool(set(services) & set(outage.services))
        fits_connection = not outage.connections or connection in (None, "unknown") or connection in outage.connections
        (here if outage.covers(postcode) and fits_service and fits_connection else near).append(outage)
    return Match(postcode, tuple(here), tuple(near))


# -- changing ---------------------------------------------------------------------------------------------------


def _check_actor(session, actor_id: int | None) -> int | None:
    if actor_id is None:
        return None
    actor_id = check_id("actor_id", actor_id)
    if session.get(UserRow, actor_id) is None:
        raise NotFound(f"There is no user with id {actor_id}; log in again.")
    return actor_id


def add_outage(
    engine: Engine,
    *,
    areas: object,
    services: object,
    message_nl: str,
    message_en: str,
    connections: object = (),
    planned: bool = False,
    status: str = "investigating",
    starts_at: object = None,
    expected_end: object = None,
    notes: str = "",
    actor_id: int | None = None,
) -> Outage:
    """Register an outage (or planned maintenance); its first history entry is its creation."""
    area_values, nodes = _areas(areas)
    if not area_values and not nodes:
        raise InvalidInput("areas", "Name at least one area: 3011, 3011AB or a node name.")
    values = {
        "planned": _flag("planned", planned),
        "status": _status(status),
        "services": ",".join(_choices("services", services, OUTAGE_SERVICES, True)),
        "connections": ",".join(_choices("connections", connections, CONNECTIONS, False)),
        "starts_at": _time("starts_at", starts_at) or db.utcnow(),
        "expected_end": _time("expected_end", expected_end),
        "message_nl": check_text("message_nl", message_nl, label="message in Dutch", limit="outage_message"),
        "message_en": check_text("message_en", message_en, label="message in English", limit="outage_message"),
        "notes": check_text("notes", notes, label="internal notes", required=False, limit="outage_notes"),
    }
    _end_after_start(values["starts_at"], values["expected_end"])
    now = db.utcnow()
    with db.session_scope(engine) as session:
        actor_id = _check_actor(session, actor_id)
        row = OutageRow(**values, fixed_at=None, created_at=now, created_by=actor_id, updated_at=now)
        session.add(row)
        session.flush()
        _set_areas(session, row.id, area_values, nodes)
        shown = {k: _plain(v) for k, v in values.items() if k != "notes"}
        detail = {"created": True, **shown, "areas": list(area_values), "nodes": list(nodes)}
        session.add(OutageChangeRow(outage_id=row.id, at=now, actor_id=actor_id, detail=json.dumps(detail)))
        session.flush()
        return _load(session, [row])[0]


def update_outage(engine: Engine, outage_id: int, actor_id: int | None = None, **changes) -> Outage:
    """Change some of: status, expected_end, message_nl, message_en, notes, areas, services,
    connections, starts_at. Setting status `fixed` records when; every change is in its history."""
    outage_id = check_id("outage_id", outage_id)
    if outage_id > MAX_ID:
        raise NotFound(f"There is no outage {outage_id}; list them with `kb outage list`.")
    allowed = {
        "status",
        "expected_end",
        "message_nl",
        "message_en",
        "notes",
        "areas",
        "services",
        "connections",
        "starts_at",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(
            sorted(unknown)[0], f"Unknown field {sorted(unknown)[0]!r}; the fields are {', '.join(sorted(allowed))}."
        )
    now = db.utcnow()
    with db.session_scope(engine) as session:
        actor_id = _check_actor(session, actor_id)
        row = session.get(OutageRow, outage_id, with_for_update=True)
        if row is None:
            raise NotFound(f"There is no outage {outage_id}; list them with `kb outage list`.")
        before = _load(session, [row])[0]
        diff: dict[str, list] = {}

        def put(name, value):
            old = getattr(row, name)
            if old != value:
                diff[name] = [_plain(old), _plain(value)]
                setattr(row, name, value)

        if "status" in changes:
            put("status", _status(changes["status"]))
            if row.status in ("fixed", "closed") and row.fixed_at is None:
                put("fixed_at", now)
            if row.status in OUTAGE_ACTIVE and row.fixed_at is not None:
                put("fixed_at", None)  # it broke again
        if "expected_end" in changes:
            put("expected_end", _time("expected_end", changes["expected_end"]))
        if "starts_at" in changes:
            put("starts_at", _time("starts_at", changes["starts_at"], required=True))
        for name, label in (("message_nl", "message in Dutch"), ("message_en", "message in English")):
            if name in changes:
                put(name, check_text(name, changes[name], label=label, limit="outage_message"))
        if "notes" in changes:
            put(
                "notes",
                check_text("notes", changes["notes"], label="internal notes", required=False, limit="outage_notes"),
            )
        if "services" in changes:
            put("services", ",".join(_choices("services", changes["services"], OUTAGE_SERVICES, True)))
        if "connections" in changes:
            put("connections", ",".join(_choices("connections", changes["connections"], CONNECTIONS, False)))
        _end_after_start(row.starts_at, row.expected_end)
        if "areas" in changes:
            areas, nodes = _areas(changes["areas"])
            if not areas and not nodes:
                raise InvalidInput("areas", "Name at least one area: 3011, 3011AB or a node name.")
            if (areas, nodes) != (before.areas, before.nodes):
                diff["areas"] = [list(before.areas + before.nodes), list(areas + nodes)]
                session.query(OutageAreaRow).filter(OutageAreaRow.outage_id == row.id).delete()
                _set_areas(session, row.id, areas, nodes)
        if "notes" in diff:
            diff["notes"] = ["…", "…"]  # internal notes change; their text stays out of the history
        if diff:
            row.updated_at = now
            session.add(OutageChangeRow(outage_id=row.id, at=now, actor_id=actor_id, detail=json.dumps(diff)))
        session.flush()
        return _load(session, [row])[0]


def end_outage(engine: Engine, outage_id: int, actor_id: int | None = None, status: str = "fixed") -> Outage:
    """The outage is over: `fixed` (the callbacks of its linked cases become due) or `closed`."""
    if status not in ("fixed", "closed"):
        raise InvalidInput("status", "An outage ends as fixed or closed.")
    return update_outage(engine, outage_id, actor_id, status=status)


def _set_areas(session, outage_id: int, areas: tuple[str, ...], nodes: tuple[str, ...]) -> None:
    session.add_all(
        [OutageAreaRow(outage_id=outage_id, kind="postcode" if len(a) == 6 else "area", value=a) for a in areas]
        + [OutageAreaRow(outage_id=outage_id, kind="node", value=n) for n in nodes]
    )


def _status(value: object) -> str:
    if not isinstance(value, str) or value not in OUTAGE_STATUSES:
        raise InvalidInput("status", f"The status must be one of {', '.join(OUTAGE_STATUSES)}.")
    return value


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(name, f"{name} must be true or false.")
    return value


def _end_after_start(start: datetime, end: datetime | None) -> None:
    if end is not None and end <= start:
        raise InvalidInput("expected_end", "The expected end must be after the start.")


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value
