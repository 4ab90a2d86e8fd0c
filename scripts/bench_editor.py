#!/usr/bin/env python3
"""Benchmarks of the editors' side, over real HTTP against the app on 127.0.0.1.

    .venv/bin/python scripts/bench_editor.py preview              # preview + lint round trip, p50/p95
    .venv/bin/python scripts/bench_editor.py publish              # publish -> searchable, one server and two
    .venv/bin/python scripts/bench_editor.py worklist             # 100,000 cases and 20,000 gaps
    .venv/bin/python scripts/bench_editor.py worklist --database-url postgresql+psycopg://...
    add --under-load to run a CPU-bound process beside it (this machine is shared; a server is never idle)

Each run prepares a throw-away instance: the shipped articles imported into a fresh database
(SQLite unless --database-url), the index built from it with the bundled model (the embedding cache
of ./index is copied in when there is one, so only changed chunks are embedded, as in production),
and the app served by Werkzeug's threaded server with the production settings (CSRF off: the
clients are scripts). Targets (issue 9): preview p95 <= 150 ms; publish to searchable <= 5 s on one
server and <= 10 s on two; worklist <= 1 s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_load import load  # noqa: E402 - the scripts' shared helper, next to this file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "bench password 123"


class Server:
    """The app on a free port, in this process; `client()` gives a signed-in HTTP client."""

    def __init__(self, folder: Path, database_url: str, embedder, *, sync: bool = True):
        from werkzeug.serving import make_server

        from kb.editorial import documents as docs
        from kb.search.bundle import build_index
        from kb.search.searcher import Searcher
        from webapp import create_app

        os.environ["KB_INSTANCE"] = str(folder / "instance")
        os.environ.setdefault("KB_SYNC_SECONDS", "0.5")
        index = folder / "index"
        cache = ROOT / "index" / "cache"
        if cache.is_dir() and not (index / "cache").exists():
            shutil.copytree(cache, index / "cache")
        self.app = create_app(
            {
                "SECRET_KEY": "bench",
                "WTF_CSRF_ENABLED": False,
                "KB_DATABASE_URL": database_url,
                "KB_INDEX": str(index),
                "KB_ARTICLES": str(ROOT / "articles"),
                "KB_INDEX_SYNC": sync,
            }
        )
        services = self.app.extensions["kb"]
        build_index(None, index, embedder, articles=docs.published_articles(services.engine))
        services.use_searcher(Searcher(index, embedder))
        if sync:
            self.app.extensions["kb_index_sync"].start()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def client(self, username: str) -> Client:
        return Client(self.port, username)


class Client:
    def __init__(self, port: int, username: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""
        status, _ = self.request("POST", "/auth/login", form={"username": username, "password": PASSWORD})
        assert status == 302, f"log-in failed: {status}"

    def request(self, method: str, path: str, *, form=None, json_body=None) -> tuple[int, bytes]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body, headers["Content-Type"] = urlencode(form), "application/x-www-form-urlencoded"
        elif json_body is not None:
            body, headers["Content-Type"] = json.dumps(json_body), "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie(header)
            for name, morsel in cookie.items():
                self.cookie = f"{name}={morsel.value}"
        return response.status, data


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


def prepare(folder: Path, database_url: str | None):
    from kb.editorial.documents import import_folder
    from kb.identity.users import create_user
    from kb.store.engine import make_engine, upgrade

    url = database_url or f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    import_folder(engine, ROOT / "articles")
    for name, role in (("editor", "editor"), ("editor2", "editor"), ("agent", "agent")):
        create_user(engine, name, PASSWORD, role)
    return url, engine


def bench_preview(args, folder: Path, embedder) -> dict:
    from kb.editorial.documents import get_doc

    url, engine = prepare(folder, args.database_url)
    server = Server(folder / "server", url, embedder, sync=False)
    client = server.client("editor")
    text = get_doc(engine, "dsl-no-sync", "en").head.text
    times = []
    with load(args.under_load):
        for n in range(args.requests):
            edited = text.replace("## Steps", f"## Steps\n\nEdit number {n}.\n", 1)
            started = time.perf_counter()
            status, data = client.request(
                "POST", "/editor/preview", json_body={"article_id": "dsl-no-sync", "lang": "en", "text": edited}
            )
            times.append((time.perf_counter() - started) * 1000)
            assert status == 200 and json.loads(data)["html"], status
    return {
        "benchmark": "preview + lint round trip (typical article, dsl-no-sync en)",
        "requests": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 95), 1),
        "target_p95_ms": 150,
    }


STEP = "Remove any splitter"  # dsl-no-sync (en), step 2: the edit changes this step, as editors do


def _publish_once(editor: Client, engine, word: str) -> None:
    """Change one step of dsl-no-sync (en) to mention `word`, save and publish it through the pages."""
    from kb.editorial.documents import get_doc

    doc = get_doc(engine, "dsl-no-sync", "en")
    text = doc.head.text
    start = text.index("2. ")
    end = text.index("\n", start)
    text = (
        text[:start] + f"2. Remove any splitter or {word} adapter between the wall socket and the modem." + text[end:]
    )
    status, _ = editor.request(
        "POST", "/editor/articles/dsl-no-sync/en/save", form={"text": text, "base_edit_id": doc.head.id}
    )
    assert status == 302, status
    status, _ = editor.request("POST", "/editor/articles/dsl-no-sync/en/publish")
    assert status == 302, status


def _found(client: Client, word: str) -> bool:
    status, data = client.request("POST", "/api/search", json_body={"query": f"{word} adapter"})
    return status == 200 and any(h["id"] == "dsl-no-sync" and word in json.dumps(h) for h in json.loads(data)["hits"])


def _rounds(editor, engine, clients, rounds: int) -> list[list[float]]:
    times = [[] for _ in clients]
    for n in range(rounds):
        word = f"zorblax{n}{random.randint(0, 10**6)}"
        started = time.perf_counter()
        _publish_once(editor, engine, word)
        for client, found in zip(clients, times, strict=True):
            while not _found(client, word):
                time.sleep(0.02)
            found.append(time.perf_counter() - started)
    return times


def bench_publish(args, folder: Path, embedder) -> dict:
    url, engine = prepare(folder, args.database_url)
    with load(args.under_load):
        first = Server(folder / "server-1", url, embedder)
        (one,) = _rounds(first.client("editor"), engine, [first.client("agent")], args.rounds)
        second = Server(folder / "server-2", url, embedder)
        first_again, two = _rounds(
            first.client("editor"), engine, [first.client("agent"), second.client("agent")], args.rounds
        )
    return {
        "benchmark": "an editor changes a step and publishes -> searchable (model loaded, 1 thread)",
        "rounds": len(one),
        "one_server_p50_s": round(statistics.median(one), 2),
        "one_server_max_s": round(max(one), 2),
        "two_servers_first_p50_s": round(statistics.median(first_again), 2),
        "two_servers_both_p50_s": round(statistics.median(two), 2),
        "two_servers_both_max_s": round(max(two), 2),
        "targets_s": {"one_server": 5, "two_servers": 10},
        "note": "both servers run in this process (one machine, 2 cores); separate machines would not share a CPU",
    }


def fill_case_log(engine, cases: int, gaps: int, dim: int) -> None:
    """Bulk rows: `cases` closed cases (with opened / article / close events) and `gaps` gap searches."""
    import numpy as np
    from sqlalchemy import insert

    from kb.editorial.documents import published_articles
    from kb.store.engine import utcnow
    from kb.store.tables import CaseEventRow, CaseRow, ContentGapRow, UserRow

    rng = random.Random(7)
    ids = sorted({a.id for a in published_articles(engine)})
    now = utcnow()
    with engine.begin() as conn:
        agent = conn.execute(UserRow.__table__.select().where(UserRow.username == "agent")).first().id
        batch = 5000
        for start in range(0, cases, batch):
            rows, events = [], []
            for n in range(start, min(cases, start + batch)):
                opened = now - __import__("datetime").timedelta(minutes=rng.randint(1, 60 * 24 * 80))
                status = rng.choices(["resolved", "escalated", "unresolved"], [6, 3, 1])[0]
                rows.append(
                    dict(
                        id=n + 1,
                        agent_id=agent,
                        channel="phone",
                        customer_ref=f"K-{n}",
                        problem=f"bench problem {n}",
                        connection_type="dsl",
                        status=status,
                        opened_at=opened,
                        closed_at=opened,
                        handle_seconds=300,
                        reopen_count=0,
                    )
                )
                events.append(dict(case_id=n + 1, actor_id=agent, at=opened, kind="opened"))
                if rng.random() < 0.8:
                    events.append(
                        dict(
                            case_id=n + 1,
                            actor_id=agent,
                            at=opened,
                            kind="article_opened",
                            article_id=rng.choice(ids),
                            lang="en",
                        )
                    )
                events.append(dict(case_id=n + 1, actor_id=agent, at=opened, kind=status))
            conn.execute(insert(CaseRow), rows)
            keys = ("case_id", "actor_id", "at", "kind", "article_id", "lang")  # executemany: the first row's columns
            conn.execute(insert(CaseEventRow), [{k: e.get(k) for k in keys} for e in events])
        centres = np.random.default_rng(3).normal(size=(400, dim)).astype(np.float32)
        noise = np.random.default_rng(4)
        for start in range(0, gaps, batch):
            rows = []
            for n in range(start, min(gaps, start + batch)):
                c = n % 400
                v = centres[c] + noise.normal(scale=0.35, size=dim).astype(np.float32)
                v /= np.linalg.norm(v)
                rows.append(
                    dict(
                        query=f"gap topic {c} variant {n}",
                        lang="en",
                        user_id=agent,
                        case_id=rng.randint(1, cases),
                        at=now - __import__("datetime").timedelta(minutes=rng.randint(1, 60 * 24 * 80)),
                        source="weak",
                        vector=v.tobytes(),
                    )
                )
            conn.execute(insert(ContentGapRow), rows)


def bench_worklist(args, folder: Path, embedder) -> dict:
    url, engine = prepare(folder, args.database_url)
    started = time.perf_counter()
    fill_case_log(engine, args.cases, args.gaps, embedder.dim)
    filled = time.perf_counter() - started
    server = Server(folder / "server", url, embedder, sync=False)
    editor = server.client("editor")
    cold, warm = [], []
    with load(args.under_load):
        for n in range(args.rounds):
            if n:  # a new gap: the clustering runs again (the worst case, every load)
                from kb.caselog.gaps import GapTable

                GapTable(engine).add_weak(f"new weak search {n}", "en", 1, None, None)
            started = time.perf_counter()
            status, page = editor.request("GET", "/editor/")
            cold.append(time.perf_counter() - started)
            assert status == 200 and b"Content gaps" in page, status
            started = time.perf_counter()
            editor.request("GET", "/editor/")
            warm.append(time.perf_counter() - started)
    return {
        "benchmark": f"editors' worklist with {args.cases:,} cases and {args.gaps:,} gap searches",
        "database": url.split(":")[0],
        "fill_seconds": round(filled, 1),
        "after_a_new_gap_p50_s": round(statistics.median(cold), 3),
        "after_a_new_gap_max_s": round(max(cold), 3),
        "unchanged_p50_s": round(statistics.median(warm), 3),
        "target_s": 1.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["preview", "publish", "worklist"])
    parser.add_argument("--under-load", action="store_true", help="a CPU-bound process runs beside it")
    parser.add_argument("--database-url", help="a database to use (default: a fresh SQLite file)")
    parser.add_argument("--requests", type=int, default=200, help="preview requests (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="publish or worklist rounds (default 5)")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--gaps", type=int, default=20_000)
    args = parser.parse_args()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from kb.search.embedding import load_embedder

    embedder = load_embedder(None)  # the query setting: one thread, as in each server process
    with tempfile.TemporaryDirectory(prefix="kb-bench-editor-") as tmp:
        result = {"preview": bench_preview, "publish": bench_publish, "worklist": bench_worklist}[args.what](
            args, Path(tmp), embedder
        )
    result["load"] = "one CPU-bound process beside it" if args.under_load else "idle"
    result["machine"] = f"{os.cpu_count()} cores"
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
