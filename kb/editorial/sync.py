"""Keeping one server's search index in line with what is published in the shared database.

Every app server has its own index folder; the database has the published articles. Each server
process runs an `IndexSync` thread that polls the newest publication id (one indexed query, every
POLL_SECONDS) and, when it changed, rebuilds the index from the published texts: incrementally,
since the embedding cache in the index folder gives back every chunk that did not change, so a
publish embeds only the edited article's chunks. The build is serialised by the folder's lock, so
the workers of one server build once between them (the others find the bundle up to date). The
new bundle is published atomically (a renamed pointer) and every process's Searcher picks it up
on its next search; a search in flight keeps the bundle it started with. A build that fails
(a lint error cannot reach here, but a full disk or a broken model can) leaves the previous
bundle live and is tried again on the next poll.

`wake()` makes the thread check at once (the server where an editor just published), and
`wait_for(seq)` lets that request wait until this server serves the publication.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kb.editorial.documents import mark_searchable, publication_seq, published_articles
from kb.store import engine as db

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


class IndexSync:
    def __init__(
        self,
        services,
        index_root: Path,
        embedder: Callable[[], object],
        poll_seconds: float = POLL_SECONDS,
        on_built: Callable[[], None] | None = None,
    ):
        self._services = services  # anything with an `engine` attribute, read when needed
        self.index_root = Path(index_root)
        self._embedder = embedder  # called when a build is needed: the searcher's embedder
        self.poll_seconds = poll_seconds
        self._on_built = on_built  # e.g. the searcher's refresh, so this process serves the bundle at once
        self.seen = -1  # the publication this process's index reflects (-1: not checked yet)
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self.after_first_check: list[Callable[[], None]] = []  # e.g. warming the worklist's gap clusters

    def start(self) -> None:
        """Start the thread once per process (safe to call on every request)."""
        if self._stopped or (self._thread is not None and self._thread.is_alive()):
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="index-sync", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """End the thread after its current round (tests; a server process just exits)."""
        self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self.start()
        self._wake.set()

    def wait_for(self, seq: int, timeout: float) -> bool:
        """Block until this process's index reflects publication `seq` (True), or `timeout` seconds pass."""
        self.wake()
        deadline = time.monotonic() + timeout
        with self._done:
            while self.seen < seq:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(left)
        return True

    def check(self) -> bool:
        """Rebuild if a publication happened since the last check; True when a build ran."""
        from kb.search.bundle import build_index

        engine = self._services.engine
        seq = publication_seq(engine)
        if seq == self.seen:
            return False
        articles = published_articles(engine)
        if not articles:  # nothing imported yet: leave whatever index there is
            self._seen(seq)
            return False
        report = build_index(None, self.index_root, self._embedder(), articles=articles)
        if self._on_built is not None:
            self._on_built()
        mark_searchable(engine, {(a.id, a.lang): a.revision for a in articles}, db.utcnow())
        if not report.skipped:
            log.info(
                "index: publication %d is searchable (%d articles, %d chunks embedded, %.2f s)",
                seq,
                report.articles,
                report.embedded,
                report.seconds,
            )
        self._seen(seq)
        return not report.skipped

    def _seen(self, seq: int) -> None:
        with self._done:
            self.seen = seq
            self.last_error = None
            self._done.notify_all()

    def _run(self) -> None:
        first = True
        while not self._stopped:
            self._wake.clear()
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - the previous bundle stays live; try again next poll
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("index: could not rebuild from the published articles: %s", self.last_error)
            if first:
                first = False
                for task in self.after_first_check:
                    try:
                        task()
                    except Exception as exc:  # noqa: BLE001 - a warm-up only saves time later
                        log.warning("warm-up task failed: %s", type(exc).__name__)
            self._wake.wait(self.poll_seconds)
