"""The network operations centre's pages: the outage register (new, edit, end, history), possible
outages seen in the calls (one click makes one an outage), and the agents' callback worklist.

Roles: `noc` and admins keep the register; agents (and admins) work the callback list, which the
noc role may read. Times in the forms are in the app's time zone (KB_TIMEZONE, Europe/Amsterdam).
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from kb.errors import InvalidInput, KBError, NotFound
from kb.outages import callbacks as callback_list
from kb.outages import detect, register
from kb.outages.detect import OUTAGE_CATEGORIES
from kb.store import engine as db
from kb.store.tables import OUTAGE_SERVICES, CaseRow
from webapp import library
from webapp.labels import CHANNEL_LABELS, OUTAGE_STATUS_LABELS, SERVICE_LABELS
from webapp.security import CASE_ROLES, roles

bp = Blueprint("outages", __name__, url_prefix="/outages")
log = logging.getLogger(__name__)

NOC_ROLES = ("noc",)
CONNECTIONS = ("fibre", "dsl", "cable")
MAX_PASTED_AREAS = 20_000  # characters of the areas field


def _engine():
    return current_app.extensions["kb"].engine


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Europe/Amsterdam")


def _local_input(value: datetime | None) -> str:
    """A stored time as the value of an <input type=datetime-local> in the app's zone."""
    return value.astimezone(_zone()).strftime("%Y-%m-%dT%H:%M") if value else ""


def _from_input(name: str, value: str | None) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(name, gettext("Give the time as date and time, e.g. 2026-12-01 18:00.")) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_zone())


def _connectivity_articles() -> set[str] | None:
    try:
        return {a.id for a in library.published_for_lint() if a.category in OUTAGE_CATEGORIES}
    except KBError:
        return None


def _form_values(outage: register.Outage | None = None, area: str = "") -> dict:
    if outage is None:
        return {
            "areas": area,
            "services": ["internet"],
            "connections": [],
            "planned": False,
            "status": "investigating",
            "starts_at": "",
            "expected_end": "",
            "message_nl": "",
            "message_en": "",
            "notes": "",
        }
    return {
        "areas": "\n".join(outage.areas + outage.nodes),
        "services": list(outage.services),
        "connections": list(outage.connections),
        "planned": outage.planned,
        "status": outage.status,
        "starts_at": _local_input(outage.starts_at),
        "expected_end": _local_input(outage.expected_end),
        "message_nl": outage.message_nl,
        "message_en": outage.message_en,
        "notes": outage.notes,
    }


def _submitted() -> dict:
    form = request.form
    return {
        "areas": form.get("areas", "")[:MAX_PASTED_AREAS],
        "services": [s for s in form.getlist("services") if s in OUTAGE_SERVICES],
        "connections": [c for c in form.getlist("connections") if c in CONNECTIONS],
        "planned": form.get("planned") == "1",
        "status": form.get("status", "investigating"),
        "starts_at": form.get("starts_at", ""),
        "expected_end": form.get("expected_end", ""),
        "message_nl": form.get("message_nl", ""),
        "message_en": form.get("message_en", ""),
        "notes": form.get("notes", ""),
    }


def _edit_page(values: dict, outage=None, error: str | None = None, field: str | None = None, status: int = 200):
    changes, linked, waiting = [], 0, 0
    if outage is not None:
        changes = register.history(_engine(), outage.id)
        with db.session_scope(_engine(), readonly=True) as session:
            linked = session.scalar(select(func.count()).where(CaseRow.outage_id == outage.id)) or 0
        waiting = callback_list.waiting(_engine(), outage.id)
    return render_template(
        "outages/edit.html",
        outage=outage,
        values=values,
        error=error,
        error_field=field,
        changes=changes,
        linked=linked,
        waiting=waiting,
        services=SERVICE_LABELS,
        statuses=OUTAGE_STATUS_LABELS,
        connections=CONNECTIONS,
    ), status


@bp.get("/")
@roles(*NOC_ROLES)
def index():
    engine = _engine()
    outages = register.list_outages(engine, limit=100)
    try:
        alerts = detect.possible_outages(engine, _connectivity_articles())
    except SQLAlchemyError as exc:
        log.error("possible outages could not be computed: %s", type(exc).__name__)
        alerts = []
    cases, window = detect.thresholds()
    return render_template(
        "outages/index.html",
        active=[o for o in outages if o.active()],
        planned=[o for o in outages if o.planned and o.status in ("investigating", "identified") and not o.active()],
        ended=[o for o in outages if o.status in ("fixed", "closed")][:30],
        alerts=alerts,
        alert_cases=cases,
        alert_minutes=int(window.total_seconds() // 60),
        services=SERVICE_LABELS,
        statuses=OUTAGE_STATUS_LABELS,
    )


@bp.get("/new")
@roles(*NOC_ROLES)
def new():
    return _edit_page(
        _form_values(area=request.args.get("area", "")[:4] if request.args.get("area", "").isdigit() else "")
    )


@bp.post("/")
@roles(*NOC_ROLES)
def create():
    values = _submitted()
    try:
        outage = register.add_outage(
            _engine(),
            areas=values["areas"],
            services=values["services"],
            connections=values["connections"],
            planned=values["planned"],
            status=values["status"],
            starts_at=_from_input("starts_at", values["starts_at"]),
            expected_end=_from_input("expected_end", values["expected_end"]),
            message_nl=values["message_nl"],
            message_en=values["message_en"],
            notes=values["notes"],
            actor_id=g.user.id,
        )
    except InvalidInput as exc:
        return _edit_page(values, error=exc.message, field=exc.field, status=400)
    flash(gettext("Outage %(id)s is registered; agents see it now.", id=outage.id), "info")
    return redirect(url_for("outages.show", outage_id=outage.id), 303)


@bp.post("/from-alert")
@roles(*NOC_ROLES)
def from_alert():
    """One click on a possible outage: registered as investigating, for internet in that area."""
    area = request.form.get("area", "")
    try:
        outage = register.add_outage(
            _engine(),
            areas=[area],
            services=["internet"],
            message_nl=f"Er is een storing in postcodegebied {area}. We onderzoeken de oorzaak; "
            "u hoeft uw modem niet opnieuw op te starten.",
            message_en=f"There is an outage in postcode area {area}. We are investigating the cause; "
            "there is no need to restart your modem.",
            notes=gettext("Registered from a possible-outage alert."),
            actor_id=g.user.id,
        )
    except InvalidInput as exc:
        flash(exc.message, "error")
        return redirect(url_for("outages.index"), 303)
    flash(
        gettext("Outage %(id)s is registered from the alert: check the services and the message.", id=outage.id), "info"
    )
    return redirect(url_for("outages.show", outage_id=outage.id), 303)


def _outage_or_404(outage_id: int) -> register.Outage:
    try:
        return register.get_outage(_engine(), outage_id)
    except (NotFound, InvalidInput):
        abort(404)


@bp.get("/<int:outage_id>")
@roles(*NOC_ROLES)
def show(outage_id: int):
    outage = _outage_or_404(outage_id)
    return _edit_page(_form_values(outage), outage)


@bp.post("/<int:outage_id>")
@roles(*NOC_ROLES)
def update(outage_id: int):
    outage = _outage_or_404(outage_id)
    values = _submitted()
    try:
        register.update_outage(
            _engine(),
            outage.id,
            g.user.id,
            areas=values["areas"],
            services=values["services"],
            connections=values["connections"],
            status=values["status"],
            starts_at=_from_input("starts_at", values["starts_at"]) or outage.starts_at,
            expected_end=_from_input("expected_end", values["expected_end"]),
            message_nl=values["message_nl"],
            message_en=values["message_en"],
            notes=values["notes"],
        )
    except InvalidInput as exc:
        return _edit_page(values, outage, error=exc.message, field=exc.field, status=400)
    flash(gettext("Outage %(id)s is saved.", id=outage.id), "info")
    return redirect(url_for("outages.show", outage_id=outage.id), 303)


@bp.post("/<int:outage_id>/end")
@roles(*NOC_ROLES)
def end(outage_id: int):
    outage = _outage_or_404(outage_id)
    status = "closed" if request.form.get("status") == "closed" else "fixed"
    register.end_outage(_engine(), outage.id, g.user.id, status)
    waiting = callback_list.waiting(_engine(), outage.id)
    flash(
        gettext(
            "Outage %(id)s is %(status)s; %(n)s customers wait for a callback.",
            id=outage.id,
            status=str(OUTAGE_STATUS_LABELS[status]).lower(),
            n=waiting,
        ),
        "info",
    )
    return redirect(url_for("outages.show", outage_id=outage.id), 303)


@bp.get("/callbacks")
@roles(*CASE_ROLES, *NOC_ROLES)
def callbacks():
    """The customers to call back now that their outage is fixed; agents record the result."""
    due = callback_list.due(_engine())
    return render_template(
        "outages/callbacks.html",
        due=due,
        channels=CHANNEL_LABELS,
        may_record=g.user.role in (*CASE_ROLES, "admin"),
    )
