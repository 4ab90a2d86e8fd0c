"""Analytics tests run on SQLite and PostgreSQL (tests/dbfixtures.py)."""

from tests.dbfixtures import *  # noqa: F401,F403
