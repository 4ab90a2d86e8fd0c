"""The hand-off outbox: a real local HTTP receiver that fails first, back-off, give-up, never the case."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kb.caselog.cases import escalate_case, get_case, open_case, timeline
from kb.caselog.handoff import build_handoff
from kb.errors import InvalidInput
from kb.integrations.webhook import LEASE, DeliveryReport, backoff, deliver_pending, list_deliveries, queue_handoff


class Receiver:
    """An HTTP server on 127.0.0.1 that answers POSTs with the given statuses in turn."""

    def __init__(self, statuses):
        self.statuses, self.requests = list(statuses), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, self.headers["Content-Type"], body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"try later")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(*statuses):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def escalated(engine, agent, clock):
    case = open_case(engine, agent.id, "phone", "KLANT-1", "no sync", "dsl")
    clock.advance(60)
    return escalate_case(engine, case.id, agent.id, "tier2", "exchange fault")


def snapshot(engine, case_id):
    return get_case(engine, case_id), timeline(engine, case_id)


def test_fails_first_then_succeeds_against_a_real_server(engine, escalated, clock, receiver):
    server = receiver(500)
    payload = build_handoff(engine, escalated.id).as_dict()
    queued = queue_handoff(engine, escalated.id, server.url, payload)
    assert (queued.status, queued.attempts, queued.next_attempt_at) == ("pending", 0, clock.now)
    before, t0 = snapshot(engine, escalated.id), clock.now

    assert deliver_pending(engine, now=t0) == DeliveryReport(retrying=1)
    [d] = list_deliveries(engine, case_id=escalated.id)
    assert (d.status, d.attempts, d.next_attempt_at) == ("pending", 1, t0 + timedelta(seconds=30))
    assert "HTTP Error 500" in d.last_error

    assert deliver_pending(engine, now=t0 + timedelta(seconds=29)) == DeliveryReport()  # not due yet
    assert len(server.requests) == 1

    assert deliver_pending(engine, now=t0 + timedelta(seconds=30)) == DeliveryReport(delivered=1)
    [d] = list_deliveries(engine)
    assert (d.status, d.attempts, d.delivered_at) == ("delivered", 2, t0 + timedelta(seconds=30))
    assert len(server.requests) == 2
    path, content_type, body = server.requests[-1]
    assert path == "/hook" and content_type.startswith("application/json")
    assert json.loads(body) == payload and json.loads(body)["customer_ref"] == "KLANT-1"
    assert deliver_pending(engine, now=t0 + timedelta(days=1)) == DeliveryReport()  # never sent twice
    assert snapshot(engine, escalated.id) == before


def test_gives_up_after_max_attempts_with_exponential_back_off(engine, escalated, clock):
    calls = []

    def broken(url, body):
        calls.append(url)
        raise ConnectionError("receiver is down")

    queue_handoff(engine, escalated.id, "https://tickets.example.com/hook", {"case": escalated.id})
    before, now = snapshot(engine, escalated.id), clock.now
    waits = []
    for attempt in range(1, 5):
        report = deliver_pending(engine, post=broken, now=now, max_attempts=4)
        [d] = list_deliveries(engine)
        assert d.attempts == attempt and d.last_error == "ConnectionError: receiver is down"
        if attempt < 4:
            assert report == DeliveryReport(retrying=1)
            waits.append((d.next_attempt_at - now).total_seconds())
            now = d.next_attempt_at
        else:
            assert report == DeliveryReport(failed=1) and d.status == "failed"
    assert waits == [30, 60, 120]
    assert deliver_pending(engine, post=broken, now=now + timedelta(days=7)) == DeliveryReport()
    assert len(calls) == 4
    assert snapshot(engine, escalated.id) == before


def test_connection_refused_is_recorded(engine, escalated, clock, receiver):
    server = receiver()
    url = server.url
    server.close()  # nothing listens there any more
    queue_handoff(engine, escalated.id, url, {"x": 1})
    assert deliver_pending(engine, now=clock.now) == DeliveryReport(retrying=1)
    [d] = list_deliveries(engine)
    assert d.last_error.startswith("URLError") and d.status == "pending"


def test_non_2xx_status_from_post_is_a_failure(engine, escalated, clock):
    queue_handoff(engine, escalated.id, "https://tickets.example.com/hook", {"x": 1})
    assert deliver_pending(engine, post=lambda url, body: 302, now=clock.now) == DeliveryReport(retrying=1)
    assert list_deliveries(engine)[0].last_error == "HTTP status 302"


def test_backoff_doubles_and_is_capped():
    assert [backoff(n).total_seconds() for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]


def test_each_delivery_is_posted_once_when_workers_race(engine, make_engines, escalated, clock):
    for n in range(6):
        queue_handoff(engine, escalated.id, f"https://tickets.example.com/hook/{n}", {"n": n})
    posted, lock = [], threading.Lock()

    def slow_post(url, body):
        time.sleep(0.02)
        with lock:
            posted.append(url)
        return 204

    engines = [engine, make_engines(), make_engines()]
    reports = []
    threads = [
        threading.Thread(target=lambda e=e: reports.append(deliver_pending(e, post=slow_post, now=clock.now)))
        for e in engines
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(posted) == sorted(f"https://tickets.example.com/hook/{n}" for n in range(6))
    assert sum(r.delivered for r in reports) == 6
    assert {d.status for d in list_deliveries(engine)} == {"delivered"}


def test_a_redirect_is_a_failure_not_a_delivery(engine, escalated, clock):
    """urllib would turn a redirected POST into a GET without the body; that must not count as delivered."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(("POST", self.path))
            self.send_response(301)
            self.send_header("Location", "/new-hook")
            self.end_headers()

        def do_GET(self):
            seen.append(("GET", self.path))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        queue_handoff(engine, escalated.id, f"http://127.0.0.1:{server.server_port}/hook", {"x": 1})
        assert deliver_pending(engine, now=clock.now) == DeliveryReport(retrying=1)
    finally:
        server.shutdown()
        server.server_close()
    [d] = list_deliveries(engine)
    assert seen == [("POST", "/hook")]
    assert d.status == "pending" and "redirected (HTTP 301)" in d.last_error and "/new-hook" in d.last_error


def test_a_delivery_whose_lease_ran_out_is_not_recorded_twice(engine, escalated, clock):
    """Worker A's receiver is so slow that A's lease runs out; worker B takes the delivery over.
    A's late answer must not overwrite B's outcome, and B must not see A's claim as still valid."""
    queue_handoff(engine, escalated.id, "https://tickets.example.com/hook", {"x": 1})
    calls = []

    def slow_then_ok(url, body):
        calls.append("A")
        # While A waits, the lease runs out and B delivers.
        clock.advance(LEASE.total_seconds() + 1)
        assert deliver_pending(engine, post=lambda u, b: calls.append("B") or 200, now=clock.now) == DeliveryReport(
            delivered=1
        )
        return 200

    assert deliver_pending(engine, post=slow_then_ok, now=clock.now) == DeliveryReport()  # A's outcome dropped
    [d] = list_deliveries(engine)
    assert calls == ["A", "B"] and d.status == "delivered" and d.attempts == 1


def test_a_delivery_goes_to_the_receiver_configured_now(engine, escalated, clock, receiver):
    old, new = receiver(), receiver()
    queue_handoff(engine, escalated.id, old.url, {"case_id": escalated.id})
    report = deliver_pending(engine, now=clock.now, url=new.url)  # KB_WEBHOOK_URL changed since
    assert report.delivered == 1 and old.requests == [] and len(new.requests) == 1
    assert list_deliveries(engine)[0].url == new.url


def test_plain_http_to_another_machine_is_refused_unless_allowed(engine, escalated, monkeypatch):
    with pytest.raises(InvalidInput, match="plain http to another machine"):
        queue_handoff(engine, escalated.id, "http://tickets.example.com/hook", {})
    for local in ("http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://[::1]:9/hook"):
        queue_handoff(engine, escalated.id, local, {})
    queue_handoff(engine, escalated.id, "https://tickets.example.com/hook", {})
    monkeypatch.setenv("KB_WEBHOOK_ALLOW_HTTP", "1")
    queue_handoff(engine, escalated.id, "http://tickets.example.com/hook", {})


def test_deliveries_are_signed_with_the_secret(monkeypatch):
    import hashlib
    import hmac

    from kb.integrations.webhook import SIGNATURE_HEADER, http_post

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.headers.get(SIGNATURE_HEADER), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        monkeypatch.setenv("KB_WEBHOOK_SECRET", "s3cret")
        assert http_post(url, b'{"case_id": 7}') == 204
        monkeypatch.delenv("KB_WEBHOOK_SECRET")
        assert http_post(url, b'{"case_id": 8}') == 204
    finally:
        server.shutdown()
        server.server_close()
    expected = "sha256=" + hmac.new(b"s3cret", b'{"case_id": 7}', hashlib.sha256).hexdigest()
    assert seen == [(expected, b'{"case_id": 7}'), (None, b'{"case_id": 8}')]


def test_the_outbox_row_commits_with_the_escalation(engine, agent, clock):
    from kb.integrations.webhook import outbox

    case = open_case(engine, agent.id, "phone", "K-9", "no sync since the storm", "dsl")
    escalate_case(engine, case.id, agent.id, "tier2", "exchange fault", outbox=outbox("https://tickets.example.com/h"))
    (delivery,) = list_deliveries(engine, case_id=case.id)
    assert delivery.status == "pending" and delivery.url == "https://tickets.example.com/h"
    # The payload is the hand-off of the escalated case, as committed.
    assert delivery.payload == json.loads(json.dumps(build_handoff(engine, case.id).as_dict()))
    assert delivery.payload["status"] == "escalated" and delivery.payload["team"] == "tier2"


def test_the_outbox_payload_is_in_the_hand_off_language_with_the_ids_kept(engine, agent, clock):
    from kb.integrations.webhook import outbox

    case = open_case(engine, agent.id, "phone", "K-9", "no sync since the storm", "unknown")
    escalate_case(
        engine, case.id, agent.id, "tier2", "exchange fault", outbox=outbox("https://t.example.com/h", language="en")
    )
    (delivery,) = list_deliveries(engine, case_id=case.id)
    assert delivery.payload == json.loads(json.dumps(build_handoff(engine, case.id, language="en").as_dict()))
    assert (delivery.payload["language"], delivery.payload["team"], delivery.payload["team_label"]) == (
        "en",
        "tier2",
        "Tier 2 (second line)",
    )
    assert (delivery.payload["connection_type"], delivery.payload["connection_type_label"]) == ("unknown", "Not known")


def test_an_escalation_whose_outbox_row_fails_is_not_committed(engine, agent, clock):
    case = open_case(engine, agent.id, "phone", "K-9", "no sync", "dsl")

    def broken(session, case_id):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        escalate_case(engine, case.id, agent.id, "tier2", "exchange fault", outbox=broken)
    assert get_case(engine, case.id).status == "open"
    assert "escalated" not in [e.kind for e in timeline(engine, case.id)]
    assert list_deliveries(engine, case_id=case.id) == []


def test_an_outbox_refuses_a_bad_address_before_any_escalation(engine, agent, clock, monkeypatch):
    from kb.integrations.webhook import outbox

    monkeypatch.delenv("KB_WEBHOOK_ALLOW_HTTP", raising=False)
    with pytest.raises(InvalidInput):
        outbox("http://tickets.example.com/h")
    with pytest.raises(InvalidInput) as refused:  # a hand-off language nobody reads, refused before it too
        outbox("https://tickets.example.com/h", language="de")
    assert refused.value.field == "language"
