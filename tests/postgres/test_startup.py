"""A server that cannot use its PostgreSQL stops at once, exit code 2, naming what is
missing, without a traceback."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.fakes.fake_llm import FakeLLM
from tests.support.postgres import PostgresCluster
from tests.support.server import EngramServer, free_port

pytestmark = pytest.mark.slow  # see tests/conftest.py

_roles = itertools.count(1)


def start_failing(server: EngramServer) -> str:
    with pytest.raises(RuntimeError, match="exited early"):
        server.start()
    assert server.process is not None and server.process.returncode == 2
    log = server.log()
    assert "Traceback" not in log
    # Rich wraps long lines; compare without whitespace.
    return " ".join(log.split())


def limited_role(cluster: PostgresCluster) -> tuple[str, str]:
    """A login role (no superuser) owning a fresh database of its own."""
    role = f"engram_limited_{next(_roles)}"
    database = f"{role}_db"
    cluster.execute(f"CREATE ROLE {role} LOGIN", f"CREATE DATABASE {database} OWNER {role}")
    return role, database


def test_an_unreachable_database_is_named(fake_llm_server: FakeLLM, tmp_path: Path) -> None:
    url = f"postgresql://engram@127.0.0.1:{free_port()}/engram"
    server = EngramServer(tmp_path / "data", fake_llm_server.base_url, database_url=url)

    log = start_failing(server)

    assert "cannot connect to PostgreSQL at" in log
    assert "Connection refused" in log or "connection failed" in log


def test_a_user_who_may_not_create_the_vector_extension_is_told_how_to_fix_it(
    fake_llm_server: FakeLLM, tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    role, database = limited_role(postgres_cluster)
    url = postgres_cluster.url(database, user=role)
    server = EngramServer(tmp_path / "data", fake_llm_server.base_url, database_url=url)

    log = start_failing(server)

    assert f"user {role} may not create the pgvector extension ('vector')" in log
    assert "CREATE EXTENSION vector;" in log

    # Once an administrator has created it, the same user starts fine.
    postgres_cluster.execute("CREATE EXTENSION vector", database=database)
    server.start()
    with server.client() as client:
        assert client.get("/v1/agents/").status_code == 200
    server.stop()


def test_a_user_who_may_not_create_tables_is_told_so(
    fake_llm_server: FakeLLM, tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    role = f"engram_reader_{next(_roles)}"
    database = postgres_cluster.create_database()
    postgres_cluster.execute(f"CREATE ROLE {role} LOGIN")
    postgres_cluster.execute("CREATE EXTENSION vector", database=database)
    url = postgres_cluster.url(database, user=role)
    server = EngramServer(tmp_path / "data", fake_llm_server.base_url, database_url=url)

    log = start_failing(server)

    assert f"user {role} may not create tables in database {database}" in log
