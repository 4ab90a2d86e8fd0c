"""Known outages: the register the network operations centre feeds, and cases linked to them.

New tables `outages`, `outage_areas` and `outage_changes` (kb.outages); a new role `noc`; a case
can have a postcode, be closed as `known_outage` (linked to an outage, optionally with a callback)
and record the callback's result; two new case event kinds. The widened CHECK constraints make
SQLite rebuild `users`, `cases` and `case_events` (batch mode; kb.store.engine turns the foreign
keys off for the rebuild and checks them before the migration commits).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
OLD_ROLES = ("agent", "editor", "analyst", "admin")
OLD_STATUSES = ("open", "resolved", "escalated", "unresolved")
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
    "connection_set",
    "reassigned",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("planned", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("services", sa.String(100), nullable=False),
        sa.Column("connections", sa.String(100), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("expected_end", TS, nullable=True),
        sa.Column("fixed_at", TS, nullable=True),
        sa.Column("message_nl", sa.Text(), nullable=False),
        sa.Column("message_en", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outages")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_outages_created_by_users")),
        sa.CheckConstraint(
            "status IN ('investigating', 'identified', 'fixed', 'closed')", name=op.f("ck_outages_status")
        ),
    )
    op.create_index(op.f("ix_outages_status"), "outages", ["status"])
    op.create_table(
        "outage_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_areas")),
        sa.ForeignKeyConstraint(["outage_id"], ["outages.id"], name=op.f("fk_outage_areas_outage_id_outages")),
        sa.CheckConstraint("kind IN ('area', 'postcode', 'node')", name=op.f("ck_outage_areas_kind")),
    )
    op.create_index(op.f("ix_outage_areas_value_outage_id"), "outage_areas", ["value", "outage_id"])
    op.create_table(
        "outage_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_changes")),
        sa.ForeignKeyConstraint(["outage_id"], ["outages.id"], name=op.f("fk_outage_changes_outage_id_outages")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_outage_changes_actor_id_users")),
    )
    op.create_index(op.f("ix_outage_changes_outage_id_id"), "outage_changes", ["outage_id", "id"])
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint("role", _in("role", (*OLD_ROLES, "noc")))
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint(op.f("ck_cases_status"), type_="check")
        batch.create_check_constraint("status", _in("status", (*OLD_STATUSES, "known_outage")))
        batch.add_column(sa.Column("postcode", sa.String(6), nullable=True))
        batch.add_column(sa.Column("outage_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("callback", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("callback_result", sa.String(16), nullable=True))
        batch.add_column(sa.Column("called_back_at", TS, nullable=True))
        batch.create_foreign_key(op.f("fk_cases_outage_id_outages"), "outages", ["outage_id"], ["id"])
        batch.create_index(op.f("ix_cases_outage_id"), ["outage_id"])
        batch.create_index(op.f("ix_cases_postcode_opened_at"), ["postcode", "opened_at"])
    with op.batch_alter_table("case_events") as batch:
        batch.drop_constraint(op.f("ck_case_events_kind"), type_="check")
        batch.create_check_constraint("kind", _in("kind", (*OLD_KINDS, "known_outage", "called_back")))


def downgrade() -> None:
    op.execute("DELETE FROM case_events WHERE kind IN ('known_outage', 'called_back')")
    with op.batch_alter_table("case_events") as batch:
        batch.drop_constraint(op.f("ck_case_events_kind"), type_="check")
        batch.create_check_constraint("kind", _in("kind", OLD_KINDS))
    op.execute("UPDATE cases SET status = 'unresolved' WHERE status = 'known_outage'")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index(op.f("ix_cases_postcode_opened_at"))
        batch.drop_index(op.f("ix_cases_outage_id"))
        batch.drop_constraint(op.f("fk_cases_outage_id_outages"), type_="foreignkey")
        for column in ("called_back_at", "callback_result", "callback", "outage_id", "postcode"):
            batch.drop_column(column)
        batch.drop_constraint(op.f("ck_cases_status"), type_="check")
        batch.create_check_constraint("status", _in("status", OLD_STATUSES))
    op.execute("UPDATE users SET role = 'agent' WHERE role = 'noc'")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint("role", _in("role", OLD_ROLES))
    op.drop_table("outage_changes")
    op.drop_table("outage_areas")
    op.drop_table("outages")
