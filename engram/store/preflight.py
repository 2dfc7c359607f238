"""Checks a database before the server starts on it, and brings its schema up to date.

A server that cannot use its database should say which piece is missing (the server, the
pgvector extension, a right, disk space) in one line, not in a traceback from the middle
of a migration. SQLite needs no connection check: the file is created on demand.
"""

from __future__ import annotations

from sqlalchemy import Connection, create_engine, exc, make_url, text
from sqlalchemy.pool import NullPool

from engram.store.db import CONNECT_TIMEOUT_SECONDS, migrate, storage_full

INSUFFICIENT_PRIVILEGE = "42501"


class DatabaseNotReady(Exception):
    """The database cannot serve Engram; the message says what to do about it."""


def describe(url: str) -> str:
    """The URL as it is safe to print: without its password."""
    return make_url(url).render_as_string(hide_password=True)


def check_database(url: str) -> None:
    """Raise ``DatabaseNotReady`` unless the database is reachable and has pgvector (which
    this creates when the user may)."""
    if url.startswith("sqlite"):
        return
    parsed = make_url(url)
    user = parsed.username or "(default user)"
    database = parsed.database or "(default database)"
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    )
    try:
        try:
            connection = engine.connect()
        except exc.DBAPIError as error:
            raise DatabaseNotReady(
                f"cannot connect to PostgreSQL at {describe(url)}: {_first_line(error)}"
            ) from None
        with connection:
            _ensure_vector(connection, user, database)
            _check_create_rights(connection, user, database)
    finally:
        engine.dispose()


def migrate_database(url: str) -> None:
    """Migrate to the newest schema before serving; ``DatabaseNotReady`` names what failed.

    The server's start-up is then told not to migrate again; done here, a failure is one
    line from the command rather than a traceback from the server's start-up hook."""
    try:
        migrate(url)
    except exc.SQLAlchemyError as error:
        if storage_full(error):
            raise DatabaseNotReady(
                f"the disk holding {describe(url)} is full, so its schema could not be "
                "brought up to date: free some space, then start again"
            ) from None
        reason = error.orig if isinstance(error, exc.DBAPIError) and error.orig else error
        lines = str(reason).strip().splitlines()
        raise DatabaseNotReady(
            f"could not bring the schema of {describe(url)} up to date: "
            f"{lines[0] if lines else type(reason).__name__}"
        ) from None


def _ensure_vector(conn: Connection, user: str, database: str) -> None:
    installed = conn.scalar(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))
    if installed:
        return
    available = conn.scalar(
        text("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
    )
    if available is None:
        raise DatabaseNotReady(
            "the PostgreSQL server lacks the pgvector extension ('vector'), which Engram "
            "needs for vector search: install pgvector on the database server "
            "(see docs/postgres.md), then start again"
        )
    try:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        conn.commit()
    except exc.DBAPIError as error:
        conn.rollback()
        if getattr(error.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
            raise DatabaseNotReady(
                f"user {user} may not create the pgvector extension ('vector') in database "
                f"{database}: have a superuser or the database owner run "
                f"'CREATE EXTENSION vector;' in {database}, then start again"
            ) from None
        raise DatabaseNotReady(
            f"could not create the pgvector extension ('vector') in database {database}: "
            f"{_first_line(error)}"
        ) from None


def _check_create_rights(conn: Connection, user: str, database: str) -> None:
    """A database Engram has not set up yet needs the right to create tables in it."""
    migrated = conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if migrated:
        return
    allowed = conn.scalar(
        text("SELECT has_schema_privilege(current_user, current_schema(), 'CREATE')")
    )
    if not allowed:
        raise DatabaseNotReady(
            f"user {user} may not create tables in database {database}: grant it CREATE on "
            "the schema (for example 'GRANT CREATE ON SCHEMA public TO "
            f"{user};'), then start again"
        )


def _first_line(error: exc.DBAPIError) -> str:
    message = str(error.orig) if error.orig is not None else str(error)
    return message.strip().splitlines()[0] if message.strip() else type(error).__name__
