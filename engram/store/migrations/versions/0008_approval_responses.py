"""Approval responses: the client's answer to a pending approval is kept as a message.

A message of role ``approval`` holds the answer as it was decided, one entry per waiting
call (approved, denied with a reason, or a result the client ran itself), so the history
shows who said yes or no between the request and the calls' results.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("approval", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("approval")
