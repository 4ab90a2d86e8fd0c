"""The agent's workspace: the connection type can be corrected on an open case, and an admin
(the supervisor) can reassign an open case to another agent.

Two new case event kinds (`connection_set`, `reassigned`) widen the CHECK constraint on
case_events.kind; SQLite rebuilds that table for it (batch mode; no table references it),
PostgreSQL alters it in place.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_KINDS = (
    "opened",
    "search",
    "article_opened",
    "step_ticked",
    "step_unticked",
    "note",
    "resolved",
    "escalated",
    "unresolved",
    "reopened",
)
NEW_KINDS = (*OLD_KINDS, "connection_set", "reassigned")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _check(table: str, name: str, column: str, values: tuple[str, ...]) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
        batch.create_check_constraint(name, _in(column, values))


def upgrade() -> None:
    _check("case_events", "kind", "kind", NEW_KINDS)


def downgrade() -> None:
    op.execute(f"DELETE FROM case_events WHERE kind IN {NEW_KINDS[len(OLD_KINDS) :]!r}")
    _check("case_events", "kind", "kind", OLD_KINDS)
