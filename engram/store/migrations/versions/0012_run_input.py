"""Runs keep the input of their turn.

A queued run (``POST /messages/async``) is accepted before its turn starts. With its input
only in memory (SQLite's in-process queue), a server that died before the turn began lost
the message for good; kept on the run, the input lets the next start run the turn.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("turn_input", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("turn_input")
