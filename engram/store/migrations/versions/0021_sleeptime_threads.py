"""Sleep-time triggering per thread: each conversation of a main agent (and its own
default thread) keeps its own count of turns and its own last sleep-time run.

``groups.threads`` maps a thread (a conversation id, or "default") to
``{"turns": n, "run_id": id}``. Null on the rows written before this revision: their
default thread's last run is then the sleep-time agent's latest (runtime/sleeptime.py).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("threads", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("threads")
