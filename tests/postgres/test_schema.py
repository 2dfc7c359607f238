"""One migration history, one schema: SQLite and PostgreSQL end up with the same tables,
columns and indexes (less each dialect's own full-text and vector-index artifacts), and
both match the models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from engram.config import normalize_database_url
from engram.store.db import include_object, make_engine, migrate
from engram.store.tables import Base
from tests.support.postgres import PostgresCluster


@pytest.fixture
def engines(tmp_path: Path, postgres_cluster: PostgresCluster) -> Any:
    urls = {
        "sqlite": f"sqlite:///{tmp_path / 'schema.db'}",
        "postgresql": normalize_database_url(postgres_cluster.new_database("schema")),
    }
    built: dict[str, Engine] = {}
    for name, url in urls.items():
        migrate(url)
        built[name] = make_engine(url)
    yield built
    for engine in built.values():
        engine.dispose()


def shape(engine: Engine) -> dict[str, Any]:
    """Tables -> column names and nullability, keys, unique constraints and indexes."""
    inspector = inspect(engine)
    tables: dict[str, Any] = {}
    for table in inspector.get_table_names():
        if not include_object(None, table, "table", True, None):
            continue
        columns = {
            column["name"]: column["nullable"]
            for column in inspector.get_columns(table)
            if include_object(None, column["name"], "column", True, None)
        }
        indexes = sorted(
            (index["name"], tuple(index["column_names"]), bool(index["unique"]))
            for index in inspector.get_indexes(table)
            # PostgreSQL also lists a unique constraint's own index; compared below.
            if include_object(None, index["name"], "index", True, None)
            and "duplicates_constraint" not in index
        )
        unique = sorted(
            tuple(constraint["column_names"])
            for constraint in inspector.get_unique_constraints(table)
        )
        foreign = sorted(
            (tuple(fk["constrained_columns"]), fk["referred_table"], fk["options"].get("ondelete"))
            for fk in inspector.get_foreign_keys(table)
        )
        primary = tuple(inspector.get_pk_constraint(table)["constrained_columns"])
        tables[table] = {
            "columns": columns,
            "indexes": indexes,
            "unique": unique,
            "fks": foreign,
            "pk": primary,
        }
    return tables


def test_both_dialects_migrate_to_the_same_schema(engines: dict[str, Engine]) -> None:
    sqlite, postgres = shape(engines["sqlite"]), shape(engines["postgresql"])

    assert sorted(sqlite) == sorted(postgres)
    for table in sqlite:
        assert sqlite[table] == postgres[table], table


def test_postgres_schema_matches_the_models(engines: dict[str, Engine]) -> None:
    with engines["postgresql"].connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []


def test_postgres_has_full_text_and_vector_columns(engines: dict[str, Engine]) -> None:
    inspector = inspect(engines["postgresql"])
    for table in ("messages", "passages"):
        columns = {column["name"]: str(column["type"]) for column in inspector.get_columns(table)}
        assert columns["search_tsv"] == "TSVECTOR"
        assert {index["name"] for index in inspector.get_indexes(table)} >= {f"ix_fts_{table}"}
    embeddings = {
        column["name"]: str(column["type"])
        for column in inspector.get_columns("message_embeddings")
    }
    assert embeddings["embedding"].lower().startswith("vector")


def test_migrating_postgres_twice_is_harmless(postgres_cluster: PostgresCluster) -> None:
    url = normalize_database_url(postgres_cluster.new_database("twice"))
    migrate(url)
    migrate(url)
