"""Alembic environment: runs the migrations on the async engine of either dialect."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from engram.store.db import Database
from engram.store.tables import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    database = Database(context.config.get_main_option("sqlalchemy.url"))
    async with database.engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await database.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
asyncio.run(_run_async())
