"""archives, archive-owned passages, more tool fields

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TOOL_COLUMNS = (
    ("npm_requirements", sa.JSON()),
    ("args_json_schema", sa.JSON()),
    ("default_requires_approval", sa.Boolean()),
    ("enable_parallel_execution", sa.Boolean()),
)


def upgrade() -> None:
    op.create_table(
        "archives",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("embedding_config", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_archives_name", "archives", ["name"], unique=False)
    op.create_table(
        "agent_archives",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("archive_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["archive_id"], ["archives.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agent_id", "archive_id"),
    )
    op.create_index("ix_agent_archives_archive_id", "agent_archives", ["archive_id"], unique=False)

    sqlite = op.get_bind().dialect.name == "sqlite"
    # SQLite cannot relax NOT NULL in place: batch mode copies the table, keeping seq (the
    # FTS rowid) and AUTOINCREMENT, but the copy loses the FTS triggers and the high-water
    # mark of seq; both are restored below so no seq is ever handed out twice.
    high_water = _passage_high_water() if sqlite else 0
    with op.batch_alter_table(
        "passages", table_kwargs={"sqlite_autoincrement": True}, recreate="auto"
    ) as batch:
        batch.alter_column("agent_id", existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column("archive_id", sa.String(length=64), nullable=True))
        batch.create_foreign_key(
            "fk_passages_archive_id", "archives", ["archive_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_passages_archive_seq", ["archive_id", "seq"], unique=False)
    if sqlite:
        _create_passage_fts_triggers()
        _restore_passage_high_water(high_water)

    with op.batch_alter_table("tools") as batch:
        for name, kind in _TOOL_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def _passage_high_water() -> int:
    row = (
        op.get_bind()
        .execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'passages'"))
        .first()
    )
    return int(row[0]) if row else 0


def _restore_passage_high_water(high_water: int) -> None:
    if high_water <= _passage_high_water():
        return
    bind = op.get_bind()
    params = {"seq": high_water}
    updated = bind.execute(
        sa.text("UPDATE sqlite_sequence SET seq = :seq WHERE name = 'passages'"), params
    )
    if not updated.rowcount:
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('passages', :seq)"), params
        )


def _create_passage_fts_triggers() -> None:
    for trigger in ("passages_fts_ai", "passages_fts_ad", "passages_fts_au"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute(
        "CREATE TRIGGER passages_fts_ai AFTER INSERT ON passages BEGIN "
        "INSERT INTO passages_fts(rowid, text) VALUES (new.seq, new.text); END"
    )
    op.execute(
        "CREATE TRIGGER passages_fts_ad AFTER DELETE ON passages BEGIN "
        "INSERT INTO passages_fts(passages_fts, rowid, text) "
        "VALUES ('delete', old.seq, old.text); END"
    )
    op.execute(
        "CREATE TRIGGER passages_fts_au AFTER UPDATE OF text ON passages BEGIN "
        "INSERT INTO passages_fts(passages_fts, rowid, text) "
        "VALUES ('delete', old.seq, old.text); "
        "INSERT INTO passages_fts(rowid, text) VALUES (new.seq, new.text); END"
    )


def downgrade() -> None:
    with op.batch_alter_table("tools") as batch:
        for name, _kind in reversed(_TOOL_COLUMNS):
            batch.drop_column(name)
    # Archive-owned passages have no agent to fall back to; they go with their archives.
    op.execute("DELETE FROM passages WHERE agent_id IS NULL")
    high_water = _passage_high_water() if op.get_bind().dialect.name == "sqlite" else 0
    with op.batch_alter_table(
        "passages", table_kwargs={"sqlite_autoincrement": True}, recreate="auto"
    ) as batch:
        batch.drop_index("ix_passages_archive_seq")
        batch.drop_constraint("fk_passages_archive_id", type_="foreignkey")
        batch.drop_column("archive_id")
        batch.alter_column("agent_id", existing_type=sa.String(length=64), nullable=False)
    if op.get_bind().dialect.name == "sqlite":
        _create_passage_fts_triggers()
        _restore_passage_high_water(high_water)
    op.drop_index("ix_agent_archives_archive_id", table_name="agent_archives")
    op.drop_table("agent_archives")
    op.drop_index("ix_archives_name", table_name="archives")
    op.drop_table("archives")
