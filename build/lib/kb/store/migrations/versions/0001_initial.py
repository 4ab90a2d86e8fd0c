"""Users, log-in attempts, cases, case events, resolutions, hand-off outbox and audit log.

Constraint and index names are spelled out (following kb.store.tables.NAMING_CONVENTION), so later
migrations can refer to them by name on every backend.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("language", sa.String(2), nullable=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_login_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        sa.CheckConstraint(_in("role", ("agent", "editor", "analyst", "admin")), name=op.f("ck_users_role")),
        sa.CheckConstraint(_in("language", ("nl", "en")), name=op.f("ck_users_language")),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(op.f("ix_login_attempts_username_at"), "login_attempts", ["username", "at"])
    op.create_index(op.f("ix_login_attempts_address_at"), "login_attempts", ["address", "at"])
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("customer_ref", sa.String(100), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("connection_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("handle_seconds", sa.Integer(), nullable=True),
        sa.Column("escalation_team", sa.String(64), nullable=True),
        sa.Column("escalation_reason", sa.Text(), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_cases_agent_id_users")),
        sa.CheckConstraint(_in("channel", ("phone", "chat", "email")), name=op.f("ck_cases_channel")),
        sa.CheckConstraint(
            _in("connection_type", ("fibre", "dsl", "cable", "unknown")), name=op.f("ck_cases_connection_type")
        ),
        sa.CheckConstraint(
            _in("status", ("open", "resolved", "escalated", "unresolved")), name=op.f("ck_cases_status")
        ),
    )
    op.create_index(op.f("ix_cases_agent_id_opened_at"), "cases", ["agent_id", "opened_at"])
    op.create_index(op.f("ix_cases_status_opened_at"), "cases", ["status", "opened_at"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("article_id", sa.String(200), nullable=True),
        sa.Column("lang", sa.String(2), nullable=True),
        sa.Column("step_number", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_case_events_actor_id_users")),
        sa.CheckConstraint(
            _in(
                "kind",
                (
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
                ),
            ),
            name=op.f("ck_case_events_kind"),
        ),
    )
    op.create_index(op.f("ix_case_events_case_id_id"), "case_events", ["case_id", "id"])
    op.create_table(
        "case_resolutions",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "article_id", name=op.f("pk_case_resolutions")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_resolutions_case_id_cases")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_webhook_deliveries_case_id_cases")),
        sa.CheckConstraint(
            _in("status", ("pending", "delivered", "failed")), name=op.f("ck_webhook_deliveries_status")
        ),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_status_next_attempt_at"), "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(op.f("ix_webhook_deliveries_case_id"), "webhook_deliveries", ["case_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")),
    )


def downgrade() -> None:
    for table in (
        "audit_log",
        "webhook_deliveries",
        "case_resolutions",
        "case_events",
        "cases",
        "login_attempts",
        "users",
    ):
        op.drop_table(table)
