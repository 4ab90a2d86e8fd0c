"""Storage: the SQLAlchemy engine (SQLite by default, PostgreSQL as the multi-server option),
sessions, the tables and their validation limits, and the Alembic migrations."""
