"""The escalation hand-off: what the next team needs so the customer never has to repeat anything.

`build_handoff` collects it from the case log, in the language the receiving team reads (nl or
en): for each article tried its title and the steps done (number, short title, result, time) and
skipped, in that language when the article exists in it. `as_text(tz)` gives concise labelled
lines to paste into another ticket system, times in that zone with the zone shown; `as_dict()`
the same as JSON-ready data with every id kept and ISO 8601 UTC timestamps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kb.caselog.cases import _case, _find
from kb.caselog.revisions import articles_at
from kb.content.articles import Article
from kb.errors import InvalidInput
from kb.store import engine as db
from kb.store.tables import CaseEventRow, UserRow, check_choice, check_id

StepText = Callable[[str, str, int], "tuple[str, str] | None"]
Published = Callable[[str, str], "Article | None"]  # (article_id, lang) -> the version published now

HANDOFF_LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
DEFAULT_TIMEZONE = "Europe/Amsterdam"
TITLE_CHARS = 80

# The hand-off's own words. Not gettext: the hand-off language is a server setting for the
# receiving team, independent of the interface language of the agent who escalates.
LABELS = {
    "nl": {
        "heading": "Escalatie-overdracht voor case {id}",
        "team": "Team",
        "reason": "Reden",
        "customer_ref": "Klantreferentie",
        "channel": "Kanaal",
        "connection_type": "Verbindingstype",
        "agent": "Medewerker",
        "opened": "Geopend",
        "escalated": "Geëscaleerd",
        "problem": "Probleem",
        "articles": "Geprobeerde artikelen ({n})",
        "article": "- {title}{read_in}, geopend {at}",
        "read_in": " (gelezen in het {lang})",
        "done": "  Stap {n} gedaan om {at}: {title}",
        "skipped": "  Stap {n} overgeslagen: {title}",
        "result": "    Resultaat: {text}",
        "searches": "Zoekopdrachten ({n})",
        "notes": "Notities ({n})",
        "outage": "Tijdens bekende storing {id} ({status}): {message}",
    },
    "en": {
        "heading": "Escalation hand-off for case {id}",
        "team": "Team",
        "reason": "Reason",
        "customer_ref": "Customer reference",
        "channel": "Channel",
        "connection_type": "Connection type",
        "agent": "Agent",
        "opened": "Opened",
        "escalated": "Escalated",
        "problem": "Problem",
        "articles": "Articles tried ({n})",
        "article": "- {title}{read_in}, opened {at}",
        "read_in": " (read in {lang})",
        "done": "  Step {n} done at {at}: {title}",
        "skipped": "  Step {n} skipped: {title}",
        "result": "    Result: {text}",
        "searches": "Searches ({n})",
        "notes": "Agent notes ({n})",
        "outage": "During known outage {id} ({status}): {message}",
    },
}
LANGUAGE_NAMES = {"nl": {"nl": "Nederlands", "en": "Engels"}, "en": {"nl": "Dutch", "en": "English"}}
TEAM_LABELS = {
    "nl": {
        "tier2": "Tier 2 (tweede lijn)",
        "network-operations": "Netwerkbeheer",
        "field-service": "Buitendienst",
        "billing": "Facturatie",
        "security": "Beveiliging",
        "team-lead": "Teamleider",
    },
    "en": {
        "tier2": "Tier 2 (second line)",
        "network-operations": "Network operations",
        "field-service": "Field service",
        "billing": "Billing",
        "security": "Security",
        "team-lead": "Team lead",
    },
}
CHANNEL_LABELS = {
    "nl": {"phone": "Telefoon", "chat": "Chat", "email": "E-mail"},
    "en": {"phone": "Phone", "chat": "Chat", "email": "E-mail"},
}
CONNECTION_TYPE_LABELS = {
    "nl": {"fibre": "Glasvezel", "dsl": "DSL", "cable": "Kabel", "unknown": "Niet bekend"},
    "en": {"fibre": "Fibre", "dsl": "DSL", "cable": "Cable", "unknown": "Not known"},
}


@dataclass(frozen=True)
class HandoffStep:
    article_id: str
    lang: str
    step_number: int
    done_at: datetime
    action: str | None = None  # the step's instruction as the agent saw it (from its revision)
    expected: str | None = None  # its expected result
    result: str | None = field(default=None, repr=False)  # what the agent recorded it showed
    revision: str | None = None  # the article version the step was ticked in
    title: str | None = None  # the short title of the step, in the hand-off language when the article has it


@dataclass(frozen=True)
class HandoffSkippedStep:
    step_number: int
    title: str


@dataclass(frozen=True)
class HandoffArticle:
    article_id: str
    lang: str  # the language the agent read it in
    opened_at: datetime  # first opened (or, never opened on the case, the first step ticked)
    revision: str | None = None  # the version first opened
    title: str | None = None
    title_lang: str | None = None  # the language of the title and step titles (the hand-off's when it exists)
    steps_skipped: tuple[HandoffSkippedStep, ...] = ()


@dataclass(frozen=True)
class HandoffSearch:
    query: str
    at: datetime


@dataclass(frozen=True)
class HandoffNote:
    text: str
    at: datetime
    author: str


@dataclass(frozen=True)
class Handoff:
    case_id: int
    customer_ref: str = field(repr=False)
    channel: str
    problem: str = field(repr=False)
    connection_type: str
    status: str
    agent_name: str
    opened_at: datetime
    escalated_at: datetime | None
    team: str | None
    reason: str | None = field(repr=False)
    steps: tuple[HandoffStep, ...]
    articles_tried: tuple[HandoffArticle, ...]
    searches: tuple[HandoffSearch, ...]
    notes: tuple[HandoffNote, ...] = field(repr=False)
    language: str = DEFAULT_LANGUAGE  # the language the receiving team reads
    # The known outages active at the caller's postcode when the case was escalated (kb.outages):
    # ({"id", "status", "message_nl", "message_en"}, ...), recorded on the escalation event.
    outages: tuple[dict, ...] = ()

    @property
    def team_label(self) -> str | None:
        return TEAM_LABELS[self.language].get(self.team, self.team) if self.team else None

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS[self.language].get(self.channel, self.channel)

    @property
    def connection_type_label(self) -> str:
        return CONNECTION_TYPE_LABELS[self.language].get(self.connection_type, self.connection_type)

    def as_dict(self) -> dict:
        """JSON-ready: plain types, timestamps as ISO 8601 strings in UTC, every id with its label or title."""
        iso = lambda t: t.isoformat() if t else None  # noqa: E731
        return {
            "case_id": self.case_id,
            "language": self.language,
            "customer_ref": self.customer_ref,
            "channel": self.channel,
            "channel_label": self.channel_label,
            "problem": self.problem,
            "connection_type": self.connection_type,
            "connection_type_label": self.connection_type_label,
            "status": self.status,
            "agent": self.agent_name,
            "opened_at": iso(self.opened_at),
            "escalated_at": iso(self.escalated_at),
            "team": self.team,
            "team_label": self.team_label,
            "reason": self.reason,
            "steps_done": [
                {
                    "article_id": s.article_id,
                    "lang": s.lang,
                    "step": s.step_number,
                    "title": s.title,
                    "done_at": iso(s.done_at),
                    "action": s.action,
                    "expected": s.expected,
                    "result": s.result,
                    "revision": s.revision,
                }
                for s in self.steps
            ],
            "articles_tried": [
                {
                    "article_id": a.article_id,
                    "lang": a.lang,
                    "title": a.title,
                    "title_lang": a.title_lang,
                    "opened_at": iso(a.opened_at),
                    "revision": a.revision,
                    "steps_skipped": [{"step": s.step_number, "title": s.title} for s in a.steps_skipped],
                }
                for a in self.articles_tried
            ],
            "searches": [{"query": s.query, "at": iso(s.at)} for s in self.searches],
            "notes": [{"text": n.text, "at": iso(n.at), "author": n.author} for n in self.notes],
            "outages": [dict(o) for o in self.outages],
        }

    def as_text(self, tz: str | tzinfo = DEFAULT_TIMEZONE) -> str:
        """Concise plain text in the hand-off language, one labelled line per fact, times in `tz`
        (an IANA name such as Europe/Amsterdam) with the zone shown; ready to paste into another ticket system."""
        words, zone = LABELS[self.language], _zone(tz)
        day = _local(self.opened_at, zone).date()
        when = lambda at: _time(at, zone, day)  # noqa: E731 - the case's own day needs no date
        lines = [
            words["heading"].format(id=self.case_id),
            f"{words['team']}: {_line(self.team_label or '-')}",
            f"{words['reason']}: {_indent(self.reason or '-')}",
            f"{words['customer_ref']}: {_line(self.customer_ref)}",
            f"{words['channel']}: {_line(self.channel_label)}",
            f"{words['connection_type']}: {_line(self.connection_type_label)}",
            f"{words['agent']}: {_line(self.agent_name)}",
            f"{words['opened']}: {_time(self.opened_at, zone)}",
            f"{words['escalated']}: {_time(self.escalated_at, zone) if self.escalated_at else '-'}",
            f"{words['problem']}: {_indent(self.problem)}",
            *(
                words["outage"].format(
                    id=o["id"], status=o["status"], message=_line(o.get(f"message_{self.language}") or "")
                )
                for o in self.outages
            ),
            "",
            words["articles"].format(n=len(self.articles_tried)) + ":",
        ]
        for article in self.articles_tried:
            read_in = ""
            if article.lang != self.language:
                read_in = words["read_in"].format(lang=LANGUAGE_NAMES[self.language].get(article.lang, article.lang))
            title = _line(article.title or article.article_id)
            lines.append(words["article"].format(title=title, read_in=read_in, at=when(article.opened_at)))
            done = [s for s in self.steps if (s.article_id, s.lang) == (article.article_id, article.lang)]
            entries = [(s.step_number, s) for s in done] + [(s.step_number, s) for s in article.steps_skipped]
            for number, step in sorted(entries, key=lambda entry: entry[0]):
                if isinstance(step, HandoffSkippedStep):
                    lines.append(words["skipped"].format(n=number, title=_line(step.title)))
                    continue
                title = _line(step.title or "-")
                lines.append(words["done"].format(n=number, at=when(step.done_at), title=title))
                if step.result:
                    lines.append(words["result"].format(text=_indent(step.result, 6)))
        lines += ["", words["searches"].format(n=len(self.searches)) + ":"]
        lines += [f"- {when(s.at)}: {json.dumps(s.query, ensure_ascii=False)}" for s in self.searches]
        lines += ["", words["notes"].format(n=len(self.notes)) + ":"]
        lines += [f"- {when(n.at)} {_line(n.author)}: {_indent(n.text, 2)}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _line(text: str) -> str:
    """A field that must stay on its own labelled line: line breaks (and other white space) become spaces."""
    return " ".join(str(text).split())


def _indent(text: str, spaces: int = 2) -> str:
    return ("\n" + " " * spaces).join(text.splitlines()) if text else text


def _zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            "tz", f"The time zone {tz!r:.60} is not known; use an IANA name such as Europe/Amsterdam (KB_TIMEZONE)."
        ) from None


def _local(at: datetime, zone: tzinfo) -> datetime:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)


def _time(at: datetime, zone: tzinfo, day=None) -> str:
    """'2026-12-01 14:03 CET', or '14:03 CET' on `day` (the local date the case was opened)."""
    local = _local(at, zone)
    return local.strftime("%H:%M %Z" if local.date() == day else "%Y-%m-%d %H:%M %Z")


_MARKDOWN = [
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links and images: their text
    (re.compile(r"<[^>]+>"), ""),
    (re.compile(r"(\*\*|__|\*|`)(.+?)\1"), r"\2"),  # emphasis and code: the words
]
_SENTENCE_END = re.compile(r"[.!?](?=\s+(\S))")


def short_title(action: str | None) -> str | None:
    """A step's short title: the first sentence of its action, Markdown stripped, at most TITLE_CHARS long."""
    if not action:
        return None
    text = " ".join(action.split())
    for pattern, replacement in _MARKDOWN:
        text = pattern.sub(replacement, text)
    # A sentence ends before a capital ('Check the cable. Then ...'), not in 'e.g. 192.168.1.1' or 'bijv. de'.
    end = next((m for m in _SENTENCE_END.finditer(text) if m.group(1).isupper() or m.group(1) in "(\"'"), None)
    text = (text[: end.end()] if end else text).strip()
    if len(text) > TITLE_CHARS:
        cut = text[: TITLE_CHARS - 1]
        text = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(",;:") + "…"
    return text or None


def build_handoff(
    engine: Engine,
    case_id: int,
    step_text: StepText | None = None,
    *,
    language: str = DEFAULT_LANGUAGE,
    published: Published | None = None,
) -> Handoff:
    """The hand-off for a case (normally an escalated one; for an open case team and reason are None).

    Each step's texts come from the article revision it was ticked in, so the hand-off shows what
    the agent read even after the article changed. `published(article_id, lang)` gives the version
    published now: titles and step titles come from it in `language` when the agent read the other
    language. For events recorded before revisions existed the texts come from
    `step_text(article_id, lang, number)` (giving action and expected) when given, else from `published`.
    """
    case_id = check_id("case_id", case_id)
    with db.session_scope(engine, readonly=True) as session:  # case and events from one snapshot
        return handoff_in(session, case_id, step_text, language=language, published=published)


def handoff_in(
    session: Session,
    case_id: int,
    step_text: StepText | None = None,
    *,
    language: str = DEFAULT_LANGUAGE,
    published: Published | None = None,
) -> Handoff:
    """The hand-off as `session` sees the case: inside the transaction that escalates it, that is
    the escalated case (its notification is written in the same transaction, see escalate_case)."""
    language = check_choice("language", language, HANDOFF_LANGUAGES, label="hand-off language (KB_HANDOFF_LANGUAGE)")
    case = _case(session, _find(session, case_id))
    events = session.execute(
        select(CaseEventRow, UserRow.display_name)
        .join(UserRow, UserRow.id == CaseEventRow.actor_id)
        .where(CaseEventRow.case_id == case_id)
        .order_by(CaseEventRow.id)
    ).all()
    versions = articles_at(session, {e.revision for e, _ in events if e.revision})
    ticked: dict[tuple[str, str, int], tuple[datetime, str | None, str | None]] = {}
    opened: dict[tuple[str, str], tuple[datetime, str | None]] = {}
    newest: dict[tuple[str, str], str] = {}  # the newest revision of each article the agent saw
    searches, notes, escalated_at, last_opened, outages = [], [], None, None, ()
    for event, author in events:
        key = (event.article_id, event.lang)
        if event.kind in ("step_ticked", "article_opened") and event.revision:
            newest[key] = event.revision
        if event.kind == "step_ticked":
            # Ticked again: the first time, the newest result, the revision of the newest tick.
            at, result, _ = ticked.get((*key, event.step_number), (event.at, None, None))
            result = (event.text or None) if event.text is not None else result
            ticked[(*key, event.step_number)] = (at, result, event.revision)
        elif event.kind == "step_unticked":
            ticked.pop((*key, event.step_number), None)
        elif event.kind == "article_opened":
            opened.setdefault(key, (event.at, event.revision))
            last_opened = key
        elif event.kind == "search":
            searches.append(HandoffSearch(event.text, event.at))
        elif event.kind == "note":
            notes.append(HandoffNote(event.text, event.at, author))
        elif event.kind == "escalated":
            escalated_at = event.at
            outages = tuple(json.loads(event.data or "{}").get("outages") or ())
    ticked_items = sorted(ticked.items(), key=lambda item: item[1][0])
    for (article_id, lang, _), (at, _, _) in ticked_items:  # steps of an article never opened on the case
        opened.setdefault((article_id, lang), (at, None))
    read, shown = {}, {}
    for article_id, lang in opened:
        version = versions.get(newest.get((article_id, lang))) or _published(published, article_id, lang)
        read[(article_id, lang)] = version
        shown[(article_id, lang)] = _in_language(version, article_id, lang, language, published)
    steps = [
        _step(key, at, result, revision, versions, read, shown, step_text)
        for key, (at, result, revision) in ticked_items
    ]
    articles = []
    for (article_id, lang), (at, revision) in opened.items():
        version = shown[(article_id, lang)]
        done = {number for (a, la, number) in ticked if (a, la) == (article_id, lang)}
        # Skipped steps matter where the agent worked: an article with a step done, or the last one read.
        skipped = _skipped(version, done) if done or (article_id, lang) == last_opened else ()
        title, title_lang = (version.title, version.lang) if version is not None else (None, None)
        articles.append(HandoffArticle(article_id, lang, at, revision, title, title_lang, skipped))
    return Handoff(
        case.id,
        case.customer_ref,
        case.channel,
        case.problem,
        case.connection_type,
        case.status,
        case.agent_name,
        case.opened_at,
        escalated_at if case.status == "escalated" else None,
        case.escalation_team,
        case.escalation_reason,
        tuple(steps),
        tuple(articles),
        tuple(searches),
        tuple(notes),
        language,
        outages if case.status == "escalated" else (),
    )


def _step(key, at, result, revision, versions, read, shown, step_text) -> HandoffStep:
    article_id, lang, number = key
    if revision is not None:
        texts = _texts_at(versions.get(revision), number)
    elif step_text is not None:
        texts = _step_texts(step_text, article_id, lang, number)
    else:
        texts = _texts_at(read[(article_id, lang)], number)
    translated = shown[(article_id, lang)] is not read[(article_id, lang)]
    title = (_texts_at(shown[(article_id, lang)], number)[0] if translated else None) or texts[0]
    return HandoffStep(article_id, lang, number, at, *texts, result=result, revision=revision, title=short_title(title))


def _skipped(version: Article | None, done: set[int]) -> tuple[HandoffSkippedStep, ...]:
    if version is None:
        return ()
    return tuple(
        HandoffSkippedStep(s.number, short_title(s.action) or "-") for s in version.steps if s.number not in done
    )


def _published(published: Published | None, article_id: str, lang: str) -> Article | None:
    if published is None:
        return None
    try:
        return published(article_id, lang)
    except LookupError:
        return None


def _in_language(
    version: Article | None, article_id: str, lang: str, language: str, published: Published | None
) -> Article | None:
    """The version to take titles from: the one in `language` when it exists and numbers its steps the
    same way as the one the agent read (else its step titles would name other steps), else that one."""
    if lang == language:
        return version
    other = _published(published, article_id, language)
    if other is None or (version is not None and [s.number for s in other.steps] != [s.number for s in version.steps]):
        return version
    return other


def _texts_at(version: Article | None, number: int) -> tuple:
    step = next((s for s in version.steps if s.number == number), None) if version is not None else None
    return (step.action, step.expected) if step else (None, None)


def _step_texts(step_text: StepText | None, article_id: str, lang: str, number: int) -> tuple:
    if step_text is None:
        return (None, None)
    try:
        texts = step_text(article_id, lang, number)
    except LookupError:  # the article or step is gone since the agent ticked it
        return (None, None)
    return tuple(texts) if texts else (None, None)
