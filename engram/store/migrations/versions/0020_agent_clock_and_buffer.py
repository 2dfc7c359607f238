"""Agents keep a clock, may keep no messages between turns, and remember how they began.

``timezone`` is the IANA zone the agent reads times in (null: UTC);
``message_buffer_autoclear`` empties the agent's window after each turn, as Letta's option
of that name does; ``initial_messages`` are the messages the agent was created with, which
``reset-messages`` puts back when asked to.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column(
                "message_buffer_autoclear",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
        batch.add_column(sa.Column("initial_messages", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("initial_messages")
        batch.drop_column("message_buffer_autoclear")
        batch.drop_column("timezone")
