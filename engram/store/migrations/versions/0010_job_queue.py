"""The job queue's tables on PostgreSQL (procrastinate's schema); nothing on SQLite.

Replicated servers hand background work (queued turns) to each other through these
tables. An embedded SQLite deployment runs its background work in-process instead.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    # Through the driver: SQLAlchemy's text() would take the SQL's colons for parameters;
    # psycopg reads "%%" as a literal "%".
    op.get_bind().exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, "
        "procrastinate_jobs, procrastinate_workers CASCADE"
    )
