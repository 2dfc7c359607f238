"""Alembic environment: runs the migrations on an engine of either dialect."""

from __future__ import annotations

from alembic import context

from engram.store.db import include_object, make_engine
from engram.store.tables import Base

target_metadata = Base.metadata


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")

url = context.config.get_main_option("sqlalchemy.url")
if url is None:
    raise SystemExit("the migration configuration names no database (sqlalchemy.url)")
engine = make_engine(url, pool_size=1)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
engine.dispose()
