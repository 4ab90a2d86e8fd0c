"""The app's heavy parts (database engine, embedding model, searcher, article snapshot), created lazily and once.

In `kb serve` each gunicorn worker loads the model after fork, on first use or in its
post-fork hook, so workers never share torch state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Services:
    articles_root: Path
    index_root: Path
    model: str | None
    database_url: str
    _searcher: object = None
    _embedder: object = None
    _engine: object = None
    _snapshot: object = None
    _snapshot_path: Path | None = None
    _snapshot_failed: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_config(cls, config) -> Services:
        return cls(
            Path(config["KB_ARTICLES"]), Path(config["KB_INDEX"]), config.get("KB_MODEL"), config["KB_DATABASE_URL"]
        )

    @property
    def searcher(self):
        """The Searcher over the published bundle; loads the model on first use."""
        if self._searcher is None:
            with self._lock:
                if self._searcher is None:
                    from kb.search.searcher import Searcher

                    self._searcher = Searcher(self.index_root, self._load_embedder())
        return self._searcher

    @property
    def embedder(self):
        """The query embedder (the searcher's, or loaded alone when there is no index to search yet)."""
        if self._searcher is not None:
            return self._searcher.embedder
        with self._lock:
            return self._load_embedder()

    def _load_embedder(self):
        if self._embedder is None:
            from kb.search.embedding import load_embedder

            self._embedder = load_embedder(self.model)
        return self._embedder

    @property
    def searcher_loaded(self) -> bool:
        return self._searcher is not None

    def use_searcher(self, searcher) -> None:
        """Inject a searcher (tests use one with a fake embedder)."""
        self._searcher = searcher

    def snapshot(self):
        """The published article texts (kb.content.revisions.Snapshot) that search uses.

        With the searcher loaded it is the searcher's own bundle; otherwise only the texts of the
        published bundle are read (no model). A bundle that fails to load leaves the previous one.
        """
        if self._searcher is not None:
            return self._searcher.bundle.articles
        from kb.search.bundle import current_path, load_snapshot

        path = current_path(self.index_root)
        if path != self._snapshot_path and not (self._snapshot is not None and path == self._snapshot_failed):
            with self._lock:
                if path != self._snapshot_path:
                    try:
                        self._snapshot, self._snapshot_path = load_snapshot(path), path
                    except Exception:
                        self._snapshot_failed = path  # not tried again until another bundle is published
                        if self._snapshot is None:
                            raise
        return self._snapshot

    @property
    def engine(self):
        """The SQLAlchemy engine (SQLite by default, PostgreSQL via KB_DATABASE_URL)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from kb.store.engine import make_engine

                    self._engine = make_engine(self.database_url)
        return self._engine

    def check_database(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def check_writable(self) -> None:
        """Raise if the database cannot commit a write: one row rewritten with its own value (cheap)."""
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
