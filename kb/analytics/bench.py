"""`kb bench analytics`: the analytics figures over a large case log, timed.

The case log is generated with bulk inserts (not through the case-log functions, which would take
hours for 100,000 cases): realistic shapes (opened, searches, articles opened, steps ticked, the
closing event; resolutions; repeat contacts), marked as demo data, in a throw-away SQLite file or
the database given. Then the work of the analytics page for a 90-day period (`metrics.report`)
and the per-article CSV export are timed, p50 and p95 over a few runs.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert, select

from kb.analytics import metrics as m
from kb.analytics.export import to_csv
from kb.store import engine as db
from kb.store.tables import CaseEventRow, CaseResolutionRow, CaseRow, ContentGapRow, UserRow

ARTICLES = [f"article-{n:03d}" for n in range(120)]


def fill_bulk(engine: Engine, cases: int, *, days: int = 120, seed: int = 7, gaps: int = 0) -> None:
    """`cases` closed cases with their events, spread over the last `days` days, by bulk insert."""
    rng = random.Random(seed)
    now = db.utcnow()
    weights = [1 / (rank + 1) for rank in range(len(ARTICLES))]  # a few frequent drivers, a long tail
    with engine.begin() as conn:
        agents = []
        for n in range(12):
            result = conn.execute(
                insert(UserRow).values(
                    username=f"bench-agent-{n:02d}-{seed}",
                    password_hash="!",
                    role="agent",
                    display_name=f"Bench agent {n}",
                    team=("helpdesk-a", "helpdesk-b", "chat-desk")[n % 3],
                    is_active=False,
                    created_at=now,
                    session_generation=0,
                )
            )
            agents.append(result.inserted_primary_key[0])
        first = (conn.execute(select(CaseRow.id).order_by(CaseRow.id.desc()).limit(1)).scalar() or 0) + 1
        batch = 5000
        for start in range(0, cases, batch):
            rows, events, resolutions = [], [], []
            for n in range(start, min(cases, start + batch)):
                case_id = first + n
                opened = now - timedelta(minutes=rng.randint(10, days * 24 * 60))
                handle = int(rng.lognormvariate(6.3, 0.5))
                closed = opened + timedelta(seconds=handle)
                status = rng.choices(("resolved", "escalated", "unresolved"), (72, 19, 9))[0]
                agent = rng.choice(agents)
                ref = f"DEMO-{rng.randint(1, cases // 2):07d}"
                rows.append(
                    dict(
                        id=case_id,
                        agent_id=agent,
                        channel=rng.choices(("phone", "chat", "email"), (6, 3, 1))[0],
                        customer_ref=ref,
                        problem="bench problem",
                        connection_type="dsl",
                        status=status,
                        opened_at=opened,
                        closed_at=closed,
                        handle_seconds=handle,
                        escalation_team="tier2" if status == "escalated" else None,
                        reopen_count=0,
                        is_demo=True,
                    )
                )
                at = opened
                events.append(dict(case_id=case_id, actor_id=agent, at=at, kind="opened"))
                for _ in range(rng.randint(1, 3)):
                    weak = rng.random() < 0.1
                    data = json.dumps({"top_ids": [], "weak": weak})
                    events.append(dict(case_id=case_id, actor_id=agent, at=at, kind="search", text="q", data=data))
                article = None
                if rng.random() < 0.85:
                    article = rng.choices(ARTICLES, weights)[0]
                    events.append(
                        dict(
                            case_id=case_id, actor_id=agent, at=at, kind="article_opened", article_id=article, lang="nl"
                        )
                    )
                    for step in range(1, rng.randint(1, 6)):
                        events.append(
                            dict(
                                case_id=case_id,
                                actor_id=agent,
                                at=at,
                                kind="step_ticked",
                                article_id=article,
                                lang="nl",
                                step_number=step,
                            )
                        )
                events.append(dict(case_id=case_id, actor_id=agent, at=closed, kind=status))
                if status == "resolved" and article:
                    resolutions.append(dict(case_id=case_id, article_id=article))
            conn.execute(insert(CaseRow), rows)
            # executemany takes its columns from the first row: give every event every column.
            keys = ("case_id", "actor_id", "at", "kind", "article_id", "lang", "step_number", "text", "data")
            conn.execute(insert(CaseEventRow), [{k: e.get(k) for k in keys} for e in events])
            if resolutions:
                conn.execute(insert(CaseResolutionRow), resolutions)
        for start in range(0, gaps, batch):
            conn.execute(
                insert(ContentGapRow),
                [
                    dict(query=f"gap {n % 500}", lang="nl", at=now - timedelta(minutes=rng.randint(1, days * 1440)))
                    for n in range(start, min(gaps, start + batch))
                ],
            )


def _timed(fn, runs: int) -> dict:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    ordered = sorted(times)
    return {
        "p50_s": round(statistics.median(times), 3),
        "p95_s": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 3),
        "runs": runs,
    }


def run_analytics_bench(cases: int = 100_000, database_url: str | None = None, runs: int = 5, log=print) -> dict:
    from kb.store.engine import make_engine, upgrade

    with tempfile.TemporaryDirectory(prefix="kb-bench-analytics-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'analytics.db'}"
        engine = make_engine(url)
        upgrade(engine)
        if log:
            log(f"filling {cases:,} cases (bulk inserts) into {url.split(':')[0]} ...")
        started = time.perf_counter()
        fill_bulk(engine, cases, gaps=cases // 5)
        from kb.caselog.facts import rebuild

        rebuild(engine)  # the case facts a closing writes, computed for the bulk-loaded cases
        filled = time.perf_counter() - started
        today = date.today()
        period = m.Filters(today - timedelta(days=89), today)
        page = _timed(lambda: m.report(engine, period, articles=False), runs)
        articles_page = _timed(lambda: (m.per_article(engine, period), m.per_step(engine, period)), runs)

        def export() -> bytes:
            rows = m.per_article(engine, period)
            return to_csv(
                ["article_id", "used", "resolved_with", "resolution_rate"],
                [[a.article_id, a.used, a.resolved_with, a.resolution.value] for a in rows],
            )

        csv = _timed(export, runs)
        closed = m.headline(engine, period).cases_closed
        engine.dispose()
    return {
        "benchmark": "a 90-day period: the dashboard's figures, the per-article page, the per-article CSV",
        "database": url.split(":")[0],
        "cases": cases,
        "cases_closed_in_period": closed,
        "fill_seconds": round(filled, 1),
        "fill_method": "bulk inserts (the case-log functions would take hours for this many cases)",
        "dashboard": page,
        "per_article_and_step_page": articles_page,
        "per_article_csv": csv,
        "targets": {"dashboard_p95_s": 1.0, "csv_s": 2.0},
    }
