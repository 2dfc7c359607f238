"""Agents' tool variables get a column of their own, out of the agent's metadata.

The variables a custom tool's sandboxed child receives (Letta's
``tool_exec_environment_variables`` and ``secrets``) were kept under one metadata key;
metadata is the client's own free-form field, echoed and exported as it is.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_KEY = "tool_exec_environment_variables"


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("tool_env", sa.JSON(), nullable=True))
    agents = sa.table(
        "agents",
        sa.column("id", sa.String),
        sa.column("metadata", sa.JSON),
        sa.column("tool_env", sa.JSON),
    )
    connection = op.get_bind()
    for agent_id, metadata in connection.execute(sa.select(agents.c.id, agents.c.metadata)):
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if not isinstance(metadata, dict) or _KEY not in metadata:
            continue
        declared = metadata.pop(_KEY) or None
        connection.execute(
            agents.update()
            .where(agents.c.id == agent_id)
            .values(metadata=metadata, tool_env=declared)
        )


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("tool_env")
