"""MCP servers remember whether they could be reached.

A server that cannot be reached when it is registered is stored anyway, as Letta stores
it, and its tools are listed once it answers; the row keeps whether the last attempt to
list them worked, what went wrong if not, and when the tools were last listed.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mcp_servers") as batch:
        # Servers stored before this revision were reached when they were registered.
        batch.add_column(
            sa.Column("reachable", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mcp_servers") as batch:
        batch.drop_column("last_synced_at")
        batch.drop_column("last_error")
        batch.drop_column("reachable")
