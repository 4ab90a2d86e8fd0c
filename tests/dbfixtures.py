"""Storage fixtures: every test that uses `engine` runs on SQLite (a real file) and on PostgreSQL.

PostgreSQL runs when KB_TEST_POSTGRES_URL is set (each test gets a fresh schema, dropped after):

    export KB_TEST_POSTGRES_URL="$(bash scripts/pg-test-server.sh)"   # as root on Debian
"""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from kb.identity.users import create_user
from kb.store import engine as db
from kb.store.engine import make_engine, upgrade
from kb.store.tables import Base

PG_HINT = (
    "PostgreSQL tests need KB_TEST_POSTGRES_URL; as root run "
    '`export KB_TEST_POSTGRES_URL="$(bash scripts/pg-test-server.sh)"` and run pytest again'
)


def run_all(fn, count):
    """Run fn(i) for i in range(count) at the same moment; return the results (re-raising any error)."""
    start = threading.Barrier(count)

    def go(i):
        start.wait()
        return fn(i)

    with ThreadPoolExecutor(count) as pool:
        return [f.result() for f in [pool.submit(go, i) for i in range(count)]]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    monkeypatch.delenv("KB_ESCALATION_TEAMS", raising=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """The URL of an empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kb.db'}"
        return
    base = os.environ.get("KB_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("KB_REQUIRE_POSTGRES") == "1":  # CI: a skipped PostgreSQL run is a failure
            pytest.fail(PG_HINT + " (KB_REQUIRE_POSTGRES=1)")
        pytest.skip(PG_HINT)
    schema = f"kbtest_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def backend(database_url) -> str:
    return make_url(database_url).get_backend_name()


@pytest.fixture
def make_engines(database_url):
    """A factory of extra engines on the same database (as a second process would have)."""
    engines = []

    def make():
        engines.append(make_engine(database_url))
        return engines[-1]

    yield make
    for extra in engines:
        extra.dispose()


@pytest.fixture
def engine(make_engines):
    """An engine on a migrated, empty database."""
    new = make_engines()
    upgrade(new)
    return new


class Clock:
    """A settable stand-in for kb.store.engine.utcnow."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock(datetime(2026, 11, 25, 9, 0, 0, 123456, tzinfo=UTC))
    monkeypatch.setattr(db, "utcnow", fake)
    return fake


@pytest.fixture
def agent(engine):
    return create_user(
        engine, "anna", "correct horse battery", "agent", display_name="Anna de Vries", team="helpdesk-a"
    )


@pytest.fixture
def admin(engine):
    return create_user(engine, "root.admin", "staple battery horse", "admin", display_name="Ada Admin")


def row_counts(engine) -> dict[str, int]:
    """Rows per table: bad input must leave every count as it was."""
    with engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


@pytest.fixture
def counts(engine):
    """`counts()` gives the rows per table now."""
    return lambda: row_counts(engine)
