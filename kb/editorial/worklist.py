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

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

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
class _Cluster:
    label: str
    members: list  # the gap rows, most central first (new ones appended)
    total: np.ndarray  # the sum of the members' unit vectors


@dataclass
class _GapCache:
    key: tuple | None = None  # (database, window start, row count, newest id, newest time)
    since: datetime | None = None
    last_id: int = 0
    count: int = 0
    clusters: list[_Cluster] = field(default_factory=list)
    result: list[GapCluster] = field(default_factory=list)
    full_runs: int = 0  # how often everything was clustered again (tests and benchmarks read it)


_CACHE = _GapCache()
_LOCK = threading.Lock()
INCREMENTAL_SHARE = 0.2  # up to this share of new gaps is assigned to the clusters there are


def gap_clusters(
    engine: Engine,
    embed: Callable[[list[str]], np.ndarray] | None,
    *,
    days: int = 90,
    limit: int = 20000,
    now: datetime | None = None,
) -> list[GapCluster]:
    """The recent gaps clustered, largest first.

    Gaps stored without an embedding (flagged ones) are embedded with `embed` once and the vector
    kept. The clusters are kept in memory: new gaps are added to the nearest cluster whose mean
    similarity reaches the clustering threshold (the same test average linkage applies), or start
    their own; everything is clustered again when the window moved by a day, a gap was removed, or
    more than INCREMENTAL_SHARE of the gaps are new. So the page stays fast as gaps arrive.
    """
    since = ((now or db.utcnow()) - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    with _LOCK:
        with db.session_scope(engine, readonly=True) as session:
            key = session.execute(
                select(func.count(), func.max(ContentGapRow.id), func.max(ContentGapRow.at)).where(
                    ContentGapRow.at >= since
                )
            ).one()
        key = (str(engine.url), since, *key)
        if _CACHE.key == key:
            return _CACHE.result
        same_window = _CACHE.key is not None and _CACHE.key[:2] == key[:2]
        new_rows = _rows(engine, since, after=_CACHE.last_id, limit=limit) if same_window else None
        if (
            new_rows is not None
            and _CACHE.count + len(new_rows) == key[2]
            and len(new_rows) <= INCREMENTAL_SHARE * max(_CACHE.count, 1)
        ):
            _assign(new_rows)
        else:
            _fill_vectors(engine, embed, since)  # gaps stored before their embedding was kept
            _recluster(_rows(engine, since, limit=limit))
        _CACHE.key, _CACHE.since = key, since
        _CACHE.result = [_summary(c) for c in sorted(_CACHE.clusters, key=lambda c: (-len(c.members), c.label))]
        return _CACHE.result


def _rows(engine: Engine, since: datetime, *, after: int = 0, limit: int = 20000) -> list:
    with db.session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(
                ContentGapRow.id,
                ContentGapRow.query,
                ContentGapRow.lang,
                ContentGapRow.case_id,
                ContentGapRow.source,
                ContentGapRow.at,
                ContentGapRow.vector,
            )
            .where(ContentGapRow.at >= since, ContentGapRow.id > after)
            .order_by(ContentGapRow.id.desc())
            .limit(limit)
        ).all()
    return rows


def _usable(rows) -> list:
    return [r for r in rows if r.vector is not None and r.query not in ("", "[purged]")]


def _recluster(rows) -> None:
    from kb.search.clusters import cluster_queries

    _CACHE.full_runs += 1
    _CACHE.last_id = max((r.id for r in rows), default=_CACHE.last_id)
    _CACHE.count = len(rows)
    rows = _usable(rows)
    _CACHE.clusters = []
    if not rows:
        return
    vectors = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows])
    for found in cluster_queries([r.query for r in rows], vectors):
        members = [rows[i] for i in found.members]
        total = vectors[list(found.members)].sum(axis=0)
        _CACHE.clusters.append(_Cluster(found.label, members, total))


def _assign(rows) -> None:
    from kb.search.clusters import DEFAULT_THRESHOLD, clean_text

    _CACHE.last_id = max((r.id for r in rows), default=_CACHE.last_id)
    _CACHE.count += len(rows)
    for row in sorted(_usable(rows), key=lambda r: r.id):
        vector = np.frombuffer(row.vector, dtype=np.float32)
        best, best_score = None, DEFAULT_THRESHOLD
        for cluster in _CACHE.clusters:
            score = float(cluster.total @ vector) / len(cluster.members)
            if score >= best_score:
                best, best_score = cluster, score
        if best is None:
            _CACHE.clusters.append(_Cluster(clean_text(row.query), [row], vector.copy()))
        else:
            best.members.append(row)
            best.total = best.total + vector


def _summary(cluster: _Cluster) -> GapCluster:
    members = cluster.members
    examples = list(dict.fromkeys(m.query for m in members))[:GAP_EXAMPLES]
    return GapCluster(
        cluster.label,
        len(members),
        sum(m.source == "flagged" for m in members),
        tuple(examples),
        tuple(sorted({m.case_id for m in members if m.case_id}, reverse=True))[:10],
        max(m.at for m in members),
        tuple(sorted({m.lang for m in members if m.lang})),
    )


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


@lru_cache(maxsize=4096)
def _parsed(text: str, path: str):
    from kb.content.articles import parse_article

    return parse_article(text, path)


def not_reviewed(
    engine: Engine, *, review_days: int = 180, today: date | None = None, documents: list | None = None
) -> list[StaleArticle]:
    """Published articles whose reviewed_at (else updated) is more than `review_days` ago, oldest first."""
    today = today or db.utcnow().date()
    found = []
    for doc in documents if documents is not None else all_docs(engine):
        if doc.published is None:
            continue
        article = _parsed(doc.published.text, doc.path)
        stamp = article.get("reviewed_at") or article.get("updated")
        try:
            reviewed = date.fromisoformat(str(stamp)[:10]) if stamp else None
        except ValueError:
            reviewed = None
        days = (today - reviewed).days if reviewed else None
        if reviewed is None or days > review_days:
            found.append(StaleArticle(doc.article_id, doc.lang, article.title, reviewed, days))
    return sorted(found, key=lambda s: (s.reviewed or date.min, s.article_id, s.lang))


def waiting(engine: Engine, documents: list | None = None) -> tuple[list, list]:
    """(texts in review, drafts), each newest first."""
    found = documents if documents is not None else all_docs(engine)
    in_review = sorted((d for d in found if d.status == "in_review"), key=lambda d: d.updated_at, reverse=True)
    drafts = sorted((d for d in found if d.status == "draft"), key=lambda d: d.updated_at, reverse=True)
    return in_review, drafts
