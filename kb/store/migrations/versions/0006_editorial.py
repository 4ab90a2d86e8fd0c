"""The editors' store: articles and every revision in the database, publications, flags; gap sources.

Articles live in the database while the app runs (several app servers share it); `articles/` is
the seed and the import/export format (`kb import`, `kb export`). Content gaps gain their source
(an agent's flag, or a weak best match recorded automatically) and the query's embedding, which
the editors' worklist clusters.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "article_docs",
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("head_edit_id", sa.Integer(), nullable=False),
        sa.Column("published_edit_id", sa.Integer(), nullable=True),
        sa.Column("published_at", TS, nullable=True),
        sa.Column("searchable_at", TS, nullable=True),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("article_id", "lang", name=op.f("pk_article_docs")),
        sa.ForeignKeyConstraint(["submitted_by"], ["users.id"], name=op.f("fk_article_docs_submitted_by_users")),
        sa.CheckConstraint(
            _in("status", ("draft", "in_review", "published", "archived")), name=op.f("ck_article_docs_status")
        ),
    )
    op.create_table(
        "article_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("revision", sa.String(64), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("summary", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_edits")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_article_edits_author_id_users")),
        sa.CheckConstraint(
            _in("action", ("import", "save", "submit", "approve", "publish", "archive", "restore")),
            name=op.f("ck_article_edits_action"),
        ),
    )
    op.create_index(op.f("ix_article_edits_article_id_lang"), "article_edits", ["article_id", "lang"])
    op.create_table(
        "content_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_publications")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_content_publications_actor_id_users")),
    )
    op.create_table(
        "article_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(200), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("revision", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("fixed_revision", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_flags")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_article_flags_user_id_users")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_article_flags_case_id_cases")),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"], name=op.f("fk_article_flags_resolved_by_users")),
        sa.CheckConstraint(
            _in("reason", ("wrong", "outdated", "unclear", "missing_step", "other")),
            name=op.f("ck_article_flags_reason"),
        ),
        sa.CheckConstraint(_in("status", ("open", "fixed", "declined")), name=op.f("ck_article_flags_status")),
    )
    op.create_index(op.f("ix_article_flags_status_at"), "article_flags", ["status", "at"])
    op.create_index(op.f("ix_article_flags_user_id_at"), "article_flags", ["user_id", "at"])
    with op.batch_alter_table("content_gaps") as batch:
        batch.add_column(sa.Column("source", sa.String(8), nullable=False, server_default="flagged"))
        batch.add_column(sa.Column("vector", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("content_gaps") as batch:
        batch.drop_column("vector")
        batch.drop_column("source")
    op.drop_index(op.f("ix_article_flags_user_id_at"), table_name="article_flags")
    op.drop_index(op.f("ix_article_flags_status_at"), table_name="article_flags")
    op.drop_table("article_flags")
    op.drop_table("content_publications")
    op.drop_index(op.f("ix_article_edits_article_id_lang"), table_name="article_edits")
    op.drop_table("article_edits")
    op.drop_table("article_docs")
