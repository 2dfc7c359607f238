"""Agent leases: which server process is running a turn for an agent.

Several replicas on one database must not run two turns of one agent at once. A lease
row per busy agent says who holds it until when; the holder renews it while the turn
runs and deletes it at the end, and an expired lease (its holder died) can be taken over.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_leases",
        sa.Column(
            "agent_id",
            sa.String(length=64),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_leases")
