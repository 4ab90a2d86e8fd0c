"""The agent's workspace: their current case, and what gets recorded on it while they work.

One open case can be the agent's *current* case (its id in the signed session cookie). While it
is, the search page and API log every search on it, the article page logs the article (with the
revision shown) and turns its steps into a checklist. Blueprints share this module instead of
importing each other.
"""

from __future__ import annotations

import logging
import uuid

import numpy as np
from flask import abort, current_app, g, request, session, url_for
from flask_babel import lazy_gettext
from sqlalchemy.exc import SQLAlchemyError

from kb.caselog import cases as caselog
from kb.caselog import checklist
from kb.caselog.revisions import article_at
from kb.content.articles import LANGUAGES, Article
from kb.errors import CaseClosed, InvalidInput, KBError, NotFound
from kb.store.engine import utcnow
from kb.store.tables import MAX_LENGTH
from webapp import library
from webapp.labels import CHANNEL_LABELS, CONNECTION_TYPE_LABELS
from webapp.security import CASE_ROLES

log = logging.getLogger(__name__)

MAX_CASE_ID = 2**31 - 1
# What the agent is told when a field is refused; kb.store.tables has the same limits in English.
FIELD_MESSAGES = {
    "channel": lazy_gettext("Choose how the customer contacted you: phone, chat or e-mail."),
    "customer_ref": lazy_gettext(
        "Fill in the customer reference (at most %(max)s characters).", max=MAX_LENGTH["customer_ref"]
    ),
    "problem": lazy_gettext("Describe the customer's problem (at most %(max)s characters).", max=MAX_LENGTH["problem"]),
    "connection_type": lazy_gettext("Choose the connection type, or 'Not known yet'."),
    "text": lazy_gettext("Write the note (at most %(max)s characters).", max=MAX_LENGTH["note"]),
    "note": lazy_gettext("Shorten the note to at most %(max)s characters.", max=MAX_LENGTH["note"]),
    "reason": lazy_gettext("Give the reason (at most %(max)s characters).", max=MAX_LENGTH["reason"]),
    "team": lazy_gettext("Choose the team to escalate to."),
    "article_ids": lazy_gettext(
        "Choose at least one article that solved the problem, or close the case as escalated or unresolved instead."
    ),
    "article_id": lazy_gettext("That article does not exist (any more); choose one from the list."),
    "step_number": lazy_gettext("That step is not in the article; reload the article and try again."),
    "result": lazy_gettext("The step result must be text of at most %(max)s characters.", max=MAX_LENGTH["note"]),
    "request_id": lazy_gettext(
        "This form is out of date; reload the page and send it again (your text is kept below)."
    ),
    "revision": lazy_gettext("This article has changed since you opened it; reload the page and tick the step again."),
    "postcode": lazy_gettext(
        "A Dutch postcode looks like 1234AB (four digits, two letters); leave it empty if unknown."
    ),
    "outage_id": lazy_gettext("That outage is not in the register (any more); reload the page."),
    "callback": lazy_gettext("Say whether the customer wants to be called back."),
}


def form_error(exc: InvalidInput) -> str:
    """What the agent is told when a field is refused, in their language."""
    return str(FIELD_MESSAGES.get(exc.field, exc.message))


def engine():
    return current_app.extensions["kb"].engine


def may_use_cases(user) -> bool:
    return user is not None and user.role in (*CASE_ROLES, "admin")


def own_case(case_id: int) -> caselog.Case:
    """The case if the signed-in user may see it (its agent, or an admin); 404 otherwise."""
    if not 1 <= case_id <= MAX_CASE_ID:  # 0, or beyond the id column (PostgreSQL integer, SQLite int64)
        abort(404)
    try:
        case = caselog.get_case(engine(), case_id)
    except NotFound:
        abort(404)
    if case.agent_id != g.user.id and g.user.role != "admin":
        abort(404)  # not 403: whether someone else's case exists is not this user's business
    return case


def current_case() -> caselog.Case | None:
    """The signed-in agent's current case if it is still open and theirs; else None (and forgotten)."""
    if "current_case" in g:
        return g.current_case
    case, unreachable = None, False
    _take_screen_pop()
    case_id = session.get("case_id")
    if isinstance(case_id, int) and may_use_cases(g.get("user")):
        try:
            case = caselog.get_case(engine(), case_id)
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


def _take_screen_pop() -> None:
    """A case the telephony opened for this agent (POST /api/v1/cases) becomes their current case on
    their next page or poll (static/casebar.js), once; the page says so. Only in the browser."""
    user = g.get("user")
    if g.get("auth") == "token" or not may_use_cases(user) or request.endpoint == "static":
        return
    try:
        popped = caselog.take_screen_pop(engine(), user.id)
    except SQLAlchemyError:
        return
    if popped is not None:
        session["case_id"] = popped
        g.screen_pop = popped


def screen_popped() -> int | None:
    """The case id that became current on this request by a screen pop, if any."""
    current_case()
    return g.get("screen_pop")


def current_case_id() -> int | None:
    case = current_case()
    return case.id if case else None


def make_current(case_id: int | None) -> None:
    """Make this case the current one (None: no current case)."""
    if case_id is None:
        session.pop("case_id", None)
    else:
        session["case_id"] = case_id
    g.pop("current_case", None)


def leave_if_current(case_id: int) -> None:
    if session.get("case_id") == case_id:
        make_current(None)


NOT_LOGGED = lazy_gettext(
    "This could not be written to case %(id)s (the database cannot be written right now); "
    "add it as a note when saving works again."
)


def _record(action, *args, **kwargs) -> bool | None:
    """Log something on the current case; if that case was closed meanwhile (another tab), forget it.

    True when logged, None without a current case, False when the database refused the write:
    the search or article still reaches the agent, and `not_logged()` says what to tell them.
    """
    case = current_case()
    if case is None:
        return None
    try:
        action(engine(), case.id, g.user.id, *args, **kwargs)
    except (CaseClosed, NotFound):
        make_current(None)
        return None
    except SQLAlchemyError as exc:
        log.error("could not log %s on case %d: %s", action.__name__, case.id, type(exc).__name__)
        g.not_logged = str(NOT_LOGGED % {"id": case.id})
        return False
    return True


def not_logged() -> str | None:
    """The warning for the agent when this request's search or article could not be logged on their case."""
    return g.get("not_logged")


MIN_WEAK_QUERY = 6  # shorter weak searches are words being typed, not gaps


def record_search(query: str, result) -> bool | None:
    """Called by the search page and the search API after a successful search; see `_record`.

    A search whose best match was weak is also kept for the editors' worklist (a content gap,
    source "weak", with its embedding for clustering), whether or not a case is open.
    """
    keep_weak_search(query, result)
    return _record(caselog.record_search, query, [hit.article_id for hit in result.hits[:5]], bool(result.weak))


def keep_weak_search(query: str, result) -> None:
    """A search whose best match was weak is kept for the editors' worklist (page and API alike)."""
    if result.weak and result.query_vector is not None and len(query.strip()) >= MIN_WEAK_QUERY:
        _keep_weak(query, result)


def query_vector(query: str) -> bytes | None:
    """The query's unit embedding for a flagged gap (clustered on the editors' worklist); None if unavailable."""
    try:
        vector = np.asarray(current_app.extensions["kb"].embedder.embed_queries([query])[0], dtype=np.float32)
    except (KBError, OSError, ValueError):
        return None
    return (vector / (float(np.linalg.norm(vector)) or 1.0)).tobytes()


def _keep_weak(query: str, result) -> None:
    from webapp.queries import gap_store

    store = gap_store()
    if not hasattr(store, "add_weak") or g.get("user") is None:
        return
    vector = np.asarray(result.query_vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    try:
        store.add_weak(query, result.lang, g.user.id, current_case_id(), (vector / (norm or 1.0)).tobytes())
    except (SQLAlchemyError, KBError) as exc:  # the agent still gets the results
        log.error("could not keep a weak search for the editors: %s", type(exc).__name__)


def article_opened(article: Article, record: bool = True) -> dict:
    """Log the article (and the revision shown) on the current case; the page's case variables.

    A page another site made the browser load (Sec-Fetch-Site cross-site or same-site) is shown
    but not logged: a link elsewhere must not be able to write to the agent's case.
    """
    if record and request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none"):
        _record(caselog.record_article_opened, article.id, article.lang, version=article)
    case = current_case()
    if case is None:
        return {}
    results = caselog.step_results(engine(), case.id).get((article.id, article.lang), {})
    return {
        "case": case,
        "ticked_steps": sorted(results),
        "step_results": results,
        "step_form_action": url_for("cases.steps", case_id=case.id),
        "step_api": url_for("api.case_steps", case_id=case.id),
        "resolve_action": url_for("cases.resolve", case_id=case.id),
        "case_warning": not_logged(),
    }


def case_query(case: caselog.Case | None) -> str:
    """What the search box shows while a case is open: its newest search, else its problem (no retyping)."""
    if case is None:
        return ""
    try:
        query = caselog.last_search(engine(), case.id)
    except SQLAlchemyError:
        query = None
    return query or case.problem or ""


def case_connection() -> str | None:
    """The current case's connection type when known: searches filter on it (articles for any
    connection stay in), so a fibre customer does not get the DSL article first."""
    case = current_case()
    return case.connection_type if case is not None and case.connection_type != "unknown" else None


PANEL_NOTES = 3


def case_panel(article: Article | None = None) -> dict:
    """The case panel next to the search and the article: the case, its newest notes, the articles
    opened on it, and the close forms (the team prefilled from the article on screen, else from
    the newest article opened). Empty without a current case."""
    case = current_case()
    if case is None:
        return {}
    try:
        events = caselog.timeline(engine(), case.id)
    except SQLAlchemyError:
        events = []
    opened: dict[tuple[str, str], None] = {}
    for event in events:
        if event.kind in ("article_opened", "step_ticked") and event.article_id:
            opened.pop((event.article_id, event.lang), None)
            opened[(event.article_id, event.lang)] = None  # newest last
    tried = []
    for article_id, lang in opened:
        version = library.published(article_id, lang)
        if version is not None:
            tried.append(version)
    team = article.escalate_to if article is not None else (tried[-1].escalate_to if tried else None)
    teams = caselog.escalation_teams()
    return {
        "panel_case": case,
        "panel_notes": [e for e in events if e.kind == "note"][-PANEL_NOTES:],
        "panel_note_count": sum(1 for e in events if e.kind == "note"),
        "panel_tried": tried,
        "panel_team": team if team in teams else teams[0],
        "panel_article": article,
        "connection_types": CONNECTION_TYPE_LABELS,
    }


def version_for(article_id: object, lang: object, revision: object = None) -> Article:
    """The article version a checklist refers to: the one published now, or the older revision the
    page was showing (kept in the database when the article was opened). InvalidInput otherwise."""
    if not isinstance(article_id, str) or lang not in LANGUAGES:
        raise InvalidInput("article_id", "unknown article")
    if revision is not None and not isinstance(revision, str):
        raise InvalidInput("revision", "the revision must be text")
    current = library.published(article_id, lang)
    if revision is None or (current is not None and current.revision == revision):
        if current is None:
            raise InvalidInput("article_id", "unknown article")
        return current
    seen = article_at(engine(), revision[:64])
    if seen is None or (seen.id, seen.lang) != (article_id, lang):
        raise InvalidInput("revision", "unknown revision of this article; reload it")
    return seen


def set_steps(
    case: caselog.Case, article_id: object, lang: object, revision: object = None, **changes
) -> dict[int, str | None]:
    """Tick or untick steps on the case in the article version the page showed (kb.caselog.checklist)."""
    version = version_for(article_id, lang, revision)
    return checklist.set_steps(engine(), case.id, g.user.id, version, **changes)


def step_text(article_id: str, lang: str, number: int) -> tuple[str, str] | None:
    """(action, expected) of a step as published now: for hand-offs of events without a revision."""
    article = library.published(article_id, lang)
    step = next((s for s in article.steps if s.number == number), None) if article else None
    return (step.action, step.expected) if step else None


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
    return max(0, round((utcnow() - case.opened_at).total_seconds()))


def _now_ms() -> int:
    return int(utcnow().timestamp() * 1000)


def closed_for_next_call(case_id: int, status: str) -> None:
    """The case was just closed from the workspace: the next search page starts fresh (the browser
    forgets the last search and its results) and says how the case ended."""
    leave_if_current(case_id)
    session["just_closed"] = {"id": case_id, "status": status}


def just_closed() -> dict | None:
    """The case closed just before this page (once), for the fresh search page."""
    closed = session.pop("just_closed", None)
    return closed if isinstance(closed, dict) else None


def new_request_id() -> str:
    """A fresh id for a form whose write must happen once however often it is sent (notes, open case)."""
    return uuid.uuid4().hex


def init_app(app) -> None:
    """The case bar on every page: the current case, its handle time; request ids for forms."""
    app.jinja_env.globals.update(new_request_id=new_request_id)

    @app.context_processor
    def _case_bar() -> dict:
        user = g.get("user")
        if not may_use_cases(user) or request.endpoint == "static":
            return {"current_case": None}
        return {
            "current_case": current_case(),
            "screen_popped": g.get("screen_pop"),
            "screen_pop_poll": url_for("cases.screen_pop"),
            "channel_labels": CHANNEL_LABELS,
            "format_duration": format_duration,
            "handle_seconds": handle_seconds,
            "server_now_ms": _now_ms,
        }
