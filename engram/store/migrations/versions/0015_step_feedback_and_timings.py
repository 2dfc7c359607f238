"""Steps keep the user's feedback on them and the timings of their phases.

``feedback`` and ``feedback_tags`` are what ``PATCH /v1/steps/{id}/feedback`` stores, so
``GET /v1/steps/`` can filter by them. ``timings`` is the step's own trace: nanoseconds spent
building the prompt, in the model call, running tools and writing, measured where the step
is committed and stored with it in the same insert.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("feedback", sa.String(16), nullable=True))
        batch.add_column(sa.Column("feedback_tags", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("timings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.drop_column("timings")
        batch.drop_column("feedback_tags")
        batch.drop_column("feedback")
