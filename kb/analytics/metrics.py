"""The analysts' figures, computed from the case log exactly as docs/metrics.md defines them.

A case belongs to the period in which it was (last) closed; open cases are in no closed-case
figure. The customer reference is only compared (repeat contacts), never returned. Everything is
read in a handful of queries per period (the closed cases with their facts, the article and step
links of those cases), then counted here, so a 90-day period over 100,000 cases stays fast.
"""

from __future__ import annotations

import bisect
import math
import os
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, case, func, or_, select

from kb.errors import InvalidInput
from kb.store import engine as db
from kb.store.tables import (
    CHANNELS,
    ArticleFlagRow,
    CaseEventRow,
    CaseResolutionRow,
    CaseRow,
    ContentGapRow,
    UserRow,
)

CLOSED = ("resolved", "escalated", "unresolved")
LINK_KINDS = ("article_opened", "step_ticked")
WEAK_MARK = '%"weak": true%'  # how record_search stores a weak match in the event's JSON data
LOW_VOLUME = 10  # rates over fewer cases are marked low volume


def repeat_days() -> int:
    raw = os.environ.get("KB_REPEAT_DAYS") or "7"
    try:
        return max(1, int(raw))
    except ValueError:
        return 7


@dataclass(frozen=True)
class Filters:
    since: date
    until: date  # inclusive
    category: str | None = None
    channel: str | None = None
    team: str | None = None  # escalation team
    lang: str | None = None  # article language
    agent_team: str | None = None

    def __post_init__(self):
        if self.until < self.since:
            raise InvalidInput("until", "The period ends before it starts; choose an end date after the start.")
        if (self.until - self.since).days > 3660:
            raise InvalidInput("since", "Choose a period of at most ten years.")
        if self.channel is not None and self.channel not in CHANNELS:
            raise InvalidInput("channel", f"The channel must be one of {', '.join(CHANNELS)}.")

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time(0), tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    def previous(self) -> Filters:
        """The period of the same length just before this one."""
        return replace(self, since=self.since - timedelta(days=self.days), until=self.since - timedelta(days=1))


@dataclass(frozen=True)
class CaseFact:
    id: int
    status: str
    opened_at: datetime
    closed_at: datetime
    reopen_count: int
    handle_seconds: int
    channel: str
    escalation_team: str | None
    agent_team: str | None
    is_demo: bool
    linked: bool
    repeat: bool
    searches: int
    weak_searches: int

    @property
    def fcr(self) -> bool:
        return self.status == "resolved" and self.reopen_count == 0 and not self.repeat


@dataclass(frozen=True)
class Rate:
    """`part` of `whole` with a Wilson 95 % interval; `low` when the count is too small to trust."""

    part: int
    whole: int

    @property
    def value(self) -> float | None:
        return self.part / self.whole if self.whole else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.part, self.whole)

    @property
    def low_volume(self) -> bool:
        return self.whole < LOW_VOLUME


def wilson(part: int, whole: int, z: float = 1.959964) -> tuple[float, float] | None:
    """The Wilson score interval (95 %) of part/whole; None for whole = 0."""
    if whole <= 0:
        return None
    p = part / whole
    denominator = 1 + z * z / whole
    centre = (p + z * z / (2 * whole)) / denominator
    margin = z * math.sqrt(p * (1 - p) / whole + z * z / (4 * whole * whole)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)


def percentile(values: list[int], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[rank - 1])


# -- reading the closed cases of a period ------------------------------------------------------------


def _case_ids(f: Filters, categories: dict[str, str]):
    """A select of the ids of the cases closed in the period that match the filters."""
    query = (
        select(CaseRow.id)
        .join(UserRow, UserRow.id == CaseRow.agent_id)
        .where(CaseRow.status.in_(CLOSED), CaseRow.closed_at >= f.start, CaseRow.closed_at < f.end)
    )
    if f.channel:
        query = query.where(CaseRow.channel == f.channel)
    if f.team:
        query = query.where(CaseRow.escalation_team == f.team)
    if f.agent_team:
        query = query.where(UserRow.team == f.agent_team)
    if f.category:
        wanted = sorted(a for a, c in categories.items() if c == f.category) or ["\x00none"]
        used = select(CaseEventRow.case_id).where(
            CaseEventRow.kind.in_(LINK_KINDS), CaseEventRow.article_id.in_(wanted)
        )
        resolved = select(CaseResolutionRow.case_id).where(CaseResolutionRow.article_id.in_(wanted))
        query = query.where(or_(CaseRow.id.in_(used), CaseRow.id.in_(resolved)))
    if f.lang:
        used = select(CaseEventRow.case_id).where(CaseEventRow.kind.in_(LINK_KINDS), CaseEventRow.lang == f.lang)
        query = query.where(CaseRow.id.in_(used))
    return query


def closed_cases(engine: Engine, f: Filters, categories: dict[str, str] | None = None) -> list[CaseFact]:
    """The facts of every case closed in the period that matches the filters, oldest closing first."""
    categories = categories or {}
    ids = _case_ids(f, categories)
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(
                CaseRow.id,
                CaseRow.status,
                CaseRow.opened_at,
                CaseRow.closed_at,
                CaseRow.reopen_count,
                CaseRow.handle_seconds,
                CaseRow.channel,
                CaseRow.escalation_team,
                UserRow.team,
                CaseRow.is_demo,
                CaseRow.customer_ref,
            )
            .join(UserRow, UserRow.id == CaseRow.agent_id)
            .where(CaseRow.id.in_(ids))
            .order_by(CaseRow.closed_at, CaseRow.id)
        ).all()
        linked = set(
            session.scalars(
                select(CaseEventRow.case_id)
                .where(CaseEventRow.kind.in_(LINK_KINDS), CaseEventRow.case_id.in_(ids))
                .distinct()
            )
        ) | set(session.scalars(select(CaseResolutionRow.case_id).where(CaseResolutionRow.case_id.in_(ids)).distinct()))
        searches = {
            case_id: (n, weak or 0)
            for case_id, n, weak in session.execute(
                select(
                    CaseEventRow.case_id,
                    func.count(),
                    func.sum(case((CaseEventRow.data.like(WEAK_MARK), 1), else_=0)),
                )
                .where(CaseEventRow.kind == "search", CaseEventRow.case_id.in_(ids))
                .group_by(CaseEventRow.case_id)
            )
        }
        later = _openings(session, f.start, f.end + timedelta(days=repeat_days()))
    window = timedelta(days=repeat_days())
    facts = []
    for row in rows:
        n, weak = searches.get(row.id, (0, 0))
        facts.append(
            CaseFact(
                row.id,
                row.status,
                row.opened_at,
                row.closed_at,
                row.reopen_count,
                row.handle_seconds or 0,
                row.channel,
                row.escalation_team,
                row.team,
                bool(row.is_demo),
                row.id in linked,
                _repeated(later.get(row.customer_ref, ()), row.id, row.closed_at, window),
                n,
                int(weak),
            )
        )
    return facts


def _openings(session, start: datetime, end: datetime) -> dict[str, list[tuple[datetime, int]]]:
    """Per customer reference, the (opened_at, id) of cases opened in [start, end), sorted."""
    found: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for ref, opened, case_id in session.execute(
        select(CaseRow.customer_ref, CaseRow.opened_at, CaseRow.id).where(
            CaseRow.opened_at >= start, CaseRow.opened_at < end
        )
    ):
        found[ref].append((opened, case_id))
    for values in found.values():
        values.sort()
    return found


def _repeated(openings, case_id: int, closed_at: datetime, window: timedelta) -> bool:
    """Another case for the same customer opened after this one closed, within the window."""
    i = bisect.bisect_right(openings, (closed_at, 2**62))
    return any(other != case_id and opened <= closed_at + window for opened, other in openings[i : i + 3])


# -- the figures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    cases_opened: int
    cases_closed: int
    resolved: int
    escalated: int
    unresolved: int
    fcr_rate: float | None
    l1_resolution_rate: float | None
    escalation_rate: float | None
    unresolved_rate: float | None
    link_rate: float | None
    repeat_contact_rate: float | None
    median_handle_seconds: float | None
    p90_handle_seconds: float | None
    searches_per_case: float | None
    weak_search_share: float | None
    content_gap_searches: int
    demo_cases: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def headline(engine: Engine, f: Filters, facts: list[CaseFact] | None = None, categories=None) -> Headline:
    facts = facts if facts is not None else closed_cases(engine, f, categories)
    closed = len(facts)
    count = Counter(c.status for c in facts)
    searches = sum(c.searches for c in facts)
    with db.session_scope(engine, readonly=True) as session:
        opened = session.scalar(
            select(func.count())
            .select_from(CaseRow)
            .join(UserRow, UserRow.id == CaseRow.agent_id)
            .where(
                CaseRow.opened_at >= f.start,
                CaseRow.opened_at < f.end,
                *([CaseRow.channel == f.channel] if f.channel else []),
                *([UserRow.team == f.agent_team] if f.agent_team else []),
            )
        )
        gaps = session.scalar(select(func.count()).where(ContentGapRow.at >= f.start, ContentGapRow.at < f.end))
    handle = [c.handle_seconds for c in facts]
    return Headline(
        cases_opened=opened or 0,
        cases_closed=closed,
        resolved=count["resolved"],
        escalated=count["escalated"],
        unresolved=count["unresolved"],
        fcr_rate=_share(sum(c.fcr for c in facts), closed),
        l1_resolution_rate=_share(count["resolved"], closed),
        escalation_rate=_share(count["escalated"], closed),
        unresolved_rate=_share(count["unresolved"], closed),
        link_rate=_share(sum(c.linked for c in facts), closed),
        repeat_contact_rate=_share(sum(c.repeat for c in facts), closed),
        median_handle_seconds=float(statistics.median(handle)) if handle else None,
        p90_handle_seconds=percentile(handle, 90),
        searches_per_case=_share(searches, closed),
        weak_search_share=_share(sum(c.weak_searches for c in facts), searches),
        content_gap_searches=gaps or 0,
        demo_cases=sum(c.is_demo for c in facts),
    )


@dataclass(frozen=True)
class ArticleFigures:
    article_id: str
    used: int  # closed cases on which it was opened, ticked or that it resolved
    opened: int
    resolved_with: int
    escalated: int
    unresolved: int
    repeats: int
    median_handle_seconds: float | None
    flags: int
    resolution: Rate = field(compare=False)
    escalation: Rate = field(compare=False)
    repeat: Rate = field(compare=False)


Links = dict[int, set[str]]


def _links(
    engine: Engine, f: Filters, categories
) -> tuple[dict[int, set[str]], dict[int, set[str]], dict[int, set[str]]]:
    """Per closed case of the period: articles opened, articles used (opened or ticked), articles resolving it."""
    ids = _case_ids(f, categories or {})
    opened, used, resolving = defaultdict(set), defaultdict(set), defaultdict(set)
    with db.session_scope(engine, readonly=True) as session:
        for case_id, article_id, kind in session.execute(
            select(CaseEventRow.case_id, CaseEventRow.article_id, CaseEventRow.kind)
            .where(CaseEventRow.kind.in_(LINK_KINDS), CaseEventRow.case_id.in_(ids))
            .distinct()
        ):
            used[case_id].add(article_id)
            if kind == "article_opened":
                opened[case_id].add(article_id)
        for case_id, article_id in session.execute(
            select(CaseResolutionRow.case_id, CaseResolutionRow.article_id).where(CaseResolutionRow.case_id.in_(ids))
        ):
            resolving[case_id].add(article_id)
            used[case_id].add(article_id)
    return opened, used, resolving


def used_articles(engine: Engine, f: Filters, categories=None) -> Links:
    """Per closed case of the period: the articles it used (opened, ticked or resolved by)."""
    return _links(engine, f, categories)[1]


def per_article(engine: Engine, f: Filters, facts: list[CaseFact], categories=None) -> list[ArticleFigures]:
    """Per article, over the closed cases of the period that used it; most used first."""
    opened, used, resolving = _links(engine, f, categories)
    by_id = {c.id: c for c in facts}
    cases_of: dict[str, list[CaseFact]] = defaultdict(list)
    for case_id, articles in used.items():
        if case_id in by_id:
            for article_id in articles:
                cases_of[article_id].append(by_id[case_id])
    with db.session_scope(engine, readonly=True) as session:
        flags = dict(
            session.execute(
                select(ArticleFlagRow.article_id, func.count())
                .where(ArticleFlagRow.at >= f.start, ArticleFlagRow.at < f.end)
                .group_by(ArticleFlagRow.article_id)
            ).all()
        )
    found = []
    for article_id, cases in cases_of.items():
        n = len(cases)
        resolved_with = sum(1 for c in cases if c.status == "resolved" and article_id in resolving.get(c.id, ()))
        escalated = sum(c.status == "escalated" for c in cases)
        unresolved = sum(c.status == "unresolved" for c in cases)
        repeats = sum(c.repeat for c in cases)
        found.append(
            ArticleFigures(
                article_id,
                n,
                sum(1 for c in cases if article_id in opened.get(c.id, ())),
                resolved_with,
                escalated,
                unresolved,
                repeats,
                float(statistics.median([c.handle_seconds for c in cases])) if cases else None,
                flags.get(article_id, 0),
                Rate(resolved_with, n),
                Rate(escalated, n),
                Rate(repeats, n),
            )
        )
    return sorted(found, key=lambda a: (-a.used, a.article_id))


@dataclass(frozen=True)
class StepFigures:
    article_id: str
    step: int
    resolved: int  # closed cases whose last ticked step (before closing) was this one, by outcome
    escalated: int
    unresolved: int
    highlight: bool = False  # the step of this article after which most escalations happen


def per_step(engine: Engine, f: Filters, facts: list[CaseFact], categories=None) -> dict[str, list[StepFigures]]:
    """For each article, how often each step was the last one ticked before the case ended, by outcome."""
    ids = _case_ids(f, categories or {})
    status = {c.id: c.status for c in facts}
    last = (
        select(CaseEventRow.case_id.label("case_id"), func.max(CaseEventRow.id).label("last_id"))
        .where(CaseEventRow.kind == "step_ticked", CaseEventRow.case_id.in_(ids))
        .group_by(CaseEventRow.case_id)
        .subquery()
    )
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(CaseEventRow.case_id, CaseEventRow.article_id, CaseEventRow.step_number).join(
                last, CaseEventRow.id == last.c.last_id
            )
        ).all()
    counts: dict[tuple[str, int], Counter] = defaultdict(Counter)
    for case_id, article_id, step in rows:
        if case_id in status:
            counts[(article_id, step)][status[case_id]] += 1
    by_article: dict[str, list[StepFigures]] = defaultdict(list)
    for (article_id, step), c in sorted(counts.items()):
        by_article[article_id].append(StepFigures(article_id, step, c["resolved"], c["escalated"], c["unresolved"]))
    for article_id, steps in by_article.items():
        top = max(steps, key=lambda s: (s.escalated, -s.step))
        if top.escalated:
            by_article[article_id] = [replace(s, highlight=s is top) for s in steps]
    return dict(by_article)


@dataclass(frozen=True)
class GroupFigures:
    name: str | None
    closed: int
    resolved: Rate
    escalated: Rate
    fcr: Rate
    median_handle_seconds: float | None


def _group(name, cases: list[CaseFact]) -> GroupFigures:
    n = len(cases)
    return GroupFigures(
        name,
        n,
        Rate(sum(c.status == "resolved" for c in cases), n),
        Rate(sum(c.status == "escalated" for c in cases), n),
        Rate(sum(c.fcr for c in cases), n),
        float(statistics.median([c.handle_seconds for c in cases])) if cases else None,
    )


def per_agent_team(facts: list[CaseFact]) -> list[GroupFigures]:
    """Per agent team (never per named agent)."""
    groups: dict[str | None, list[CaseFact]] = defaultdict(list)
    for c in facts:
        groups[c.agent_team].append(c)
    return sorted((_group(k, v) for k, v in groups.items()), key=lambda g: (-g.closed, g.name or ""))


def per_escalation_team(facts: list[CaseFact]) -> list[tuple[str, int, float]]:
    """(team, escalations, share of all closed cases), most escalations first."""
    closed = len(facts)
    teams = Counter(c.escalation_team for c in facts if c.status == "escalated")
    return [(team, n, n / closed) for team, n in teams.most_common()] if closed else []


def per_category(facts: list[CaseFact], used: dict[int, set[str]], categories: dict[str, str]) -> list[GroupFigures]:
    """Per category of the articles a case used (a case using two categories counts in both; none: 'none')."""
    groups: dict[str, list[CaseFact]] = defaultdict(list)
    for c in facts:
        cats = {categories.get(a, "none") for a in used.get(c.id, ())} or {"none"}
        for cat in cats:
            groups[cat].append(c)
    return sorted((_group(k, v) for k, v in groups.items()), key=lambda g: (-g.closed, g.name or ""))


@dataclass(frozen=True)
class Week:
    start: date
    closed: int
    fcr_rate: float | None
    escalation_rate: float | None
    link_rate: float | None


def weekly(facts: list[CaseFact], f: Filters) -> list[Week]:
    """Per week (Monday to Sunday) of the period: cases closed, FCR, escalation rate, link rate."""
    first = f.since - timedelta(days=f.since.weekday())
    weeks: dict[date, list[CaseFact]] = {first + timedelta(weeks=n): [] for n in range((f.until - first).days // 7 + 1)}
    for c in facts:
        day = c.closed_at.date()
        weeks.setdefault(day - timedelta(days=day.weekday()), []).append(c)
    return [
        Week(
            start,
            len(cases),
            _share(sum(c.fcr for c in cases), len(cases)),
            _share(sum(c.status == "escalated" for c in cases), len(cases)),
            _share(sum(c.linked for c in cases), len(cases)),
        )
        for start, cases in sorted(weeks.items())
    ]


def top_gap_queries(engine: Engine, f: Filters, limit: int = 10) -> list[tuple[str, int]]:
    """The most frequent content-gap searches of the period (case and spaces folded)."""
    with db.session_scope(engine, readonly=True) as session:
        queries = session.scalars(
            select(ContentGapRow.query).where(
                ContentGapRow.at >= f.start, ContentGapRow.at < f.end, ContentGapRow.query != "[purged]"
            )
        ).all()
    counts = Counter(" ".join(q.casefold().split()) for q in queries)
    return counts.most_common(limit)


def drill_down(
    engine: Engine, f: Filters, metric: str, categories=None, *, article: str | None = None
) -> list[CaseFact]:
    """The cases behind a figure: closed, resolved, escalated, unresolved, fcr, repeat, linked, unlinked."""
    facts = closed_cases(engine, f, categories)
    if article is not None:
        _, used, _ = _links(engine, f, categories)
        facts = [c for c in facts if article in used.get(c.id, ())]
    tests = {
        "closed": lambda c: True,
        "resolved": lambda c: c.status == "resolved",
        "escalated": lambda c: c.status == "escalated",
        "unresolved": lambda c: c.status == "unresolved",
        "fcr": lambda c: c.fcr,
        "repeat": lambda c: c.repeat,
        "linked": lambda c: c.linked,
        "unlinked": lambda c: not c.linked,
    }
    if metric not in tests:
        raise InvalidInput("metric", f"Choose one of {', '.join(tests)}.")
    return [c for c in facts if tests[metric](c)]


@dataclass
class Report:
    filters: Filters
    headline: Headline
    previous: Headline
    articles: list[ArticleFigures]
    steps: dict[str, list[StepFigures]]
    agent_teams: list[GroupFigures]
    escalation_teams: list[tuple[str, int, float]]
    categories: list[GroupFigures]
    weeks: list[Week]
    gap_queries: list[tuple[str, int]]


def report(engine: Engine, f: Filters, categories: dict[str, str] | None = None) -> Report:
    """Every section of the analytics page for the period."""
    categories = categories or {}
    facts = closed_cases(engine, f, categories)
    previous = f.previous()
    _, used, _ = _links(engine, f, categories)
    return Report(
        f,
        headline(engine, f, facts, categories),
        headline(engine, previous, closed_cases(engine, previous, categories), categories),
        per_article(engine, f, facts, categories),
        per_step(engine, f, facts, categories),
        per_agent_team(facts),
        per_escalation_team(facts),
        per_category(facts, used, categories),
        weekly(facts, f),
        top_gap_queries(engine, f),
    )
