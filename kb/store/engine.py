"""The database engine: SQLite by default, PostgreSQL via KB_DATABASE_URL; sessions and migrations.

SQLite is set up for several writers (web workers, the CLI) on one file: write-ahead logging,
foreign keys, a busy timeout, and write transactions that take the write lock with
`BEGIN IMMEDIATE` so two writers queue up instead of failing half-way with "database is locked".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session

from kb.errors import InvalidInput

DEFAULT_URL = "sqlite:///instance/firstline.db"
BUSY_TIMEOUT_MS = 5000
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_READONLY = "kb_readonly"
_MIGRATION_LOCK = 727_001  # pg_advisory_xact_lock key: one migrator at a time


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (tests replace this to control the clock)."""
    return datetime.now(UTC)


def make_engine(url: str | None = None) -> Engine:
    """An engine for `url`, else $KB_DATABASE_URL, else `sqlite:///instance/firstline.db`.

    Statement parameters are hidden from error messages, so customer data never reaches a log.
    """
    url = url or os.environ.get("KB_DATABASE_URL") or DEFAULT_URL
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(
            "database_url",
            "The database URL cannot be read; use sqlite:///path/to/file.db "
            "or postgresql+psycopg://user:password@host:5432/dbname.",
        ) from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        return create_engine(parsed, hide_parameters=True, pool_pre_ping=True)
    except NoSuchModuleError:
        shown = parsed.render_as_string(hide_password=True)
        raise InvalidInput(
            "database_url",
            f"No database driver for {shown}; use sqlite:///path/to/file.db "
            "or postgresql+psycopg://user:password@host:5432/dbname.",
        ) from None


def _private_file(path: Path) -> None:
    """Create the database file readable by its owner only (customer data, password hashes).

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
    except OSError:
        pass  # not ours to change (or read-only): SQLite reports what it cannot open


def _sqlite_engine(url) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        _private_file(Path(url.database))
    engine = create_engine(url, hide_parameters=True, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Take transaction control away from the sqlite3 module; `_on_begin` emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # Reads may share the file; a writer must hold the lock before it reads what it will change.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READONLY) else "BEGIN IMMEDIATE")

    return engine


@contextmanager
def session_scope(engine: Engine, *, readonly: bool = False) -> Iterator[Session]:
    """A session in one transaction: committed when the block ends, rolled back if it raises.

    `readonly=True` starts a plain (deferred) transaction on SQLite, so readers never queue
    behind writers; do not write in such a block.
    """
    bind = engine.execution_options(**{_READONLY: True}) if readonly else engine
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (default: the newest) with the migrations in kb/migrations."""
    _migrate(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` ("base" drops every table: all data is lost)."""
    _migrate(engine, "downgrade", revision)


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # A migration that changes a CHECK rebuilds the table (copy, drop, rename); with foreign
            # keys enforced, dropping a table that others refer to would fail. The pragma only
            # works outside a transaction, so it goes to the driver before SQLAlchemy begins one;
            # the keys are checked before the migration commits and enforced again after it.
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                config.attributes["connection"] = conn
                getattr(command, direction)(config, revision)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration left {len(broken)} rows without their referenced row")
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys = ON")


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
