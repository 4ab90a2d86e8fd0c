"""Server-side session revocation: a per-user session generation.

A signed session cookie carries the generation it was issued under; signing out, a new password
or disabling the account increments it, so every cookie issued before stops working, also one
replayed from a copy.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    # Not a batch (table copy): other tables reference users, and SQLite >= 3.35 drops columns in place.
    op.execute("ALTER TABLE users DROP COLUMN session_generation")
