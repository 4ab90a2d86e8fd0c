"""Idempotent writes: a client request id on cases and case events.

A note or an open-case request that timed out may have been committed anyway; the page sends the
same request id when it tries again, and a second write with an id already stored returns the
first one instead of adding a copy. The ids are unique per agent (cases) and per case (events);
rows written without one (NULL) are not constrained.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("request_id", sa.String(64), nullable=True))
    op.add_column("case_events", sa.Column("request_id", sa.String(64), nullable=True))
    op.create_index("uq_cases_agent_id_request_id", "cases", ["agent_id", "request_id"], unique=True)
    op.create_index("uq_case_events_case_id_request_id", "case_events", ["case_id", "request_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_case_events_case_id_request_id", "case_events")
    op.drop_index("uq_cases_agent_id_request_id", "cases")
    op.execute("ALTER TABLE case_events DROP COLUMN request_id")
    op.execute("ALTER TABLE cases DROP COLUMN request_id")
