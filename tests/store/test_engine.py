"""Engine set-up, sessions and migrations, on every backend."""

from __future__ import annotations

import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from kb.caselog.cases import get_case, open_case
from kb.errors import InvalidInput
from kb.store import engine as db
from kb.store.engine import current_revision, downgrade, make_engine, session_scope, upgrade
from kb.store.tables import Base, CaseEventRow, UserRow

TABLES = {
    "users",
    "login_attempts",
    "cases",
    "case_events",
    "case_resolutions",
    "webhook_deliveries",
    "audit_log",
    "content_gaps",
    "article_revisions",
}
HEAD = "0013"  # the newest migration in kb/store/migrations/versions


def test_upgrade_creates_every_table_at_head(engine):
    assert TABLES | {"alembic_version"} <= set(inspect(engine).get_table_names())
    assert current_revision(engine) == HEAD


def test_empty_database_has_no_revision(make_engines):
    fresh = make_engines()
    assert current_revision(fresh) is None
    upgrade(fresh)
    assert current_revision(fresh) == HEAD


def test_constraint_names_follow_the_naming_convention(engine):
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("cases")["name"] == "pk_cases"
    assert inspector.get_pk_constraint("case_resolutions")["name"] == "pk_case_resolutions"
    assert {fk["name"] for fk in inspector.get_foreign_keys("case_events")} == {
        "fk_case_events_case_id_cases",
        "fk_case_events_actor_id_users",
    }
    assert [uq["name"] for uq in inspector.get_unique_constraints("users")] == ["uq_users_username"]
    assert {ix["name"] for ix in inspector.get_indexes("login_attempts")} == {
        "ix_login_attempts_username_at",
        "ix_login_attempts_address_at",
    }
    assert {ck["name"] for ck in inspector.get_check_constraints("cases")} == {
        "ck_cases_channel",
        "ck_cases_connection_type",
        "ck_cases_status",
    }


def test_migration_and_models_agree(engine):
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_model_metadata_uses_the_same_names():
    names = {c.name for table in Base.metadata.sorted_tables for c in table.constraints}
    assert {"pk_users", "uq_users_username", "fk_cases_agent_id_users", "ck_case_events_kind"} <= names


def test_upgrade_again_keeps_data(engine, agent):
    upgrade(engine)
    assert current_revision(engine) == HEAD
    with session_scope(engine, readonly=True) as session:
        assert session.scalar(select(UserRow.username)) == "anna"


def test_downgrade_removes_the_schema_and_upgrade_restores_it(engine):
    downgrade(engine, "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert TABLES <= set(inspect(engine).get_table_names())


def test_session_scope_commits_on_success_and_rolls_back_on_error(engine, agent, counts):
    before = counts()
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            session.add(
                UserRow(
                    username="ghost",
                    password_hash="x",
                    role="agent",
                    display_name="Ghost",
                    is_active=True,
                    created_at=db.utcnow(),
                )
            )
            session.flush()
            raise RuntimeError("boom")
    assert counts() == before
    with session_scope(engine) as session:
        session.get(UserRow, agent.id).team = "helpdesk-b"
    with session_scope(engine, readonly=True) as session:
        assert session.get(UserRow, agent.id).team == "helpdesk-b"


def test_database_enforces_foreign_keys(engine, agent):
    with pytest.raises(IntegrityError):
        with session_scope(engine) as session:
            session.add(CaseEventRow(case_id=4242, actor_id=agent.id, at=db.utcnow(), kind="note", text="x"))


def test_database_enforces_choices(engine, agent):
    case = open_case(engine, agent.id, "phone", "C-1", "no internet")
    with pytest.raises(IntegrityError):
        with session_scope(engine) as session:
            session.add(CaseEventRow(case_id=case.id, actor_id=agent.id, at=db.utcnow(), kind="gossip"))


def test_timestamps_come_back_timezone_aware_utc(engine, agent, clock):
    case = open_case(engine, agent.id, "chat", "C-1", "slow wifi")
    stored = get_case(engine, case.id).opened_at
    assert stored.tzinfo is not None and stored.utcoffset().total_seconds() == 0
    assert stored == clock.now  # microseconds survive too


def test_naive_timestamps_are_refused(engine):
    from datetime import datetime

    with pytest.raises(Exception, match="timezone-aware"):
        with session_scope(engine) as session:
            session.add(
                UserRow(
                    username="naive",
                    password_hash="x",
                    role="agent",
                    display_name="N",
                    is_active=True,
                    created_at=datetime(2026, 1, 1),
                )
            )


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'only-sqlite.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_sqlite_pragmas(sqlite_engine):
    engine = sqlite_engine
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_sqlite_write_transactions_take_the_lock_up_front(sqlite_engine):
    engine = sqlite_engine
    other = sqlite3.connect(engine.url.database, timeout=0, isolation_level=None)
    with session_scope(engine, readonly=True) as session:
        session.scalar(select(UserRow.id))
        other.execute("BEGIN IMMEDIATE")  # a reader does not block a writer
        other.execute("ROLLBACK")
    with session_scope(engine) as session:
        session.scalar(select(UserRow.id))  # a read only, yet the write lock is already held
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")  # released at commit
    other.execute("ROLLBACK")
    other.close()


def test_make_engine_defaults_to_instance_sqlite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = make_engine()
    assert engine.url.get_backend_name() == "sqlite" and engine.url.database == "instance/firstline.db"
    assert (tmp_path / "instance").is_dir()
    engine.dispose()


def test_make_engine_reads_kb_database_url(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_DATABASE_URL", f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    engine = make_engine()
    upgrade(engine)
    assert (tmp_path / "sub" / "x.db").exists()
    engine.dispose()


@pytest.mark.parametrize("url", ["not a url", "mysql+nosuchdriver://u:secret@h/db"])
def test_make_engine_refuses_bad_urls_without_showing_the_password(url):
    with pytest.raises(InvalidInput) as info:
        make_engine(url)
    assert info.value.field == "database_url" and "secret" not in str(info.value)
    assert "postgresql+psycopg://" in str(info.value)


def test_a_sqlite_database_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "instance" / "firstline.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM users")
    modes = {p.name: p.stat().st_mode & 0o777 for p in path.parent.iterdir()}
    engine.dispose()
    assert modes["firstline.db"] == 0o600 and all(mode == 0o600 for mode in modes.values()), modes
