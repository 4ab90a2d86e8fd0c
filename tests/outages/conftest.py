"""Every test here runs on SQLite and on PostgreSQL (see tests/dbfixtures.py)."""

from tests.dbfixtures import *  # noqa: F401,F403 - the shared storage fixtures
