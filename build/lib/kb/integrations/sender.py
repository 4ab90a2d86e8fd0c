"""Sends queued hand-off notifications (kb.integrations.webhook's outbox) from a background thread of each worker.

The thread starts on the first request a worker serves (after gunicorn's fork, never before),
and only when KB_WEBHOOK_URL is set. It delivers what is due, then sleeps until the next retry
is due (at most POLL_SECONDS, so deliveries queued by other workers are picked up too); an
escalation wakes it at once. Delivery rows are claimed with a lease, so several workers never
send the same notification twice at the same time.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import func, select

from kb.store import engine as db

log = logging.getLogger(__name__)

POLL_SECONDS = 30.0


class Notifier:
    def __init__(self, services, enabled: bool, poll_seconds: float = POLL_SECONDS, url: str | None = None):
        self._services = services  # anything with an `engine` attribute, read when needed
        self.url = url  # the receiver configured now: queued deliveries go here
        self.enabled = enabled
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the sender thread once per process (safe to call on every request)."""
        if not self.enabled or (self._thread is not None and self._thread.is_alive()):
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="handoff-webhook", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """Send now: called right after a hand-off is queued."""
        self.start()
        self._wake.set()

    def _run(self) -> None:
        from kb.integrations.webhook import deliver_pending

        while True:
            self._wake.clear()
            try:
                report = deliver_pending(self._services.engine, url=self.url)
                if report.delivered or report.retrying or report.failed:
                    log.info(
                        "hand-off webhook: %d delivered, %d to retry, %d failed",
                        report.delivered,
                        report.retrying,
                        report.failed,
                    )
            except Exception:  # noqa: BLE001 - the database may be briefly away; try again later
                log.exception("hand-off webhook: delivery round failed")
            self._wake.wait(self._next_wait())

    def _next_wait(self) -> float:
        from kb.store.tables import WebhookDeliveryRow

        try:
            with db.session_scope(self._services.engine, readonly=True) as session:
                due = session.scalar(
                    select(func.min(WebhookDeliveryRow.next_attempt_at)).where(WebhookDeliveryRow.status == "pending")
                )
        except Exception:  # noqa: BLE001
            return self.poll_seconds
        if due is None:
            return self.poll_seconds
        wait = (due - db.utcnow()) / timedelta(seconds=1)
        return min(max(wait, 0.5), self.poll_seconds)
