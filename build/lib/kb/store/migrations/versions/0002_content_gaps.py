"""Content gaps: searches an agent flagged because no article answered them (kb.caselog.gaps).

Until now they went to content_gaps.jsonl in the Flask instance folder; that file is not read
here (on a multi-host deployment each host had its own). Import it by hand if its flags matter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "content_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(2), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_gaps")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_content_gaps_user_id_users")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_content_gaps_case_id_cases")),
        sa.CheckConstraint(_in("lang", ("nl", "en")), name=op.f("ck_content_gaps_lang")),
    )
    op.create_index(op.f("ix_content_gaps_at"), "content_gaps", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_content_gaps_at"), table_name="content_gaps")
    op.drop_table("content_gaps")
