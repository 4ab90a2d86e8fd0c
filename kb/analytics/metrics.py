"""The analysts' figures, computed exactly as docs/metrics.md defines them.

A case belongs to the period in which it was (last) closed; open cases are in no closed-case
figure. The figures are read from the case facts (kb.caselog.facts: one row per closed case,
written when it closes) and the articles each case used, with aggregate queries, so a 90-day
period over 100,000 cases takes a fraction of a second; only drill-down lists read case rows.
The customer reference is never read here (repeat contacts are decided when the customer's next
case is opened).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, and_, case, func, literal, select

from kb.caselog.facts import repeat_days  # noqa: F401 - the repeat window belongs to the figures' API
from kb.errors import InvalidInput
from kb.outages import figures as outage_figures
from kb.outages.figures import OutageFigures
from kb.store import engine as db
from kb.store.tables import (
    CHANNELS,
    ArticleFlagRow,
    CaseFactArticleRow,
    CaseFactRow,
    CaseRow,
    ContentGapRow,
    UserRow,
)

CLOSED = ("resolved", "escalated", "unresolved", "known_outage")
LINK_KINDS = ("article_opened", "step_ticked")
WEAK_MARK = '%"weak": true%'  # how record_search stores a weak match in the event's JSON data
LOW_VOLUME = 10  # rates over fewer cases are marked low volume


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
    closed_day: date  # the UTC day it was (last) closed
    reopen_count: int
    handle_seconds: int
    channel: str
    escalation_team: str | None
    agent_team: str | None
    is_demo: bool
    linked: bool
    repeat: bool

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


# -- the closed cases of a period ------------------------------------------------------------------


def _where(f: Filters, categories: dict[str, str]) -> list:
    """Conditions on CaseFactRow for the period and the filters."""
    conditions = [CaseFactRow.closed_day >= f.since.isoformat(), CaseFactRow.closed_day <= f.until.isoformat()]
    if f.channel:
        conditions.append(CaseFactRow.channel == f.channel)
    if f.team:
        conditions.append(CaseFactRow.escalation_team == f.team)
    if f.agent_team:
        conditions.append(CaseFactRow.agent_team == f.agent_team)
    if f.category:
        wanted = sorted(a for a, c in categories.items() if c == f.category) or ["\x00none"]
        conditions.append(
            CaseFactRow.case_id.in_(select(CaseFactArticleRow.case_id).where(CaseFactArticleRow.article_id.in_(wanted)))
        )
    if f.lang:
        conditions.append(
            CaseFactRow.case_id.in_(select(CaseFactArticleRow.case_id).where(CaseFactArticleRow.lang == f.lang))
        )
    return conditions


FCR = and_(CaseFactRow.status == "resolved", CaseFactRow.reopen_count == 0, CaseFactRow.repeat.is_(False))


def closed_cases(
    engine: Engine, f: Filters, categories: dict[str, str] | None = None, *, where=(), limit: int | None = None
) -> list[CaseFact]:
    """The facts of the cases closed in the period that match the filters, oldest closing first."""
    query = (
        select(
            CaseFactRow.case_id,
            CaseFactRow.status,
            CaseFactRow.closed_day,
            CaseFactRow.reopen_count,
            CaseFactRow.handle_seconds,
            CaseFactRow.channel,
            CaseFactRow.escalation_team,
            CaseFactRow.agent_team,
            CaseFactRow.is_demo,
            CaseFactRow.linked,
            CaseFactRow.repeat,
        )
        .where(*_where(f, categories or {}), *where)
        .order_by(CaseFactRow.closed_at, CaseFactRow.case_id)
    )
    if limit is not None:
        query = query.limit(limit)
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(query).all()
    return [
        CaseFact(
            r[0], r[1], date.fromisoformat(r[2]), r[3], r[4], r[5], r[6], r[7], bool(r[8]), bool(r[9]), bool(r[10])
        )
        for r in rows
    ]


def _count(condition):
    return func.sum(case((condition, 1), else_=0))


def _ranked(session, conditions, key=None, join_articles: bool = False) -> dict:
    """Per group (`key`; None: one group) the median and 90th percentile (nearest rank) of the handle
    time, worked out by the database with window functions, so no per-case rows travel."""
    part = [key] if key is not None else []
    inner = select(
        *(part and [key.label("k")]),
        CaseFactRow.handle_seconds.label("h"),
        func.row_number().over(partition_by=part or None, order_by=CaseFactRow.handle_seconds).label("rn"),
        func.count().over(partition_by=part or None).label("n"),
    ).where(*conditions)
    if join_articles:
        inner = inner.join(CaseFactArticleRow, CaseFactArticleRow.case_id == CaseFactRow.case_id)
    inner = inner.subquery()
    k = inner.c.k if key is not None else None
    rows = session.execute(
        select(*([k] if k is not None else []), inner.c.h, inner.c.rn, inner.c.n).where(
            (inner.c.rn == (inner.c.n + 1) // 2)
            | (inner.c.rn == inner.c.n // 2 + 1)
            | (inner.c.rn == (9 * inner.c.n + 9) // 10)
        )
    ).all()
    found: dict = defaultdict(dict)
    for row in rows:
        name, (h, rn, n) = (row[0], row[1:]) if k is not None else (None, row)
        if rn in ((n + 1) // 2, n // 2 + 1):
            found[name].setdefault("mid", []).append(h)
        if rn == (9 * n + 9) // 10:
            found[name]["p90"] = float(h)
    return {name: (sum(v["mid"]) / len(v["mid"]) if v.get("mid") else None, v.get("p90")) for name, v in found.items()}


# -- the figures ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    cases_opened: int
    cases_closed: int
    resolved: int
    escalated: int
    unresolved: int
    known_outage: int
    fcr_rate: float | None
    l1_resolution_rate: float | None
    escalation_rate: float | None
    unresolved_rate: float | None
    known_outage_rate: float | None
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


def headline(engine: Engine, f: Filters, categories: dict[str, str] | None = None) -> Headline:
    conditions = _where(f, categories or {})
    with db.session_scope(engine, readonly=True) as session:
        row = session.execute(
            select(
                func.count(),
                _count(CaseFactRow.status == "resolved"),
                _count(CaseFactRow.status == "escalated"),
                _count(CaseFactRow.status == "unresolved"),
                _count(CaseFactRow.status == "known_outage"),
                _count(FCR),
                _count(CaseFactRow.linked.is_(True)),
                _count(CaseFactRow.repeat.is_(True)),
                func.sum(CaseFactRow.searches),
                func.sum(CaseFactRow.weak_searches),
                _count(CaseFactRow.is_demo.is_(True)),
            ).where(*conditions)
        ).one()
        median, p90 = _ranked(session, conditions).get(None, (None, None))
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
    closed, resolved, escalated, unresolved, known, fcr, linked, repeat, searches, weak, demo = (
        int(v or 0) for v in row
    )
    return Headline(
        cases_opened=opened or 0,
        cases_closed=closed,
        resolved=resolved,
        escalated=escalated,
        unresolved=unresolved,
        known_outage=known,
        fcr_rate=_share(fcr, closed),
        l1_resolution_rate=_share(resolved, closed),
        escalation_rate=_share(escalated, closed),
        unresolved_rate=_share(unresolved, closed),
        known_outage_rate=_share(known, closed),
        link_rate=_share(linked, closed),
        repeat_contact_rate=_share(repeat, closed),
        median_handle_seconds=median,
        p90_handle_seconds=p90,
        searches_per_case=_share(searches, closed),
        weak_search_share=_share(weak, searches),
        content_gap_searches=gaps or 0,
        demo_cases=demo,
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


def per_article(engine: Engine, f: Filters, categories: dict[str, str] | None = None) -> list[ArticleFigures]:
    """Per article, over the closed cases of the period that used it; most used first."""
    conditions = _where(f, categories or {})
    a = CaseFactArticleRow
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(
                a.article_id,
                func.count(),
                _count(a.opened.is_(True)),
                _count(and_(a.resolved.is_(True), CaseFactRow.status == "resolved")),
                _count(CaseFactRow.status == "escalated"),
                _count(CaseFactRow.status == "unresolved"),
                _count(CaseFactRow.repeat.is_(True)),
            )
            .join(CaseFactRow, CaseFactRow.case_id == a.case_id)
            .where(*conditions)
            .group_by(a.article_id)
        ).all()
        medians = _ranked(session, conditions, a.article_id, join_articles=True)
        flags = dict(
            session.execute(
                select(ArticleFlagRow.article_id, func.count())
                .where(ArticleFlagRow.at >= f.start, ArticleFlagRow.at < f.end)
                .group_by(ArticleFlagRow.article_id)
            ).all()
        )
    found = []
    for article_id, used, opened, resolved_with, escalated, unresolved, repeats in rows:
        used, resolved_with, escalated, repeats = (
            int(used),
            int(resolved_with or 0),
            int(escalated or 0),
            int(repeats or 0),
        )
        found.append(
            ArticleFigures(
                article_id,
                used,
                int(opened or 0),
                resolved_with,
                escalated,
                int(unresolved or 0),
                repeats,
                medians.get(article_id, (None, None))[0],
                flags.get(article_id, 0),
                Rate(resolved_with, used),
                Rate(escalated, used),
                Rate(repeats, used),
            )
        )
    return sorted(found, key=lambda x: (-x.used, x.article_id))


@dataclass(frozen=True)
class StepFigures:
    article_id: str
    step: int
    resolved: int  # closed cases whose last ticked step (before closing) was this one, by outcome
    escalated: int
    unresolved: int
    highlight: bool = False  # the step of this article after which most escalations happen


def per_step(engine: Engine, f: Filters, categories: dict[str, str] | None = None) -> dict[str, list[StepFigures]]:
    """For each article, how often each step was the last one ticked before the case ended, by outcome."""
    conditions = _where(f, categories or {})
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(
                CaseFactRow.last_step_article,
                CaseFactRow.last_step,
                _count(CaseFactRow.status == "resolved"),
                _count(CaseFactRow.status == "escalated"),
                _count(CaseFactRow.status == "unresolved"),
            )
            .where(*conditions, CaseFactRow.last_step.is_not(None))
            .group_by(CaseFactRow.last_step_article, CaseFactRow.last_step)
            .order_by(CaseFactRow.last_step_article, CaseFactRow.last_step)
        ).all()
    by_article: dict[str, list[StepFigures]] = defaultdict(list)
    for article_id, step, resolved, escalated, unresolved in rows:
        by_article[article_id].append(
            StepFigures(article_id, step, int(resolved or 0), int(escalated or 0), int(unresolved or 0))
        )
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


def _groups(engine: Engine, f: Filters, categories, key, join_articles: bool = False) -> list[GroupFigures]:
    conditions = _where(f, categories or {})
    with db.session_scope(engine, readonly=True) as session:
        query = select(
            key,
            func.count(),
            _count(CaseFactRow.status == "resolved"),
            _count(CaseFactRow.status == "escalated"),
            _count(FCR),
        ).where(*conditions)
        if join_articles:
            query = query.join(CaseFactArticleRow, CaseFactArticleRow.case_id == CaseFactRow.case_id)
        rows = session.execute(query.group_by(key)).all()
        medians = _ranked(session, conditions, key, join_articles=join_articles)
    found = [
        GroupFigures(
            name,
            int(n),
            Rate(int(r or 0), int(n)),
            Rate(int(e or 0), int(n)),
            Rate(int(fcr or 0), int(n)),
            medians.get(name, (None, None))[0],
        )
        for name, n, r, e, fcr in rows
    ]
    return sorted(found, key=lambda g: (-g.closed, g.name or ""))


def per_agent_team(engine: Engine, f: Filters, categories: dict[str, str] | None = None) -> list[GroupFigures]:
    """Per agent team (never per named agent)."""
    return _groups(engine, f, categories, CaseFactRow.agent_team)


def per_escalation_team(
    engine: Engine, f: Filters, categories: dict[str, str] | None = None
) -> list[tuple[str, int, float]]:
    """(team, escalations, share of all closed cases), most escalations first."""
    conditions = _where(f, categories or {})
    with db.session_scope(engine, readonly=True) as session:
        closed = session.scalar(select(func.count()).select_from(CaseFactRow).where(*conditions)) or 0
        rows = session.execute(
            select(CaseFactRow.escalation_team, func.count())
            .where(*conditions, CaseFactRow.status == "escalated")
            .group_by(CaseFactRow.escalation_team)
        ).all()
    rows = sorted(rows, key=lambda r: (-r[1], r[0] or ""))
    return [(team, int(n), n / closed) for team, n in rows] if closed else []


def per_category(engine: Engine, f: Filters, categories: dict[str, str]) -> list[GroupFigures]:
    """Per category of the articles a case used (a case using two categories counts in both; none: 'none')."""
    conditions = _where(f, categories or {})
    names = sorted(set(categories.values()))
    category = (
        case(
            *[
                (CaseFactArticleRow.article_id.in_(sorted(a for a, c in categories.items() if c == n)), n)
                for n in names
            ],
            else_="none",
        )
        if names
        else literal("none")
    )
    pairs = (
        select(CaseFactArticleRow.case_id.label("case_id"), category.label("cat"))
        .join(CaseFactRow, CaseFactRow.case_id == CaseFactArticleRow.case_id)
        .where(*conditions)
        .distinct()
        .subquery()
    )
    found = []
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(
                pairs.c.cat,
                func.count(),
                _count(CaseFactRow.status == "resolved"),
                _count(CaseFactRow.status == "escalated"),
                _count(FCR),
            )
            .join(CaseFactRow, CaseFactRow.case_id == pairs.c.case_id)
            .group_by(pairs.c.cat)
        ).all()
        unlinked = session.execute(
            select(
                func.count(),
                _count(CaseFactRow.status == "resolved"),
                _count(CaseFactRow.status == "escalated"),
                _count(FCR),
            ).where(*conditions, CaseFactRow.linked.is_(False))
        ).one()
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for name, n, r, e, fcr in [*rows, ("none", *unlinked)]:
        for i, value in enumerate((n, r, e, fcr)):
            totals[name][i] += int(value or 0)
    for name, (n, r, e, fcr) in totals.items():
        if n:
            found.append(GroupFigures(name, n, Rate(r, n), Rate(e, n), Rate(fcr, n), None))
    return sorted(found, key=lambda g: (-g.closed, g.name or ""))


@dataclass(frozen=True)
class Week:
    start: date
    closed: int
    fcr_rate: float | None
    escalation_rate: float | None
    link_rate: float | None


def weekly(engine: Engine, f: Filters, categories: dict[str, str] | None = None) -> list[Week]:
    """Per week (Monday to Sunday) of the period: cases closed, FCR, escalation rate, link rate."""
    conditions = _where(f, categories or {})
    with db.session_scope(engine, readonly=True) as session:
        days = session.execute(
            select(
                CaseFactRow.closed_day,
                func.count(),
                _count(FCR),
                _count(CaseFactRow.status == "escalated"),
                _count(CaseFactRow.linked.is_(True)),
            )
            .where(*conditions)
            .group_by(CaseFactRow.closed_day)
        ).all()
    first = f.since - timedelta(days=f.since.weekday())
    weeks = {first + timedelta(weeks=n): [0, 0, 0, 0] for n in range((f.until - first).days // 7 + 1)}
    for day, n, fcr, escalated, linked in days:
        d = date.fromisoformat(day)
        totals = weeks.setdefault(d - timedelta(days=d.weekday()), [0, 0, 0, 0])
        for i, value in enumerate((n, fcr, escalated, linked)):
            totals[i] += int(value or 0)
    return [
        Week(start, n, _share(fcr, n), _share(escalated, n), _share(linked, n))
        for start, (n, fcr, escalated, linked) in sorted(weeks.items())
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


DRILL = {
    "closed": (),
    "resolved": (CaseFactRow.status == "resolved",),
    "escalated": (CaseFactRow.status == "escalated",),
    "unresolved": (CaseFactRow.status == "unresolved",),
    "known_outage": (CaseFactRow.status == "known_outage",),
    "fcr": (FCR,),
    "repeat": (CaseFactRow.repeat.is_(True),),
    "linked": (CaseFactRow.linked.is_(True),),
    "unlinked": (CaseFactRow.linked.is_(False),),
}


def drill_down(
    engine: Engine, f: Filters, metric: str, categories=None, *, article: str | None = None, limit: int | None = None
) -> list[CaseFact]:
    """The cases behind a figure: closed, resolved, escalated, unresolved, known_outage, fcr, repeat, linked,
    unlinked."""
    if metric not in DRILL:
        raise InvalidInput("metric", f"Choose one of {', '.join(DRILL)}.")
    where = list(DRILL[metric])
    if article is not None:
        where.append(
            CaseFactRow.case_id.in_(select(CaseFactArticleRow.case_id).where(CaseFactArticleRow.article_id == article))
        )
    return closed_cases(engine, f, categories, where=where, limit=limit)


def count_cases(engine: Engine, f: Filters, metric: str, categories=None, *, article: str | None = None) -> int:
    where = list(DRILL.get(metric, ()))
    if article is not None:
        where.append(
            CaseFactRow.case_id.in_(select(CaseFactArticleRow.case_id).where(CaseFactArticleRow.article_id == article))
        )
    with db.session_scope(engine, readonly=True) as session:
        return (
            session.scalar(select(func.count()).select_from(CaseFactRow).where(*_where(f, categories or {}), *where))
            or 0
        )


def outage_linked_cases(engine: Engine, f: Filters, categories: dict[str, str] | None = None) -> int:
    """Closed cases of the period (the period rule and the filters as for every closed-case figure)
    that are linked to an outage: closed as a known outage with it, or reopened after a still-broken
    callback and closed again."""
    with db.session_scope(engine, readonly=True) as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(CaseFactRow)
                .join(CaseRow, CaseRow.id == CaseFactRow.case_id)
                .where(*_where(f, categories or {}), CaseRow.outage_id.is_not(None))
            )
            or 0
        )


def outages(engine: Engine, f: Filters) -> list[OutageFigures]:
    """The figures of every outage whose window (start to fix, or to now) overlaps the period,
    newest start first; each over the whole outage, not only its part in the period."""
    return outage_figures.in_period(engine, f.start, f.end)


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
    outage_linked_cases: int = 0
    outages: list[OutageFigures] = field(default_factory=list)


def report(engine: Engine, f: Filters, categories: dict[str, str] | None = None, *, articles: bool = True) -> Report:
    """Every section of the analytics page for the period (`articles=False`: without the per-article part)."""
    categories = categories or {}
    return Report(
        f,
        headline(engine, f, categories),
        headline(engine, f.previous(), categories),
        per_article(engine, f, categories) if articles else [],
        per_step(engine, f, categories) if articles else {},
        per_agent_team(engine, f, categories),
        per_escalation_team(engine, f, categories),
        per_category(engine, f, categories),
        weekly(engine, f, categories),
        top_gap_queries(engine, f),
        outage_linked_cases(engine, f, categories),
        outages(engine, f),
    )
