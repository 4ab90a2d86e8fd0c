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

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext, lazy_gettext
from sqlalchemy.exc import SQLAlchemyError

from kb.caselog import cases as caselog
from kb.content.articles import LANGUAGES, Article
from kb.errors import CaseClosed, InvalidInput, KBError, NotFound
from kb.caselog.handoff import Handoff, build_handoff
from kb.store.tables import MAX_LENGTH, check_text
from webapp.security import roles

bp = Blueprint("cases", __name__, url_prefix="/cases")
log = logging.getLogger(__name__)

CASE_ROLES = ("agent",)  # admin is always allowed too
RECENT = 20
MAX_CASE_ID = 2**31 - 1
CHANNEL_LABELS = {"phone": lazy_gettext("Phone"), "chat": lazy_gettext("Chat"), "email": lazy_gettext("E-mail")}
CONNECTION_TYPE_LABELS = {"fibre": lazy_gettext("Fibre"), "dsl": lazy_gettext("DSL"),
                          "cable": lazy_gettext("Cable"), "unknown": lazy_gettext("Not known yet")}
STATUS_LABELS = {"open": lazy_gettext("Open"), "resolved": lazy_gettext("Resolved"),
                 "escalated": lazy_gettext("Escalated"), "unresolved": lazy_gettext("Unresolved / callback")}
EVENT_LABELS = {
    "opened": lazy_gettext("Case opened"), "search": lazy_gettext("Searched"),
    "article_opened": lazy_gettext("Opened article"), "step_ticked": lazy_gettext("Step done"),
    "step_unticked": lazy_gettext("Step unticked"), "note": lazy_gettext("Note"),
    "resolved": lazy_gettext("Resolved"), "escalated": lazy_gettext("Escalated"),
    "unresolved": lazy_gettext("Closed as unresolved / callback"), "reopened": lazy_gettext("Reopened"),
}
# What the agent is told when a field is refused; kb.store.tables has the same limits in English.
FIELD_MESSAGES = {
    "channel": lazy_gettext("Choose how the customer contacted you: phone, chat or e-mail."),
    "customer_ref": lazy_gettext("Fill in the customer reference (at most %(max)s characters).",
                                 max=MAX_LENGTH["customer_ref"]),
    "problem": lazy_gettext("Describe the customer's problem (at most %(max)s characters).",
                            max=MAX_LENGTH["problem"]),
    "connection_type": lazy_gettext("Choose the connection type, or 'Not known yet'."),
    "text": lazy_gettext("Write the note (at most %(max)s characters).", max=MAX_LENGTH["note"]),
    "note": lazy_gettext("Shorten the note to at most %(max)s characters.", max=MAX_LENGTH["note"]),
    "reason": lazy_gettext("Give the reason (at most %(max)s characters).", max=MAX_LENGTH["reason"]),
    "team": lazy_gettext("Choose the team to escalate to."),
    "article_ids": lazy_gettext("Choose at least one article that solved the problem, or close the case "
                                "as escalated or unresolved instead."),
    "article_id": lazy_gettext("That article does not exist (any more); choose one from the list."),
    "step_number": lazy_gettext("That step is not in the article; reload the article and try again."),
    "result": lazy_gettext("The step result must be text of at most %(max)s characters.", max=MAX_LENGTH["note"]),
}


def form_error(exc: InvalidInput) -> str:
    return str(FIELD_MESSAGES.get(exc.field, exc.message))


def team_labels() -> dict[str, str]:
    from webapp.articles import TEAM_LABELS

    return {team: str(TEAM_LABELS.get(team, team)) for team in caselog.escalation_teams()}


def format_duration(seconds: int | float | None) -> str:
    """Handle time as h:mm:ss or m:ss; the same in every language."""
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def handle_seconds(case: caselog.Case) -> int:
    """Closed: the recorded handle time; open: the time since it was opened."""
    if case.handle_seconds is not None:
        return case.handle_seconds
    from kb.store.engine import utcnow

    return max(0, round((utcnow() - case.opened_at).total_seconds()))


def _engine():
    return current_app.extensions["kb"].engine


def may_use_cases(user) -> bool:
    return user is not None and user.role in (*CASE_ROLES, "admin")


# -- the current case -------------------------------------------------------------------------------

def current_case() -> caselog.Case | None:
    """The signed-in agent's current case if it is still open and theirs; else None (and forgotten)."""
    if "current_case" in g:
        return g.current_case
    case, unreachable = None, False
    case_id = session.get("case_id")
    if isinstance(case_id, int) and may_use_cases(g.get("user")):
        try:
            case = caselog.get_case(_engine(), case_id)
        except KBError:
            case = None
        except SQLAlchemyError:  # the database is away for a moment: the page still renders
            case, unreachable = None, True
        if case is not None and (case.status != "open" or case.agent_id != g.user.id):
            case = None
    if case is None and not unreachable and "case_id" in session:
        session.pop("case_id")  # closed, gone or not this user's: no longer current
    g.current_case = case
    return case


def _make_current(case_id: int | None) -> None:
    if case_id is None:
        session.pop("case_id", None)
    else:
        session["case_id"] = case_id
    g.pop("current_case", None)


def _record(action, *args) -> None:
    """Log something on the current case; if that case was closed meanwhile (another tab), forget it."""
    case = current_case()
    if case is None:
        return
    try:
        action(_engine(), case.id, g.user.id, *args)
    except (CaseClosed, NotFound):
        _make_current(None)
    except SQLAlchemyError as exc:  # the search or article still reaches the agent during the call
        log.error("could not log %s on case %d: %s", action.__name__, case.id, type(exc).__name__)


def record_search(query: str, hits) -> None:
    """Called by the search page and the search API after a successful search."""
    _record(caselog.record_search, query, [hit.article_id for hit in hits[:5]])


def article_opened(article: Article) -> dict:
    """Log the article on the current case; the article template's case variables (empty without a case)."""
    _record(caselog.record_article_opened, article.id, article.lang)
    case = current_case()
    if case is None:
        return {}
    results = caselog.step_results(_engine(), case.id).get((article.id, article.lang), {})
    return {"case": case, "ticked_steps": sorted(results), "step_results": results,
            "step_form_action": url_for("cases.steps", case_id=case.id),
            "step_api": url_for("api.case_steps", case_id=case.id),
            "resolve_action": url_for("cases.resolve", case_id=case.id)}


@bp.app_context_processor
def _case_bar() -> dict:
    user = g.get("user")
    if not may_use_cases(user) or request.endpoint == "static":
        return {"current_case": None}
    return {"current_case": current_case(), "channel_labels": CHANNEL_LABELS,
            "format_duration": format_duration, "handle_seconds": handle_seconds, "server_now_ms": _now_ms}


def _now_ms() -> int:
    from kb.store.engine import utcnow

    return int(utcnow().timestamp() * 1000)


# -- reading cases -----------------------------------------------------------------------------------

def own_case(case_id: int) -> caselog.Case:
    """The case if the signed-in user may see it (its agent, or an admin); 404 otherwise."""
    if not 1 <= case_id <= MAX_CASE_ID:  # 0, or beyond the id column (PostgreSQL integer, SQLite int64)
        abort(404)
    try:
        case = caselog.get_case(_engine(), case_id)
    except NotFound:
        abort(404)
    if case.agent_id != g.user.id and g.user.role != "admin":
        abort(404)  # not 403: whether someone else's case exists is not this user's business
    return case


@dataclass(frozen=True)
class OpenedArticle:
    id: str
    lang: str
    title: str
    url: str
    ticked: tuple[int, ...]


def _opened_articles(case: caselog.Case, events: list[caselog.Event]) -> list[OpenedArticle]:
    from webapp.articles import published

    ticked = caselog.ticked_steps(_engine(), case.id)
    seen: dict[tuple[str, str], None] = {}
    for event in events:
        if event.kind in ("article_opened", "step_ticked") and event.article_id:
            seen.setdefault((event.article_id, event.lang), None)
    found = []
    for article_id, lang in seen:
        article = published(article_id, lang)
        found.append(OpenedArticle(article_id, lang, article.title if article else article_id,
                                   url_for("articles.show", article_id=article_id, lang=lang),
                                   tuple(sorted(ticked.get((article_id, lang), ())))))
    return found


def _titles() -> dict[str, str]:
    from webapp.articles import catalogue

    return {article.id: article.title for article in catalogue(g.locale)}


def handoff_for(case: caselog.Case) -> Handoff:
    from webapp.articles import step_text

    return build_handoff(_engine(), case.id, step_text)


def _case_page(case: caselog.Case, status: int = 200, errors: Mapping[str, str] | None = None,
               values: Mapping[str, object] | None = None):
    events = caselog.timeline(_engine(), case.id)
    titles = _titles()
    return render_template(
        "cases/show.html", case=case, events=events, opened=_opened_articles(case, events),
        titles=titles, teams=team_labels(), errors=errors or {}, values=values or {},
        is_current=current_case() is not None and current_case().id == case.id,
        event_labels=EVENT_LABELS, status_labels=STATUS_LABELS, channels=CHANNEL_LABELS,
        connection_types=CONNECTION_TYPE_LABELS, format_duration=format_duration,
        handle_time=handle_seconds(case)), status


def _index_page(status: int = 200, errors: Mapping[str, str] | None = None,
                values: Mapping[str, object] | None = None):
    engine = _engine()
    mine = caselog.list_cases(engine, agent_id=g.user.id, status="open", limit=100)
    recent = [c for c in caselog.list_cases(engine, agent_id=g.user.id, limit=RECENT + len(mine))
              if c.status != "open"][:RECENT]
    defaults = {"channel": "phone", "customer_ref": "", "problem": "", "connection_type": "unknown"}
    return render_template(
        "cases/index.html", open_cases=mine, recent=recent, errors=errors or {},
        values={**defaults, **(values or {})}, current=current_case(), channels=CHANNEL_LABELS,
        connection_types=CONNECTION_TYPE_LABELS, status_labels=STATUS_LABELS, teams=team_labels(),
        titles=_titles(), format_duration=format_duration, handle_seconds=handle_seconds), status


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
    return _index_page(values={"problem": problem[:MAX_LENGTH["problem"]]})


@bp.post("/open")
@roles(*CASE_ROLES)
def open_case():
    form = request.form
    values = {name: form.get(name, "") for name in ("channel", "customer_ref", "problem", "connection_type")}
    try:
        case = caselog.open_case(_engine(), g.user.id, values["channel"], values["customer_ref"],
                                 values["problem"], values["connection_type"] or "unknown")
    except InvalidInput as exc:
        return _index_page(400, {exc.field: form_error(exc)}, values)
    _make_current(case.id)
    flash(gettext("Case %(id)s is open. Your searches and the articles you open are added to it.", id=case.id),
          "info")
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
    _make_current(case.id)
    flash(gettext("Case %(id)s is now your current case.", id=case.id), "info")
    return redirect(url_for("search.home"))


@bp.post("/<int:case_id>/leave")
@roles(*CASE_ROLES)
def leave(case_id: int):
    """Stop adding searches to this case without closing it (e.g. to answer another contact)."""
    own_case(case_id)
    if session.get("case_id") == case_id:
        _make_current(None)
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
        return None, _case_page(case, 409, {"closed": gettext(
            "This case is already closed; reopen it first if something must be added.")}, field_values)
    if success:
        flash(success, "info")
    return result, None


@bp.post("/<int:case_id>/notes")
@roles(*CASE_ROLES)
def add_note(case_id: int):
    text = request.form.get("text", "")
    _, failed = _change(case_id, "note", caselog.add_note, text, success=gettext("Note added."),
                        field_values={"text": text})
    return failed or redirect(url_for("cases.show", case_id=case_id) + "#timeline")


def set_steps(case: caselog.Case, article_id: object, lang: object, wanted: set[int] | None = None,
              step: object = None, done: object = None, results: Mapping[int, object] | None = None,
              result: object = None) -> dict[int, str | None]:
    """Tick or untick steps of one article on the case; returns {step: result} of the ticked steps after it.

    Either `wanted` (the full set that should be ticked, from the no-JS form) with `results` per
    step, or one `step` with `done` and an optional `result` (from the checklist script). Everything
    is checked before anything is written: bad input raises InvalidInput and changes nothing.
    """
    from webapp.articles import published

    if not isinstance(article_id, str) or lang not in LANGUAGES:
        raise InvalidInput("article_id", "unknown article")
    article = published(article_id, lang)
    if article is None:
        raise InvalidInput("article_id", "unknown article")
    numbers = {s.number for s in article.steps}
    engine = _engine()
    now = caselog.step_results(engine, case.id).get((article_id, lang), {})
    if wanted is None:
        if isinstance(step, bool) or not isinstance(step, int) or not isinstance(done, bool):
            raise InvalidInput("step_number", "step must be a number and done true or false")
        wanted = (set(now) | {step}) if done else (set(now) - {step})
        results = {step: result} if done and result is not None else {}
    checked = {n: check_text("result", text, label="step result", required=False, limit="note")
               for n, text in (results or {}).items()}
    # Writing what a step showed means it was done: a result typed for an unticked step ticks it
    # (an old result left in the field of a step the agent just unticked does not).
    wanted = wanted | {n for n, text in checked.items() if text and n not in now}
    if not (wanted - set(now)) <= numbers:  # unticking a step the article has since lost is allowed
        raise InvalidInput("step_number", "no such step")
    for number in sorted(wanted):
        text = checked.get(number)  # None: not sent, keep; "": cleared
        if number not in now:
            caselog.tick_step(engine, case.id, g.user.id, article_id, lang, number, text or None)
        elif text is not None and (text or None) != now[number]:
            caselog.tick_step(engine, case.id, g.user.id, article_id, lang, number, text)
    for number in sorted(set(now) - wanted):
        caselog.untick_step(engine, case.id, g.user.id, article_id, lang, number)
    return caselog.step_results(engine, case.id).get((article_id, lang), {})


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
                results[int(name[len("result-"):])] = value
            except ValueError:
                continue  # not a field of ours
    try:
        set_steps(case, article_id, lang, wanted, results=results)
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


def _leave_if_current(case_id: int) -> None:
    if session.get("case_id") == case_id:
        _make_current(None)


@bp.post("/<int:case_id>/resolve")
@roles(*CASE_ROLES)
def resolve(case_id: int):
    from webapp.articles import published

    repeated = _closed_already(case_id, "resolved", url_for("cases.show", case_id=case_id))
    if repeated:
        return repeated
    form = request.form
    ids = [v for v in form.getlist("article_ids") if v]
    note = form.get("note", "")
    unknown = [a for a in ids if not any(published(a, lang) for lang in LANGUAGES)]
    if unknown:
        case = own_case(case_id)
        return _case_page(case, 400, {"resolve": str(FIELD_MESSAGES["article_id"])},
                          {"article_ids": ids, "note": note})
    case, failed = _change(case_id, "resolve", caselog.resolve_case, ids, note,
                           success=gettext("Case %(id)s is resolved.", id=case_id),
                           field_values={"article_ids": ids, "note": note})
    if failed:
        return failed
    _leave_if_current(case_id)
    return redirect(url_for("cases.show", case_id=case_id))


@bp.post("/<int:case_id>/escalate")
@roles(*CASE_ROLES)
def escalate(case_id: int):
    repeated = _closed_already(case_id, "escalated", url_for("cases.handoff", case_id=case_id))
    if repeated:
        return repeated
    form = request.form
    team, reason = form.get("team", ""), form.get("reason", "")
    case, failed = _change(case_id, "escalate", caselog.escalate_case, team, reason,
                           success=gettext("Case %(id)s is escalated. Copy the hand-off below into the "
                                           "receiving team's system.", id=case_id),
                           field_values={"team": team, "escalate_reason": reason})
    if failed:
        return failed
    _leave_if_current(case_id)
    notify_handoff(case)
    return redirect(url_for("cases.handoff", case_id=case_id))


@bp.post("/<int:case_id>/unresolved")
@roles(*CASE_ROLES)
def unresolved(case_id: int):
    repeated = _closed_already(case_id, "unresolved", url_for("cases.show", case_id=case_id))
    if repeated:
        return repeated
    reason = request.form.get("reason", "")
    _, failed = _change(case_id, "unresolved", caselog.close_unresolved, reason,
                        success=gettext("Case %(id)s is closed as unresolved / callback.", id=case_id),
                        field_values={"unresolved_reason": reason})
    if failed:
        return failed
    _leave_if_current(case_id)
    return redirect(url_for("cases.show", case_id=case_id))


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
    return render_template("cases/handoff.html", case=case, text=handoff_for(case).as_text(),
                           status_labels=STATUS_LABELS)


def notify_handoff(case: caselog.Case) -> None:
    """Queue the hand-off for the receiving team's webhook (if one is configured) and wake the sender."""
    url = current_app.config.get("KB_WEBHOOK_URL")
    if not url:
        return
    from kb.integrations.webhook import queue_handoff

    try:
        queue_handoff(_engine(), case.id, url, handoff_for(case).as_dict())
    except (KBError, SQLAlchemyError) as exc:  # the escalation stands: the agent sends the hand-off by hand
        log.error("could not queue the hand-off of case %d for the webhook: %s", case.id,
                  exc if isinstance(exc, KBError) else type(exc).__name__)
        flash(gettext("The receiving team could not be notified automatically; send them the hand-off."),
              "error")
        return
    current_app.extensions["kb_notifier"].wake()
