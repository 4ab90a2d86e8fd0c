"""The case log in the browser: open a case, let it record itself while the agent works, close it.

One case can be the agent's *current* case (its id in the signed session cookie). While it is,
every search and every article opened is logged on it, and the article page's steps become a
checklist whose ticks are logged with their time. The case page shows the timeline and ends the
case as resolved (by named articles), escalated (with a hand-off for the next team) or
unresolved / callback. Closed cases are read-only except for a reopen, which is audited.

Customer data (the reference, the problem, notes) only ever travels in POST bodies and pages,
never in a URL or a log line; case ids are not customer data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy.exc import SQLAlchemyError

from kb.caselog import cases as caselog
from kb.errors import CaseClosed, InvalidInput, KBError, NotFound
from kb.store.tables import MAX_LENGTH
from webapp import handoffs, library, outage_notices, workspace
from webapp.labels import (
    CALLBACK_LABELS,
    CHANNEL_LABELS,
    CONNECTION_TYPE_LABELS,
    EVENT_LABELS,
    STATUS_LABELS,
    TEAM_LABELS,
)
from webapp.security import CASE_ROLES, roles
from webapp.workspace import form_error, format_duration, handle_seconds, own_case

bp = Blueprint("cases", __name__, url_prefix="/cases")
log = logging.getLogger(__name__)

RECENT = 20
NOT_SAVED = lazy_gettext(
    "Could not save: the database cannot be written right now. Your text is kept below; try again in a moment."
)


def _engine():
    return current_app.extensions["kb"].engine


def team_labels() -> dict[str, str]:
    return {team: str(TEAM_LABELS.get(team, team)) for team in caselog.escalation_teams()}


@dataclass(frozen=True)
class OpenedArticle:
    id: str
    lang: str
    title: str
    url: str
    ticked: tuple[int, ...]


def _opened_articles(case: caselog.Case, events: list[caselog.Event]) -> list[OpenedArticle]:
    ticked = caselog.ticked_steps(_engine(), case.id)
    seen: dict[tuple[str, str], None] = {}
    for event in events:
        if event.kind in ("article_opened", "step_ticked") and event.article_id:
            seen.setdefault((event.article_id, event.lang), None)
    found = []
    for article_id, lang in seen:
        article = _published(article_id, lang)
        found.append(
            OpenedArticle(
                article_id,
                lang,
                article.title if article else article_id,
                url_for("articles.show", article_id=article_id, lang=lang),
                tuple(sorted(ticked.get((article_id, lang), ()))),
            )
        )
    return found


def _published(article_id: str, lang: str):
    try:
        return library.published(article_id, lang)
    except KBError:  # no index published: the case page still shows what the log says
        return None


def _titles() -> dict[str, str]:
    try:
        return {article.id: article.title for article in library.catalogue(g.locale)}
    except KBError:
        return {}


def _case_page(
    case: caselog.Case,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, object] | None = None,
):
    events = caselog.timeline(_engine(), case.id)
    titles = _titles()
    return render_template(
        "cases/show.html",
        case=case,
        events=events,
        opened=_opened_articles(case, events),
        titles=titles,
        teams=team_labels(),
        errors=errors or {},
        values=values or {},
        is_current=workspace.current_case_id() == case.id,
        event_labels=EVENT_LABELS,
        status_labels=STATUS_LABELS,
        callback_labels=CALLBACK_LABELS,
        channels=CHANNEL_LABELS,
        connection_types=CONNECTION_TYPE_LABELS,
        format_duration=format_duration,
        handle_time=handle_seconds(case),
    ), status


def _index_page(status: int = 200, errors: Mapping[str, str] | None = None, values: Mapping[str, object] | None = None):
    engine = _engine()
    mine = caselog.list_cases(engine, agent_id=g.user.id, status="open", limit=100)
    recent = [
        c for c in caselog.list_cases(engine, agent_id=g.user.id, limit=RECENT + len(mine)) if c.status != "open"
    ][:RECENT]
    defaults = {"channel": "phone", "customer_ref": "", "problem": "", "connection_type": "unknown", "postcode": ""}
    return render_template(
        "cases/index.html",
        open_cases=mine,
        recent=recent,
        errors=errors or {},
        values={**defaults, **(values or {})},
        current=workspace.current_case(),
        channels=CHANNEL_LABELS,
        connection_types=CONNECTION_TYPE_LABELS,
        status_labels=STATUS_LABELS,
        teams=team_labels(),
        titles=_titles(),
        format_duration=format_duration,
        handle_seconds=handle_seconds,
    ), status


# -- pages ---------------------------------------------------------------------------------------------


@bp.get("/")
@roles(*CASE_ROLES)
def index():
    """The agent's open cases, their recent closed ones, and the form to open a new one."""
    return _index_page()


@bp.post("/prefill")
@roles(*CASE_ROLES)
def prefill():
    """The open-case form with the problem taken from the search box (a POST: it is customer data)."""
    problem = request.form.get("problem", "")
    return _index_page(values={"problem": problem[: MAX_LENGTH["problem"]]})


@bp.post("/open")
@roles(*CASE_ROLES)
def open_case():
    form = request.form
    fields = ("channel", "customer_ref", "problem", "connection_type", "request_id", "postcode")
    values = {name: form.get(name, "") for name in fields}
    try:
        case = caselog.open_case(
            _engine(),
            g.user.id,
            values["channel"],
            values["customer_ref"],
            values["problem"],
            values["connection_type"] or "unknown",
            request_id=values["request_id"] or None,
            postcode=values["postcode"] or None,
        )
    except InvalidInput as exc:
        field = "open" if exc.field == "request_id" else exc.field  # no field of its own on the form
        return _index_page(400, {field: form_error(exc)}, values)
    except SQLAlchemyError as exc:
        log.error("could not open a case: %s", type(exc).__name__)
        return _index_page(503, {"open": str(NOT_SAVED)}, values)
    workspace.make_current(case.id)
    flash(gettext("Case %(id)s is open. Your searches and the articles you open are added to it.", id=case.id), "info")
    return redirect(url_for("search.home"))


@bp.get("/<int:case_id>")
@roles(*CASE_ROLES)
def show(case_id: int):
    return _case_page(own_case(case_id))


@bp.post("/<int:case_id>/current")
@roles(*CASE_ROLES)
def make_current(case_id: int):
    """Work on this open case now (an agent on chat may have several open)."""
    case = own_case(case_id)
    if case.status != "open" or case.agent_id != g.user.id:
        flash(gettext("Only your own open cases can be your current case."), "error")
        return redirect(url_for("cases.show", case_id=case_id)), 303
    workspace.make_current(case.id)
    flash(gettext("Case %(id)s is now your current case.", id=case.id), "info")
    return redirect(url_for("search.home"))


@bp.post("/<int:case_id>/leave")
@roles(*CASE_ROLES)
def leave(case_id: int):
    """Stop adding searches to this case without closing it (e.g. to answer another contact)."""
    own_case(case_id)
    workspace.leave_if_current(case_id)
    flash(gettext("Case %(id)s stays open; searches are no longer added to it.", id=case_id), "info")
    return redirect(url_for("cases.index"))


def _change(case_id: int, form: str, action, *args, success: str | None = None, field_values=None):
    """Run a change on an open case; on bad input show the case page again with the message (next to
    the form named `form`) and the text the agent typed, so nothing is lost."""
    case = own_case(case_id)
    try:
        result = action(_engine(), case.id, g.user.id, *args)
    except InvalidInput as exc:
        return None, _case_page(case, 400, {form: form_error(exc)}, field_values)
    except CaseClosed:
        return None, _case_page(
            case,
            409,
            {"closed": gettext("This case is already closed; reopen it first if something must be added.")},
            field_values,
        )
    except SQLAlchemyError as exc:  # disk full, read-only database: keep what the agent typed
        log.error("could not save %s on case %d: %s", form, case.id, type(exc).__name__)
        return None, _case_page(case, 503, {form: str(NOT_SAVED)}, field_values)
    if success:
        flash(success, "info")
    return result, None


@bp.post("/<int:case_id>/notes")
@roles(*CASE_ROLES)
def add_note(case_id: int):
    text, request_id = request.form.get("text", ""), request.form.get("request_id") or None
    _, failed = _change(
        case_id,
        "note",
        partial(caselog.add_note, request_id=request_id),
        text,
        success=gettext("Note added."),
        field_values={"text": text, "request_id": request_id},
    )
    return failed or redirect(_back_to(url_for("cases.show", case_id=case_id) + "#timeline"))


def _back_to(default: str) -> str:
    """Where a form sent from the workspace returns: its `next` field if it is a path on this site
    (an article or the search page), else `default`. Never another host: no open redirect."""
    target = request.form.get("next", "")
    if isinstance(target, str) and target.startswith("/") and not target.startswith(("//", "/\\")):
        if all(c.isprintable() and not c.isspace() for c in target) and len(target) <= 300:
            return target
    return default


@bp.post("/<int:case_id>/connection")
@roles(*CASE_ROLES)
def connection(case_id: int):
    """Set or correct the connection type from the case panel; the search then filters on it."""
    value = request.form.get("connection_type", "")
    _, failed = _change(
        case_id,
        "connection",
        caselog.set_connection_type,
        value,
        success=gettext("Connection type saved: searches now prefer articles for it."),
    )
    return failed or redirect(_back_to(url_for("cases.show", case_id=case_id)))


@bp.post("/<int:case_id>/postcode")
@roles(*CASE_ROLES)
def postcode(case_id: int):
    """Set or correct the caller's postcode from the case panel: outages there are shown first."""
    value = request.form.get("postcode", "")
    _, failed = _change(
        case_id,
        "postcode",
        caselog.set_postcode,
        value,
        success=gettext("Postcode saved: known outages there are shown above the results."),
        field_values={"postcode": value},
    )
    return failed or redirect(_back_to(url_for("cases.show", case_id=case_id)))


@bp.post("/<int:case_id>/steps")
@roles(*CASE_ROLES)
def steps(case_id: int):
    """The checklist form without JavaScript: the ticked boxes are the steps done now."""
    case = own_case(case_id)
    form = request.form
    article_id, lang = form.get("article_id"), form.get("lang")
    try:
        wanted = {int(v) for v in form.getlist("step")}
    except ValueError:
        wanted = {-1}  # refused below with the same message as an unknown step
    results = {}
    for name, value in form.items():
        if name.startswith("result-"):
            try:
                results[int(name[len("result-") :])] = value
            except ValueError:
                continue  # not a field of ours
    try:
        workspace.set_steps(case, article_id, lang, form.get("revision") or None, wanted=wanted, results=results)
    except InvalidInput as exc:
        flash(form_error(exc), "error")
        return _case_page(case, 400)[0], 400
    except CaseClosed:
        flash(gettext("This case is already closed; reopen it first if something must be added."), "error")
        return redirect(url_for("cases.show", case_id=case_id)), 303
    flash(gettext("The ticked steps are saved on case %(id)s.", id=case_id), "info")
    return redirect(url_for("articles.show", article_id=article_id, lang=lang) + "#checklist")


def _closed_already(case_id: int, status: str, target: str):
    """A second click on the same close button: the case is closed that way already; show the result."""
    case = own_case(case_id)
    if case.status != status:
        return None
    flash(gettext("Case %(id)s was already closed like this.", id=case_id), "info")
    return redirect(target, 303)


@bp.post("/<int:case_id>/resolve")
@roles(*CASE_ROLES)
def resolve(case_id: int):
    repeated = _closed_already(case_id, "resolved", url_for("cases.show", case_id=case_id))
    if repeated:
        return repeated
    form = request.form
    ids = [v for v in form.getlist("article_ids") if v]
    note = form.get("note", "")
    current = {}
    for article_id in ids:
        versions = library.versions(article_id) if isinstance(article_id, str) else {}
        if not versions:
            return _case_page(
                own_case(case_id),
                400,
                {"resolve": form_error(InvalidInput("article_id", ""))},
                {"article_ids": ids, "note": note},
            )
        current[article_id] = library.pick(versions, g.locale)
    case, failed = _change(
        case_id,
        "resolve",
        caselog.resolve_case,
        ids,
        note,
        current,
        success=gettext("Case %(id)s is resolved.", id=case_id),
        field_values={"article_ids": ids, "note": note},
    )
    if failed:
        return failed
    return _next_call(case_id, "resolved")


@bp.post("/<int:case_id>/escalate")
@roles(*CASE_ROLES)
def escalate(case_id: int):
    repeated = _closed_already(case_id, "escalated", url_for("cases.handoff", case_id=case_id))
    if repeated:
        return repeated
    form = request.form
    team, reason = form.get("team", ""), form.get("reason", "")
    outbox = _handoff_outbox()
    case, failed = _change(
        case_id,
        "escalate",
        partial(caselog.escalate_case, outbox=outbox, outages=outage_notices.for_escalation(own_case(case_id))),
        team,
        reason,
        success=gettext(
            "Case %(id)s is escalated. Copy the hand-off below into the receiving team's system.", id=case_id
        ),
        field_values={"team": team, "escalate_reason": reason},
    )
    if failed:
        return failed
    if outbox is not None:
        current_app.extensions["kb_notifier"].wake()
    if request.form.get("from") == "workspace":  # the hand-off is one click away on the fresh search page
        return _next_call(case_id, "escalated")
    workspace.leave_if_current(case_id)
    return redirect(url_for("cases.handoff", case_id=case_id))


@bp.post("/<int:case_id>/unresolved")
@roles(*CASE_ROLES)
def unresolved(case_id: int):
    repeated = _closed_already(case_id, "unresolved", url_for("cases.show", case_id=case_id))
    if repeated:
        return repeated
    reason = request.form.get("reason", "")
    _, failed = _change(
        case_id,
        "unresolved",
        caselog.close_unresolved,
        reason,
        success=gettext("Case %(id)s is closed as unresolved / callback.", id=case_id),
        field_values={"unresolved_reason": reason},
    )
    if failed:
        return failed
    return _next_call(case_id, "unresolved")


def check_case_id(case_id: int) -> int:
    if not 1 <= case_id <= workspace.MAX_CASE_ID:
        raise NotFound(gettext("There is no such case."))
    return case_id


def _next_call(case_id: int, status: str):
    """After closing a case the agent lands on a fresh search, ready for the next call."""
    workspace.closed_for_next_call(case_id, status)
    return redirect(url_for("search.home"))


@bp.get("/screen-pop")
@roles(*CASE_ROLES)
def screen_pop():
    """Polled by static/screenpop.js: a case the telephony opened for this agent becomes their
    current case now, and the page offers to show it (it never reloads on its own: the agent may
    be typing). {"case_id": null} when there is none."""
    popped = workspace.screen_popped()
    if popped is None:
        return {"case_id": None}
    case = workspace.current_case()
    return {
        "case_id": popped,
        "message": gettext(
            "A call came in: case %(id)s was opened for you (%(channel)s).",
            id=popped,
            channel=str(CHANNEL_LABELS.get(case.channel, case.channel)) if case else "",
        ),
        "url": url_for("search.home"),
        "label": gettext("Show case %(id)s", id=popped),
    }


@bp.post("/<int:case_id>/known-outage")
@roles(*CASE_ROLES)
def known_outage(case_id: int):
    """Link the call to a known outage and close it (with a callback when it is fixed, if asked)."""
    repeated = _closed_already(case_id, "known_outage", url_for("cases.show", case_id=case_id))
    if repeated:
        return repeated
    try:
        outage_id = int(request.form.get("outage_id", ""))
    except ValueError:
        outage_id = 0
    callback = request.form.get("callback") in ("1", "on", "true")
    _, failed = _change(
        case_id,
        "closed",
        caselog.close_known_outage,
        outage_id if outage_id > 0 else -1,
        callback,
        success=gettext("Case %(id)s is closed as part of outage %(outage)s.", id=case_id, outage=outage_id)
        + (" " + gettext("The customer will be called back when it is fixed.") if callback else ""),
    )
    if failed:
        return failed
    return _next_call(case_id, "known_outage")


@bp.post("/<int:case_id>/callback")
@roles(*CASE_ROLES)
def callback(case_id: int):
    """The callback after a fixed outage: restored (done), or still broken (the case reopens, for
    the agent who called back)."""
    from kb.caselog.assign import reassign_case

    result = request.form.get("result", "")
    try:
        waiting = caselog.get_case(_engine(), check_case_id(case_id))
    except NotFound:
        abort(404)
    if not (waiting.status == "known_outage" and waiting.callback and waiting.callback_result is None):
        own_case(case_id)  # only a callback on the shared list is anyone's; otherwise another agent's case is not found
    try:
        case = caselog.record_callback(_engine(), case_id, g.user.id, result)
    except (InvalidInput, NotFound) as exc:
        flash(form_error(exc) if isinstance(exc, InvalidInput) else str(exc), "error")
        return redirect(url_for("outages.callbacks"), 303)
    if case.status == "open" and case.agent_id != g.user.id and g.user.role == "agent":
        case = reassign_case(
            _engine(), case.id, g.user.id, g.user.id, gettext("Called back after the outage: still broken.")
        )
    if case.status == "open":
        workspace.make_current(case.id)
        flash(gettext("Case %(id)s is open again: the service is still broken.", id=case.id), "info")
        return redirect(url_for("search.home"), 303)
    flash(gettext("Case %(id)s: called back, the service is restored.", id=case.id), "info")
    return redirect(url_for("outages.callbacks"), 303)


@bp.post("/<int:case_id>/reopen")
@roles(*CASE_ROLES)
def reopen(case_id: int):
    case = own_case(case_id)
    reason = request.form.get("reason", "")
    if case.status == "open":
        return _case_page(case, 409, {"reopen": gettext("This case is already open.")})
    try:
        caselog.reopen_case(_engine(), case.id, g.user.id, reason)
    except InvalidInput as exc:
        return _case_page(case, 400, {"reopen": form_error(exc)}, {"reopen_reason": reason})
    flash(gettext("Case %(id)s is open again; the reopening is recorded.", id=case_id), "info")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.get("/<int:case_id>/handoff")
@roles(*CASE_ROLES)
def handoff(case_id: int):
    """The hand-off as plain text, ready to paste into another ticket system."""
    case = own_case(case_id)
    return render_template(
        "cases/handoff.html",
        case=case,
        text=handoffs.handoff_text(case),
        handoff_language=handoffs.handoff_language(),
        status_labels=STATUS_LABELS,
    )


def _handoff_outbox():
    """The receiving team's webhook as an outbox for escalate_case (None without KB_WEBHOOK_URL).

    The notification row is written in the escalating transaction. A URL the webhook refuses
    (plain http to another machine) does not stop the escalation: the agent is told to send the
    hand-off by hand, and the log says why.
    """
    url = current_app.config.get("KB_WEBHOOK_URL")
    if not url:
        return None
    try:
        return handoffs.outbox(url)
    except KBError as exc:
        log.error("hand-offs are not sent to the webhook: %s", exc)
        flash(gettext("The receiving team could not be notified automatically; send them the hand-off."), "error")
        return None
