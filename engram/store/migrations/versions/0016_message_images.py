"""Messages keep their content parts when they carry images.

A user message may hold images beside its text (Letta's ``ImageContent``, by URL or as
base64 data). The text stays in ``text`` (search and summaries read it); the parts, in
their order, go in ``content_parts``, from which the prompt and the message views are built.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("content_parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("content_parts")
