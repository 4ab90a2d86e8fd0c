"""The editors' worklist: what to fix or write next, from the case log and the agents' signals.

- open flags on articles (kb.editorial.flags), oldest first;
- content gaps: searches agents flagged and searches whose best match was weak, clustered on
  their embeddings so near-duplicates ("wifi printer offline", "printer via wifi weg") are one
  gap with a count, example queries and the cases they came from;
- cases that ended unresolved or escalated without any article opened (candidate new articles);
- articles whose use is followed by escalation or callback more often than a threshold;
- articles not reviewed in `review_days`, and texts waiting for review.

Everything reads a window of recent data (`days`), so the page stays fast on a large case log;
each query uses an index on time or status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, and_, case, exists, func, select

from kb.editorial.documents import docs as all_docs
from kb.store import engine as db
from kb.store.tables import CaseEventRow, CaseRow, ContentGapRow

GAP_EXAMPLES = 5


@dataclass(frozen=True)
class GapCluster:
    label: str
    count: int
    flagged: int  # how many of them an agent flagged (the rest were weak searches)
    examples: tuple[str, ...] = field(repr=False)
    case_ids: tuple[int, ...]
    last_at: datetime
    langs: tuple[str, ...]


@dataclass(frozen=True)
class CandidateCase:
    id: int
    status: str
    opened_at: datetime
    escalation_team: str | None
    problem: str = field(repr=False)


@dataclass(frozen=True)
class ArticleOutcome:
    article_id: str
    cases: int  # closed cases on which the article was opened
    escalated: int
    unresolved: int

    @property
    def rate(self) -> float:
        return (self.escalated + self.unresolved) / self.cases if self.cases else 0.0


@dataclass(frozen=True)
class StaleArticle:
    article_id: str
    lang: str
    title: str
    reviewed: date | None  # reviewed_at, else updated, from the published front matter
    days: int | None


# -- content gaps -------------------------------------------------------------------------------------


@dataclass
class _GapCache:
    key: tuple | None = None
    clusters: list[GapCluster] = field(default_factory=list)


_CACHE = _GapCache()


def gap_clusters(
    engine: Engine,
    embed: Callable[[list[str]], np.ndarray] | None,
    *,
    days: int = 90,
    limit: int = 20000,
    now: datetime | None = None,
) -> list[GapCluster]:
    """The recent gaps clustered, largest first. Gaps stored without an embedding (flagged ones) are
    embedded with `embed` once and the vector kept; without `embed` they cluster by their text only.
    The result is cached until a gap is added or changed."""
    from kb.search.clusters import cluster_queries

    since = (now or db.utcnow()) - timedelta(days=days)
    with db.session_scope(engine, readonly=True) as session:
        key = session.execute(
            select(func.count(), func.max(ContentGapRow.id), func.max(ContentGapRow.at)).where(
                ContentGapRow.at >= since
            )
        ).one()
    if _CACHE.key == (str(engine.url), since.date(), *key):
        return _CACHE.clusters
    _fill_vectors(engine, embed, since)
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(
                ContentGapRow.query,
                ContentGapRow.lang,
                ContentGapRow.case_id,
                ContentGapRow.source,
                ContentGapRow.at,
                ContentGapRow.vector,
            )
            .where(ContentGapRow.at >= since, ContentGapRow.query != "")
            .order_by(ContentGapRow.id.desc())
            .limit(limit)
        ).all()
    rows = [r for r in rows if r.vector is not None and r.query != "[purged]"]
    if not rows:
        clusters: list[GapCluster] = []
    else:
        vectors = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows])
        clusters = []
        for found in cluster_queries([r.query for r in rows], vectors):
            members = [rows[i] for i in found.members]
            examples = list(dict.fromkeys(m.query for m in members))[:GAP_EXAMPLES]
            clusters.append(
                GapCluster(
                    found.label,
                    len(members),
                    sum(m.source == "flagged" for m in members),
                    tuple(examples),
                    tuple(sorted({m.case_id for m in members if m.case_id}, reverse=True))[:10],
                    max(m.at for m in members),
                    tuple(sorted({m.lang for m in members if m.lang})),
                )
            )
    _CACHE.key, _CACHE.clusters = (str(engine.url), since.date(), *key), clusters
    return clusters


def _fill_vectors(engine: Engine, embed, since: datetime, batch: int = 256) -> None:
    if embed is None:
        return
    with db.session_scope(engine, readonly=True) as session:
        missing = session.execute(
            select(ContentGapRow.id, ContentGapRow.query)
            .where(ContentGapRow.at >= since, ContentGapRow.vector.is_(None), ContentGapRow.query != "[purged]")
            .limit(5000)
        ).all()
    for start in range(0, len(missing), batch):
        part = missing[start : start + batch]
        vectors = np.asarray(embed([q for _, q in part]), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1, norms)
        with db.session_scope(engine) as session:
            for (gap_id, _), vector in zip(part, vectors, strict=True):
                row = session.get(ContentGapRow, gap_id)
                if row is not None:
                    row.vector = vector.astype(np.float32).tobytes()


# -- cases --------------------------------------------------------------------------------------------


def cases_without_article(engine: Engine, *, days: int = 90, limit: int = 50) -> tuple[int, list[CandidateCase]]:
    """(how many, the newest `limit`) cases closed unresolved or escalated on which no article was opened."""
    since = db.utcnow() - timedelta(days=days)
    used = exists().where(CaseEventRow.case_id == CaseRow.id, CaseEventRow.kind.in_(("article_opened", "step_ticked")))
    where = and_(CaseRow.status.in_(("unresolved", "escalated")), CaseRow.opened_at >= since, ~used)
    with db.session_scope(engine, readonly=True) as session:
        total = session.scalar(select(func.count()).select_from(CaseRow).where(where)) or 0
        rows = session.execute(
            select(CaseRow.id, CaseRow.status, CaseRow.opened_at, CaseRow.escalation_team, CaseRow.problem)
            .where(where)
            .order_by(CaseRow.opened_at.desc(), CaseRow.id.desc())
            .limit(limit)
        ).all()
    return total, [CandidateCase(*row) for row in rows]


def article_outcomes(engine: Engine, *, days: int = 90) -> list[ArticleOutcome]:
    """Per article: closed cases (of the last `days`) on which it was opened, and how many of those
    were escalated or closed unresolved / callback."""
    since = db.utcnow() - timedelta(days=days)
    pairs = (
        select(CaseEventRow.article_id.label("article_id"), CaseEventRow.case_id.label("case_id"))
        .join(CaseRow, CaseRow.id == CaseEventRow.case_id)
        .where(
            CaseEventRow.kind == "article_opened",
            CaseRow.opened_at >= since,
            CaseRow.status != "open",
        )
        .distinct()
        .subquery()
    )
    query = (
        select(
            pairs.c.article_id,
            func.count(),
            func.sum(case((CaseRow.status == "escalated", 1), else_=0)),
            func.sum(case((CaseRow.status == "unresolved", 1), else_=0)),
        )
        .join(CaseRow, CaseRow.id == pairs.c.case_id)
        .group_by(pairs.c.article_id)
    )
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(query).all()
    return [ArticleOutcome(a, int(n), int(e or 0), int(u or 0)) for a, n, e, u in rows]


def often_escalated(
    engine: Engine, *, threshold: float = 0.5, min_cases: int = 5, days: int = 90
) -> list[ArticleOutcome]:
    """Articles followed by escalation or callback in more than `threshold` of at least `min_cases` cases."""
    found = [o for o in article_outcomes(engine, days=days) if o.cases >= min_cases and o.rate > threshold]
    return sorted(found, key=lambda o: (-o.rate, -o.cases, o.article_id))


# -- articles -----------------------------------------------------------------------------------------


def not_reviewed(engine: Engine, *, review_days: int = 180, today: date | None = None) -> list[StaleArticle]:
    """Published articles whose reviewed_at (else updated) is more than `review_days` ago, oldest first."""
    from kb.content.articles import parse_article

    today = today or db.utcnow().date()
    found = []
    for doc in all_docs(engine):
        if doc.published is None:
            continue
        article = parse_article(doc.published.text, doc.path)
        stamp = article.get("reviewed_at") or article.get("updated")
        try:
            reviewed = date.fromisoformat(str(stamp)[:10]) if stamp else None
        except ValueError:
            reviewed = None
        days = (today - reviewed).days if reviewed else None
        if reviewed is None or days > review_days:
            found.append(StaleArticle(doc.article_id, doc.lang, article.title, reviewed, days))
    return sorted(found, key=lambda s: (s.reviewed or date.min, s.article_id, s.lang))


def waiting(engine: Engine) -> tuple[list, list]:
    """(texts in review, drafts), each newest first."""
    found = all_docs(engine)
    in_review = sorted((d for d in found if d.status == "in_review"), key=lambda d: d.updated_at, reverse=True)
    drafts = sorted((d for d in found if d.status == "draft"), key=lambda d: d.updated_at, reverse=True)
    return in_review, drafts
