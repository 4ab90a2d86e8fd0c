"""Article revisions on case events: which version of an article the agent saw.

Adds `revision` to case_events (article opened, step ticked) and case_resolutions (resolved by),
and the table article_revisions that keeps the text of every revision a case refers to, so a
hand-off shows the step the agent actually read after the article has changed. Events written
before this migration have no revision (NULL).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "article_revisions",
        sa.Column("revision", sa.String(64), nullable=False),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_article_revisions")),
    )
    op.create_index(op.f("ix_article_revisions_article_id_lang"), "article_revisions", ["article_id", "lang"])
    op.add_column("case_events", sa.Column("revision", sa.String(64), nullable=True))
    op.add_column("case_resolutions", sa.Column("revision", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_resolutions") as batch:
        batch.drop_column("revision")
    with op.batch_alter_table("case_events") as batch:
        batch.drop_column("revision")
    op.drop_index(op.f("ix_article_revisions_article_id_lang"), table_name="article_revisions")
    op.drop_table("article_revisions")
