"""Folders of uploaded files, their ingestion state, and agents' views of them.

A folder's chunks are passages of an archive of its own, marked with the file they came
from (``passages.file_id``), so the archival search serves them. Agents get the two
settings of files in their prompt (``max_files_open``, ``per_file_view_window_char_limit``).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _moment() -> sa.Column[object]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    # Plain nullable columns without constraints: SQLite adds them in place, which keeps
    # the passages table (and the full-text triggers on it) as it is.
    op.add_column("agents", sa.Column("max_files_open", sa.Integer(), nullable=True))
    op.add_column(
        "agents", sa.Column("per_file_view_window_char_limit", sa.Integer(), nullable=True)
    )
    op.add_column("passages", sa.Column("file_id", sa.String(64), nullable=True))
    op.create_index("ix_passages_file_id", "passages", ["file_id"])

    op.create_table(
        "folders",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("embedding_config", sa.JSON(), nullable=False),
        sa.Column("archive_id", sa.String(64), sa.ForeignKey("archives.id"), nullable=False),
        sa.Column("chunk_tokens", sa.Integer(), nullable=False),
        sa.Column("chunk_overlap_tokens", sa.Integer(), nullable=False),
        _moment(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("archive_id"),
    )
    op.create_table(
        "files",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "folder_id",
            sa.String(64),
            sa.ForeignKey("folders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("original_file_name", sa.String(255), nullable=False),
        sa.Column("file_type", sa.String(255), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("processing_status", sa.String(16), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("total_chunks", sa.Integer(), nullable=True),
        sa.Column("chunks_embedded", sa.Integer(), nullable=True),
        _moment(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_files_folder_name", "files", ["folder_id", "file_name"], unique=True)
    op.create_index("ix_files_folder_created", "files", ["folder_id", "created_at"])
    op.create_table(
        "file_uploads",
        sa.Column(
            "file_id",
            sa.String(64),
            sa.ForeignKey("files.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "agent_folders",
        sa.Column(
            "agent_id",
            sa.String(64),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "folder_id",
            sa.String(64),
            sa.ForeignKey("folders.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _moment(),
    )
    op.create_index("ix_agent_folders_folder_id", "agent_folders", ["folder_id"])
    op.create_table(
        "file_agents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "agent_id",
            sa.String(64),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "file_id",
            sa.String(64),
            sa.ForeignKey("files.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "folder_id",
            sa.String(64),
            sa.ForeignKey("folders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("start_line", sa.Integer(), nullable=True),
        sa.Column("end_line", sa.Integer(), nullable=True),
        sa.Column("last_accessed_at", sa.DateTime(timezone=True), nullable=False),
        _moment(),
    )
    op.create_index(
        "ux_file_agents_agent_file", "file_agents", ["agent_id", "file_id"], unique=True
    )
    op.create_index("ix_file_agents_file_id", "file_agents", ["file_id"])
    op.create_index("ix_file_agents_folder_id", "file_agents", ["folder_id"])


def downgrade() -> None:
    op.drop_table("file_agents")
    op.drop_table("agent_folders")
    op.drop_table("file_uploads")
    op.drop_table("files")
    op.drop_table("folders")
    op.drop_index("ix_passages_file_id", table_name="passages")
    with op.batch_alter_table("passages") as batch:
        batch.drop_column("file_id")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("per_file_view_window_char_limit")
        batch.drop_column("max_files_open")
