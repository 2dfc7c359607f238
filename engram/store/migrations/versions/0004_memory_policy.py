"""Memory policy: per-agent paging and recall assist, passage provenance by message,
per-run memory metrics, and message embeddings for hybrid recall search.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engram.store.embedding_type import Embedding

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("compaction_settings", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("recall_assist", sa.JSON(), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("memory_metrics", sa.JSON(), nullable=True))
    with op.batch_alter_table("passages") as batch:
        batch.add_column(sa.Column("message_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("source_deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_passages_message_id", "passages", ["message_id"])
    op.create_table(
        "message_embeddings",
        sa.Column(
            "message_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("embedding_handle", sa.String(length=255), nullable=False),
        sa.Column("embedding_dim", sa.Integer(), nullable=False),
        sa.Column("embedding", Embedding(), nullable=False),
        sa.ForeignKeyConstraint(["message_seq"], ["messages.seq"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_seq"),
    )
    op.create_index(
        "ix_message_embeddings_agent_seq", "message_embeddings", ["agent_id", "message_seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_message_embeddings_agent_seq", table_name="message_embeddings")
    op.drop_table("message_embeddings")
    op.drop_index("ix_passages_message_id", table_name="passages")
    with op.batch_alter_table("passages") as batch:
        batch.drop_column("source_deleted_at")
        batch.drop_column("message_id")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("memory_metrics")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("recall_assist")
        batch.drop_column("compaction_settings")
