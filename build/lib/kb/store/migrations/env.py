"""Alembic environment for kb: run only through `kb.store.engine.upgrade(engine)`, which hands over a connection."""

from alembic import context

from kb.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with kb.store.engine.upgrade(engine); there is no alembic.ini")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most constraints
)
with context.begin_transaction():
    context.run_migrations()
