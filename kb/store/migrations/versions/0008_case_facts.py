"""Case facts: one summary row per closed case for analytics, and the articles each case used.

Written at every closing (kb.caselog.facts) so the analytics read one row per case instead of
every event. This migration fills them for the cases closed so far.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "case_facts",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("closed_at", TS, nullable=False),
        sa.Column("closed_day", sa.String(10), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("handle_seconds", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("escalation_team", sa.String(64), nullable=True),
        sa.Column("agent_team", sa.String(64), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("linked", sa.Boolean(), nullable=False),
        sa.Column("repeat", sa.Boolean(), nullable=False),
        sa.Column("searches", sa.Integer(), nullable=False),
        sa.Column("weak_searches", sa.Integer(), nullable=False),
        sa.Column("last_step_article", sa.String(200), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_facts")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_facts_case_id_cases")),
    )
    op.create_index(
        "ix_case_facts_covering",
        "case_facts",
        [
            "closed_day",
            "status",
            "agent_team",
            "escalation_team",
            "channel",
            "handle_seconds",
            "linked",
            "repeat",
            "reopen_count",
            "searches",
            "weak_searches",
            "is_demo",
            "case_id",
        ],
    )
    op.create_index(op.f("ix_cases_opened_at"), "cases", ["opened_at"])
    op.create_table(
        "case_fact_articles",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("lang", sa.String(2), nullable=True),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "article_id", name=op.f("pk_case_fact_articles")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_facts.case_id"], name=op.f("fk_case_fact_articles_case_id_case_facts")
        ),
    )
    op.create_index(op.f("ix_case_fact_articles_article_id"), "case_fact_articles", ["article_id"])
    from kb.caselog.facts import rebuild_in

    session = Session(bind=op.get_bind())
    rebuild_in(session)
    session.flush()


def downgrade() -> None:
    op.drop_index(op.f("ix_case_fact_articles_article_id"), table_name="case_fact_articles")
    op.drop_table("case_fact_articles")
    op.drop_index(op.f("ix_cases_opened_at"), table_name="cases")
    op.drop_index("ix_case_facts_covering", table_name="case_facts")
    op.drop_table("case_facts")
