"""One server per SQLite data dir: a second ``engram serve`` (or a ``db migrate``) on a data
dir a server holds, or on a port in use, stops with one line before it touches the
database; PostgreSQL replicas share a database freely."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes import FakeLLM, reply
from tests.support import loopback
from tests.support.backends import Backend
from tests.support.server import EngramServer, free_port

pytestmark = pytest.mark.slow  # see tests/conftest.py

MODEL = "openai/gpt-4o-mini"


def engram(
    *args: str, data_dir: Path, database_url: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the ``engram`` command to completion (a refused ``serve`` exits at once)."""
    env = {**os.environ, "ENGRAM_DATA_DIR": str(data_dir), "OPENAI_API_KEY": "test-key"}
    env.pop("ENGRAM_DATABASE_URL", None)
    if database_url is not None:
        env["ENGRAM_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "engram", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_a_second_server_on_a_held_data_dir_is_refused_naming_the_holder(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend
) -> None:
    database_url = backend.database_url()
    first = EngramServer(tmp_path / "data", fake_llm.base_url, database_url=database_url)
    first.start()
    try:
        assert first.process is not None
        if database_url is None:
            second = engram(
                "serve", "--port", str(free_port()), data_dir=first.data_dir, timeout=30
            )
            assert second.returncode == 2, second.stderr
            line = one_line(second.stderr)
            assert f"data dir {first.data_dir} is in use by process {first.process.pid}" in line
            assert "Traceback" not in second.stderr
        else:
            # Replicas on one PostgreSQL database are the supported way to scale out.
            replica = EngramServer(
                tmp_path / "replica", fake_llm.base_url, database_url=database_url
            )
            replica.start()
            try:
                with replica.client() as client:
                    assert client.get("/v1/agents/").status_code == 200
            finally:
                replica.stop()
        with first.client() as client:
            assert client.get("/v1/health/").status_code == 200
    finally:
        first.stop()


def test_a_killed_server_leaves_no_stale_lock(fake_llm: FakeLLM, tmp_path: Path) -> None:
    server = EngramServer(tmp_path / "data", fake_llm.base_url)
    server.start()
    server.kill()
    try:
        server.start()  # the kernel dropped the lock with the process
        assert server.process is not None
        lock = (server.data_dir / "engram.lock").read_text().strip()
        assert lock == str(server.process.pid)
    finally:
        server.stop()


def test_a_taken_port_stops_a_second_server_before_the_database(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    first = EngramServer(tmp_path / "data", fake_llm.base_url)
    first.start()
    try:
        with first.client() as client:
            agent = client.post("/v1/agents/", json={"name": "busy", "model": MODEL}).json()
            fake_llm.script(reply.text("done at last", delay=8))
            started = client.post(
                f"/v1/agents/{agent['id']}/messages/async",
                json={"messages": [{"role": "user", "content": "take your time"}]},
            )
            assert started.status_code == 200, started.text
            run_id = started.json()["id"]
            fake_llm.wait_for_requests(1, timeout=20)
            assert client.get(f"/v1/runs/{run_id}").json()["status"] == "running"

            # Same port, same data dir: the case that used to fail the first one's run.
            same = engram("serve", "--port", str(first.port), data_dir=first.data_dir)
            assert same.returncode == 2, same.stderr
            assert f"port {first.port} on 127.0.0.1 is in use" in one_line(same.stderr)
            # Same port, another data dir: refused before that database is even created.
            other_dir = tmp_path / "other"
            other = engram("serve", "--port", str(first.port), data_dir=other_dir)
            assert other.returncode == 2, other.stderr
            assert f"port {first.port}" in one_line(other.stderr)
            assert not other_dir.exists()

            # Untouched: still running (or finished by now on a slow machine), never failed.
            assert client.get(f"/v1/runs/{run_id}").json()["status"] in ("running", "completed")
            deadline = time.monotonic() + 30
            while (run := client.get(f"/v1/runs/{run_id}").json())["status"] == "running":
                assert time.monotonic() < deadline, run
                time.sleep(0.1)
            assert run["status"] == "completed", run
            messages = client.get(f"/v1/agents/{agent['id']}/messages").json()
            assert any(m.get("content") == "done at last" for m in messages)
    finally:
        first.stop()


def test_db_migrate_refuses_while_a_server_holds_the_data_dir(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    server = EngramServer(tmp_path / "data", fake_llm.base_url)
    server.start()
    target = tmp_path / "target" / "engram.db"
    try:
        assert server.process is not None
        copied = engram(
            "db", "migrate", "--to", f"sqlite:///{target}", "--data-dir", str(server.data_dir),
            data_dir=server.data_dir,
        )  # fmt: skip
        assert copied.returncode == 2, copied.stderr
        assert f"in use by process {server.process.pid}" in one_line(copied.stderr)
        assert not target.exists()
    finally:
        server.stop()
    # Stopped, the same copy goes through.
    copied = engram(
        "db", "migrate", "--to", f"sqlite:///{target}", "--data-dir", str(server.data_dir),
        data_dir=server.data_dir,
    )  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    assert "Copied and verified" in copied.stderr


def test_db_migrate_refuses_a_data_dir_without_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    target = tmp_path / "target" / "engram.db"
    copied = engram(
        "db", "migrate", "--to", f"sqlite:///{target}", "--data-dir", str(missing),
        data_dir=missing,
    )  # fmt: skip
    assert copied.returncode == 2, copied.stderr
    assert f"there is no Engram database in {missing}" in one_line(copied.stderr)
    assert not missing.exists()
    assert not target.exists()


def test_db_migrate_answers_a_bad_target_url_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "data"
    source.mkdir()
    (source / "engram.db").touch()
    for bad, expected in [
        ("not a url", "is not a database URL"),
        ("nosuchdriver://host/db", "is not a database URL"),
        ("mysql://user@host/db", "Engram runs on PostgreSQL or SQLite, not mysql"),
    ]:
        copied = engram("db", "migrate", "--to", bad, "--data-dir", str(source), data_dir=source)
        assert copied.returncode == 2, copied.stderr
        assert expected in one_line(copied.stderr)
        assert "Traceback" not in copied.stderr


def test_version_option_and_command_agree() -> None:
    from engram import __version__

    for args in (["--version"], ["version"]):
        shown = subprocess.run(
            [sys.executable, "-m", "engram", *args], capture_output=True, text=True, timeout=30
        )
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.strip() == __version__


def test_health_still_answers_after_refusals(fake_llm: FakeLLM, tmp_path: Path) -> None:
    """A refused start leaves the lock file holding the first server's PID."""
    first = EngramServer(tmp_path / "data", fake_llm.base_url)
    first.start()
    try:
        assert first.process is not None
        for _ in range(2):
            refused = engram("serve", "--port", str(free_port()), data_dir=first.data_dir)
            assert refused.returncode == 2
        lock = (first.data_dir / "engram.lock").read_text().strip()
        assert lock == str(first.process.pid)
        assert loopback.get(f"{first.base_url}/v1/health/", timeout=5).status_code == 200
    finally:
        first.stop()


def test_a_sqlite_database_url_is_locked_like_a_data_dir(fake_llm: FakeLLM, tmp_path: Path) -> None:
    """ENGRAM_DATABASE_URL=sqlite:///... names the same file by another route."""
    first = EngramServer(tmp_path / "data", fake_llm.base_url)
    first.start()
    try:
        assert first.process is not None
        second = engram(
            "serve",
            "--port",
            str(free_port()),
            data_dir=tmp_path / "elsewhere",
            database_url=f"sqlite:///{first.data_dir / 'engram.db'}",
        )
        assert second.returncode == 2, second.stderr
        assert f"in use by process {first.process.pid}" in one_line(second.stderr)
    finally:
        first.stop()
