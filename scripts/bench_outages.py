#!/usr/bin/env python3
"""Known outages at scale (issue 15, item 7): 500 outages and 100,000 cases.

    .venv/bin/python scripts/bench_outages.py                      # SQLite, idle and next to a busy process
    .venv/bin/python scripts/bench_outages.py --database-url postgresql+psycopg://...   # a fresh schema there
    .venv/bin/python scripts/bench_outages.py --json

It builds a throw-away database (bulk inserts; the register's and case log's functions would take
long) with 500 outages over the last 180 days (active and historical, planned and unplanned; areas
like the NOC's: one to five four-digit areas, a street cabinet's 10 to 120 full postcodes, some with
node names) and 100,000 cases over 90 days, 70 % of them with a postcode, the calls from an
outage's areas during it linked to it now and then, some asking for a callback, most of the older
ones called back. Then it measures:

  matching   kb.outages.register.matching(engine, postcode, connection, services) per search, over
             --searches random callers (a third inside an active outage's area); target <= 2 ms added
  callbacks  kb.outages.callbacks.due(engine), and the worklist page: a Flask test-client GET of
             /outages/callbacks when the app has that route, else the rows rendered by a plain
             Jinja template; target <= 1 s
  figures    kb.outages.figures.in_period for the last 90 days (the analytics page's Outages section)

each idle and with scripts/cpu_load.py's busy process beside it (--no-load: idle only), with the
1-minute load average before each run (this machine is shared with other sessions).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_load import load  # noqa: E402 - the scripts' shared helper, next to this file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVICES = ("internet", "telephony", "tv", "email")
CONNECTIONS = ("fibre", "dsl", "cable")
LETTERS = "ABCDEFGHJKLMNPRTVWXZ"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def postcode(rng: random.Random, area: int | None = None) -> str:
    area = area or rng.randint(1000, 9999)
    return f"{area}{rng.choice(LETTERS)}{rng.choice(LETTERS)}"


def fill(engine, outages: int, cases: int, seed: int = 15) -> dict:
    """The outages (with areas and a creation entry each) and the cases, in bulk."""
    from sqlalchemy import insert, select

    from kb.identity.users import create_user
    from kb.store.tables import CaseRow, OutageAreaRow, OutageChangeRow, OutageRow, UserRow

    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    agents = [create_user(engine, f"agent{n}", "bench password 123", "agent", team="helpdesk-a").id for n in range(20)]
    create_user(engine, "noc", "bench password 123", "noc")
    outage_rows, area_rows, change_rows, plans = [], [], [], []
    for n in range(1, outages + 1):
        kind = rng.random()
        planned = rng.random() < 0.25
        if n <= 20:  # active now
            starts = now - timedelta(minutes=rng.randint(5, 60 * 30))
            status, fixed = rng.choice(("investigating", "identified")), None
        elif n <= 30:  # planned work still to come
            planned, starts = True, now + timedelta(hours=rng.randint(2, 24 * 14))
            status, fixed = "identified", None
        else:  # historical: fixed or closed; a few fixed in the last two days (their callbacks are due)
            starts = (
                now - timedelta(minutes=rng.randint(60 * 3, 60 * 24 * 180))
                if n > 45
                else now - timedelta(hours=rng.randint(4, 48))
            )
            fixed = min(now - timedelta(minutes=1), starts + timedelta(minutes=rng.randint(20, 60 * 12)))
            status = rng.choice(("fixed", "closed")) if n > 45 else "fixed"
        if planned:  # registered days ahead
            created = min(starts, now) - timedelta(days=rng.randint(1, 7))
        else:  # registered some minutes after it started, when the NOC noticed
            created = min(now, starts + timedelta(minutes=rng.randint(0, 90)))
        first = rng.randint(1000, 9990)
        if kind < 0.55:
            areas = [str(first + i) for i in range(rng.randint(1, 5))]
        elif kind < 0.9:
            areas = sorted({postcode(rng, first) for _ in range(rng.randint(10, 120))})
        else:
            areas = [str(first)] + [f"OLT-{first}-{i}" for i in range(rng.randint(1, 3))]
        services = rng.sample(SERVICES, rng.choice((1, 1, 2, 3)))
        connections = rng.sample(CONNECTIONS, rng.choice((0, 1, 1, 2)))
        outage_rows.append(
            dict(
                id=n,
                planned=planned,
                status=status,
                services=",".join(sorted(services, key=SERVICES.index)),
                connections=",".join(sorted(connections, key=CONNECTIONS.index)),
                starts_at=starts,
                expected_end=starts + timedelta(hours=rng.randint(1, 24)),
                fixed_at=fixed,
                message_nl=f"Storing {n}: we werken eraan.",
                message_en=f"Outage {n}: we are working on it.",
                notes="",
                created_at=created,
                created_by=None,
                updated_at=fixed or created,
            )
        )
        for value in areas:
            kind_name = "node" if value.startswith("OLT") else ("postcode" if len(value) == 6 else "area")
            area_rows.append(dict(outage_id=n, kind=kind_name, value=value))
        change_rows.append(dict(outage_id=n, at=created, actor_id=None, detail='{"created": true}'))
        plans.append((n, starts, fixed, [a for a in areas if not a.startswith("OLT")], status))
    # the cases: a share inside an outage's area and window (most calls come in during outages)
    case_rows = []
    history = [p for p in plans if now - timedelta(days=90) < p[1] < now]
    due = 0
    for n in range(1, cases + 1):
        opened = now - timedelta(minutes=rng.randint(1, 60 * 24 * 90))
        outage_id = None
        code = postcode(rng) if rng.random() < 0.7 else None
        if rng.random() < 0.15 and history:
            o_id, starts, fixed, areas, _ = rng.choice(history)
            if areas:
                end = fixed or now
                opened = starts + (end - starts) * rng.random()
                area = rng.choice(areas)
                code = area if len(area) == 6 else postcode(rng, int(area))
                outage_id = o_id if rng.random() < 0.6 else None
        closed = opened + timedelta(seconds=rng.randint(60, 1500))
        status = rng.choices(["resolved", "escalated", "unresolved"], [6, 3, 1])[0]
        callback, result, called = False, None, None
        if outage_id is not None:
            status, callback = "known_outage", rng.random() < 0.4
            fixed = plans[outage_id - 1][2]
            if callback and fixed is not None:
                if fixed < now - timedelta(days=2) or rng.random() < 0.3:
                    result = rng.choice(("restored", "restored", "restored", "still_broken"))
                    called = fixed + timedelta(minutes=rng.randint(5, 600))
                else:
                    due += 1
        if closed > now:
            status, closed = "open", None
        case_rows.append(
            dict(
                id=n,
                agent_id=rng.choice(agents),
                channel=rng.choice(("phone", "phone", "chat", "email")),
                customer_ref=f"K-{n}",
                problem=f"bench problem {n}",
                connection_type=rng.choice(CONNECTIONS),
                status=status,
                opened_at=opened,
                closed_at=closed,
                handle_seconds=int((closed - opened).total_seconds()) if closed else None,
                reopen_count=0,
                postcode=code,
                outage_id=outage_id,
                callback=callback,
                callback_result=result,
                called_back_at=called,
                is_demo=False,
            )
        )
    with engine.begin() as conn:
        conn.execute(insert(OutageRow), outage_rows)
        conn.execute(insert(OutageAreaRow), area_rows)
        conn.execute(insert(OutageChangeRow), change_rows)
        for start in range(0, len(case_rows), 5000):
            conn.execute(insert(CaseRow), case_rows[start : start + 5000])
        if engine.dialect.name == "postgresql":
            for table in ("outages", "outage_areas", "outage_changes", "cases"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
        users = conn.execute(select(UserRow.id)).all()
    active_areas = [
        a for n, s, f, areas, st in plans if st in ("investigating", "identified") and s <= now for a in areas
    ]
    return {
        "outages": outages,
        "active": sum(1 for p in plans if p[4] in ("investigating", "identified") and p[1] <= now),
        "planned_future": sum(1 for p in plans if p[1] > now),
        "area_rows": len(area_rows),
        "cases": cases,
        "with_postcode": sum(1 for c in case_rows if c["postcode"]),
        "linked": sum(1 for c in case_rows if c["outage_id"]),
        "callbacks_due": due,
        "users": len(users),
        "_active_areas": active_areas,
    }


def bench_matching(engine, active_areas: list[str], searches: int, seed: int = 3) -> dict:
    from kb.outages.register import matching

    rng = random.Random(seed)
    callers = []
    for n in range(searches):
        if n % 3 == 0 and active_areas:
            area = rng.choice(active_areas)
            code = area if len(area) == 6 else postcode(rng, int(area))
        else:
            code = postcode(rng)
        callers.append((code, rng.choice((*CONNECTIONS, "unknown")), rng.choice((None, ("internet",), ("tv",)))))
    for code, connection, services in callers[:50]:  # warm the connection pool and the statement cache
        matching(engine, code, connection, services)
    times, found = [], 0
    for code, connection, services in callers:
        started = time.perf_counter()
        match = matching(engine, code, connection, services)
        times.append((time.perf_counter() - started) * 1000)
        found += bool(match.here or match.near)
    no_postcode = []
    for _ in range(200):
        started = time.perf_counter()
        matching(engine, None)
        no_postcode.append((time.perf_counter() - started) * 1000)
    return {
        "searches": searches,
        "with_a_match": found,
        "p50_ms": round(statistics.median(times), 3),
        "p95_ms": round(percentile(times, 95), 3),
        "max_ms": round(max(times), 3),
        "no_postcode_p50_ms": round(statistics.median(no_postcode), 3),
        "no_postcode_p95_ms": round(percentile(no_postcode, 95), 3),
        "target_ms": 2.0,
    }


def _worklist_client(database_url: str, folder: Path):
    """A signed-in test client on the app when it has /outages/callbacks, else None."""
    os.environ["KB_INSTANCE"] = str(folder / "instance")
    from webapp import create_app

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "KB_DATABASE_URL": database_url,
            "KB_INDEX": str(folder / "no-index"),
            "KB_INDEX_SYNC": False,
        }
    )
    if not any(rule.rule == "/outages/callbacks" for rule in app.url_map.iter_rules()):
        return None
    from kb.identity.users import get_user

    client = app.test_client()
    user = get_user(app.extensions["kb"].engine, 1)
    now = int(time.time())
    with client.session_transaction() as session:
        session.update(user_id=user.id, gen=user.session_generation, signed_in_at=now, seen_at=now)
    return client


PLAIN = (
    "<table>{% for c in due %}<tr><td>{{ c.case_id }}</td><td>{{ c.outage_id }}</td><td>{{ c.agent_name }}</td>"
    "<td>{{ c.channel }}</td><td>{{ c.customer_ref }}</td><td>{{ c.closed_at }}</td><td>{{ c.fixed_at }}</td></tr>"
    "{% endfor %}</table>"
)


def bench_callbacks(engine, database_url: str, folder: Path, rounds: int) -> dict:
    from jinja2 import Template

    from kb.outages.callbacks import due

    due(engine)
    query, rendered, rows = [], [], 0
    template = Template(PLAIN, autoescape=True)
    for _ in range(rounds):
        started = time.perf_counter()
        found = due(engine)
        query.append(time.perf_counter() - started)
        started = time.perf_counter()
        template.render(due=found)
        rendered.append(query[-1] + time.perf_counter() - started)
        rows = len(found)
    result = {
        "rows": rows,
        "due_p50_s": round(statistics.median(query), 4),
        "due_max_s": round(max(query), 4),
        "due_plus_plain_jinja_p50_s": round(statistics.median(rendered), 4),
        "due_plus_plain_jinja_max_s": round(max(rendered), 4),
        "target_s": 1.0,
    }
    client = _worklist_client(database_url, folder)
    if client is not None:
        page = []
        client.get("/outages/callbacks")
        for _ in range(rounds):
            started = time.perf_counter()
            response = client.get("/outages/callbacks")
            page.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        result |= {
            "page": "GET /outages/callbacks (Flask test client, the app's own template)",
            "page_bytes": len(response.data),
            "page_p50_s": round(statistics.median(page), 4),
            "page_max_s": round(max(page), 4),
        }
    else:
        result["page"] = "no /outages/callbacks route in this app: the query plus a plain Jinja table only"
    return result


def bench_figures(engine, rounds: int) -> dict:
    from kb.outages.figures import in_period

    end = datetime.now(UTC)
    start = end - timedelta(days=90)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        found = in_period(engine, start, end)
        times.append(time.perf_counter() - started)
    return {
        "outages_in_90_days": len(found),
        "linked": sum(f.linked_cases for f in found),
        "calls_before_registration": sum(f.calls_before_registration for f in found),
        "p50_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
    }


def run(args, folder: Path, database_url: str) -> dict:
    from kb.store.engine import make_engine, upgrade

    engine = make_engine(database_url)
    upgrade(engine)
    started = time.perf_counter()
    data = fill(engine, args.outages, args.cases)
    data["fill_seconds"] = round(time.perf_counter() - started, 1)
    active_areas = data.pop("_active_areas")
    results = {"database": engine.dialect.name, "data": data, "runs": {}}
    for loaded in (False, True) if args.under_load else (False,):
        with load(loaded):
            results["runs"]["loaded" if loaded else "idle"] = {
                "load_average_1min_before": round(os.getloadavg()[0], 2),
                "matching": bench_matching(engine, active_areas, args.searches),
                "callbacks": bench_callbacks(engine, database_url, folder, args.rounds),
                "figures": bench_figures(engine, max(3, args.rounds // 4)),
                "load_average_1min_after": round(os.getloadavg()[0], 2),
            }
    engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url", help="a PostgreSQL URL: the benchmark uses a fresh schema there, dropped after"
    )
    parser.add_argument("--outages", type=int, default=500)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=2000, help="matching calls per run (at least 1000)")
    parser.add_argument("--rounds", type=int, default=20, help="worklist rounds per run")
    parser.add_argument("--no-load", dest="under_load", action="store_false", help="idle only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outages-") as tmp:
        folder = Path(tmp)
        schema = None
        if args.database_url:
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url

            schema = f"bench_{uuid.uuid4().hex[:12]}"
            admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            url = make_url(args.database_url).update_query_dict({"options": f"-csearch_path={schema}"})
            database_url = url.render_as_string(hide_password=False)
        else:
            database_url = f"sqlite:///{folder / 'bench.db'}"
        try:
            results = run(args, folder, database_url)
        finally:
            if schema:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                admin.dispose()
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    results["date"] = datetime.now(UTC).isoformat(timespec="minutes")
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{results['database']} on {results['machine']}, {results['date']}; data: {results['data']}")
    for name, run_ in results["runs"].items():
        m, c, f = run_["matching"], run_["callbacks"], run_["figures"]
        print(f"{name} (load average {run_['load_average_1min_before']} -> {run_['load_average_1min_after']}):")
        print(
            f"  matching: p50 {m['p50_ms']} ms, p95 {m['p95_ms']} ms, max {m['max_ms']} ms over {m['searches']}"
            f" callers ({m['with_a_match']} with a match); no postcode p50 {m['no_postcode_p50_ms']} ms (target 2 ms)"
        )
        print(
            f"  callbacks: due() p50 {c['due_p50_s']} s ({c['rows']} rows), + plain Jinja p50"
            f" {c['due_plus_plain_jinja_p50_s']} s; page {c.get('page_p50_s', '-')} s p50, max"
            f" {c.get('page_max_s', '-')} s (target 1 s)"
        )
        print(f"  figures, 90 days: {f['outages_in_90_days']} outages, p50 {f['p50_s']} s, max {f['max_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
