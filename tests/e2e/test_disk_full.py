"""A full disk answers 507 with Retry-After and a message, not a 500; the server keeps
serving reads and takes writes again once space is freed. A data dir that cannot be created
or written stops ``engram serve`` with one line naming the path and the reason.

The small disks are real: tmpfs mounts of a few MiB (the tests skip where mounting is not
permitted)."""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeLLM
from tests.support.backends import selected_backends
from tests.support.postgres import PostgresCluster
from tests.support.server import EngramServer, free_port

pytestmark = pytest.mark.slow  # see tests/conftest.py

MODEL = "openai/gpt-4o-mini"
PASSAGE = 200_000
"""Characters per passage written to fill the disk: a few dozen fill a few MiB."""

EMBEDDING = "openai/text-embedding-3-small"
"""Embedded by the fake LLM at once: a passage this long is stored as the pieces the model
reads (docs/memory.md), and the local model would spend minutes on them."""


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of the filesystem holding ``directory``; returns the file."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 512):  # big pieces, then the last few bytes
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(descriptor)
    return filler


def passage_text(n: int) -> str:
    # Varied text, so neither SQLite pages nor PostgreSQL's TOAST compress it away.
    words = (f"w{(n * 7919 + i * 104729) % 1_000_003:x}" for i in range(PASSAGE // 7))
    return " ".join(words)[:PASSAGE]


def insert_until_full(client: httpx.Client, agent_id: str, tries: int = 60) -> httpx.Response:
    for n in range(tries):
        answer = client.post(
            f"/v1/agents/{agent_id}/archival-memory", json={"text": passage_text(n)}
        )
        if answer.status_code != 200:
            return answer
    pytest.fail(f"{tries} passages of {PASSAGE} characters all fit: the disk never filled")


def assert_insufficient_storage(answer: httpx.Response) -> None:
    assert answer.status_code == 507, answer.text
    assert "disk holding the database is full" in answer.json()["detail"]
    assert int(answer.headers["Retry-After"]) > 0


def test_sqlite_on_a_full_disk_answers_507_and_recovers(fake_llm: FakeLLM, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "tiny", "size=6m") as data_dir:
        server = EngramServer(data_dir, fake_llm.base_url, log_path=tmp_path / "server.log")
        server.start()
        try:
            with server.client() as client:
                agent = client.post(
                    "/v1/agents/", json={"name": "full", "model": MODEL, "embedding": EMBEDDING}
                ).json()
                filler = fill(data_dir)
                full = insert_until_full(client, agent["id"])
                assert_insufficient_storage(full)
                # Reads go on; the agent is whole.
                assert client.get(f"/v1/agents/{agent['id']}").status_code == 200
                stored = client.get(f"/v1/agents/{agent['id']}/archival-memory").json()
                filler.unlink()
                again = client.post(
                    f"/v1/agents/{agent['id']}/archival-memory", json={"text": "room again"}
                )
                assert again.status_code == 200, again.text
                after = client.get(f"/v1/agents/{agent['id']}/archival-memory").json()
                assert len(after) == len(stored) + 1
        finally:
            server.stop()
        assert "Traceback" not in server.log()


@pytest.fixture
def tiny_tablespace(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[PostgresCluster, str]]:
    """A 2 MiB tablespace owned by the PostgreSQL server's user."""
    if "postgres" not in selected_backends():
        pytest.skip("PostgreSQL is not among ENGRAM_TEST_BACKENDS")
    postgres_cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    owner = pwd.getpwnam(postgres_cluster._server.system_user)
    # Outside pytest's tmp_path: the server's user must be able to reach the directory.
    base = Path(tempfile.mkdtemp(prefix="engram-ts-"))
    base.chmod(0o755)
    options = f"size=2m,uid={owner.pw_uid},gid={owner.pw_gid},mode=0700"
    with tmpfs(base / "ts", options) as path:
        name = f"tiny_{os.getpid()}"
        postgres_cluster.execute(f"CREATE TABLESPACE {name} LOCATION '{path}'")
        try:
            yield postgres_cluster, name
        finally:
            with contextlib.suppress(Exception):
                postgres_cluster.execute(f"DROP TABLESPACE {name}")
    shutil.rmtree(base, ignore_errors=True)


def test_postgres_disk_full_answers_507(
    fake_llm: FakeLLM, tmp_path: Path, tiny_tablespace: tuple[PostgresCluster, str]
) -> None:
    cluster, tablespace = tiny_tablespace
    database = cluster.create_database()
    server = EngramServer(tmp_path / "data", fake_llm.base_url, database_url=cluster.url(database))
    server.start()
    try:
        # The passages (and their TOAST table) move onto the tiny disk.
        cluster.execute(f"ALTER TABLE passages SET TABLESPACE {tablespace}", database=database)
        with server.client() as client:
            agent = client.post(
                "/v1/agents/", json={"name": "full", "model": MODEL, "embedding": EMBEDDING}
            ).json()
            assert_insufficient_storage(insert_until_full(client, agent["id"]))
            assert client.get(f"/v1/agents/{agent['id']}").status_code == 200
    finally:
        server.stop()
        cluster.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def serve_on(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENGRAM_DATA_DIR": str(data_dir)}
    env.pop("ENGRAM_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "engram", "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_a_data_dir_under_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    data_dir = tmp_path / "a-file" / "data"
    refused = serve_on(data_dir)
    assert refused.returncode == 2, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert f"cannot use data dir {data_dir}: Not a directory" in lines[0]


def test_a_read_only_data_dir_is_refused_in_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "size=1m,ro") as data_dir:
        refused = serve_on(data_dir)
    assert refused.returncode == 2, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert f"cannot use data dir {data_dir}: Read-only file system" in lines[0]


def test_a_data_dir_too_full_to_migrate_is_refused_in_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "size=200k") as data_dir:
        refused = serve_on(data_dir)
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("Cannot start: the disk holding")
    assert f"{data_dir}/engram.db is full" in last
