"""Identities (Letta's users and organisations of an integration) and which agents and
blocks belong to each.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _link_table(name: str, column: str, target: str) -> None:
    op.create_table(
        name,
        sa.Column(
            "identity_id",
            sa.String(64),
            sa.ForeignKey("identities.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            column,
            sa.String(64),
            sa.ForeignKey(f"{target}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index(f"ix_{name}_{column}", name, [column])


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("identifier_key", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("identity_type", sa.String(16), nullable=False),
        sa.Column("project_key", sa.String(255), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ux_identities_project_key",
        "identities",
        ["project_key", "identifier_key"],
        unique=True,
    )
    op.create_index("ix_identities_created_at", "identities", ["created_at"])
    _link_table("identity_agents", "agent_id", "agents")
    _link_table("identity_blocks", "block_id", "blocks")


def downgrade() -> None:
    op.drop_table("identity_blocks")
    op.drop_table("identity_agents")
    op.drop_table("identities")
