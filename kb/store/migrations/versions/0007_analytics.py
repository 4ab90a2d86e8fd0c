"""Analytics: demo cases are marked; the indexes the analytics queries need.

`cases.is_demo` marks the history `kb demo` writes (removable with `kb demo --remove`). The
analytics group closed cases by closing time, follow customers across cases by their reference,
and read events by kind per case.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("is_demo", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index(op.f("ix_cases_closed_at"), "cases", ["closed_at"])
    op.create_index(op.f("ix_cases_customer_ref_opened_at"), "cases", ["customer_ref", "opened_at"])
    op.create_index(op.f("ix_case_events_kind_case_id"), "case_events", ["kind", "case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_events_kind_case_id"), table_name="case_events")
    op.drop_index(op.f("ix_cases_customer_ref_opened_at"), table_name="cases")
    op.drop_index(op.f("ix_cases_closed_at"), table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("is_demo")
