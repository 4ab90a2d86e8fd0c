"""An index on outage_areas (outage_id): every search with a postcode inside an active outage's area,
and every search without one, reads the areas of the outages it shows (kb.outages.register.matching).
Without it each such read scans the whole table: with 500 outages (11,400 area rows) that was
about a third of the matching time (scripts/bench_outages.py).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_outage_areas_outage_id"), "outage_areas", ["outage_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outage_areas_outage_id"), table_name="outage_areas")
