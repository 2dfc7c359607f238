"""Conversations: many threads of one agent, each with its own window and summary.

A conversation row holds its thread's window cursor and running summary; messages, runs
and steps say which conversation they belong to (null: the agent's own default thread,
so every row written before this revision stays where it was). Isolated blocks are
per-conversation copies linked by ``conversation_blocks``; ``conversation_leases`` let one
conversation's turns run while another conversation of the same agent runs its own.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "agent_id",
            sa.String(64),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("model", sa.String(255), nullable=True),
        sa.Column("model_settings", sa.JSON(), nullable=True),
        sa.Column("llm_config", sa.JSON(), nullable=True),
        sa.Column("window_start_seq", sa.BigInteger(), nullable=False),
        sa.Column("fold_summary", sa.Text(), nullable=False),
        sa.Column("fold_summary_tokens", sa.Integer(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversations_agent_created", "conversations", ["agent_id", "created_at"])
    op.create_table(
        "conversation_blocks",
        sa.Column(
            "conversation_id",
            sa.String(64),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("label", sa.String(255), primary_key=True),
        sa.Column(
            "block_id",
            sa.String(64),
            sa.ForeignKey("blocks.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
    )
    op.create_table(
        "conversation_leases",
        sa.Column(
            "conversation_id",
            sa.String(64),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    for table in ("messages", "runs", "steps"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("conversation_id", sa.String(64), nullable=True))
    op.create_index("ix_messages_conversation_seq", "messages", ["conversation_id", "seq"])
    op.create_index("ix_runs_conversation_id", "runs", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_conversation_id", "runs")
    op.drop_index("ix_messages_conversation_seq", "messages")
    for table in ("steps", "runs", "messages"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("conversation_id")
    op.drop_table("conversation_leases")
    op.drop_table("conversation_blocks")
    op.drop_index("ix_conversations_agent_created", "conversations")
    op.drop_table("conversations")
