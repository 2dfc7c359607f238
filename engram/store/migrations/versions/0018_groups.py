"""Sleep-time pairings: a main agent, its sleep-time agent, and how often it runs.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _agent_column(name: str) -> sa.Column[str]:
    return sa.Column(
        name,
        sa.String(64),
        sa.ForeignKey("agents.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    )


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("manager_type", sa.String(32), nullable=False),
        _agent_column("manager_agent_id"),
        _agent_column("sleeptime_agent_id"),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sleeptime_agent_frequency", sa.Integer(), nullable=False),
        sa.Column("turns_counter", sa.Integer(), nullable=False),
        sa.Column("last_processed_message_id", sa.String(64), nullable=True),
        sa.Column("start_seq", sa.BigInteger(), nullable=False),
        sa.Column("archival_upkeep", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("groups")
