"""A real ``engram serve`` subprocess on a free port, for end-to-end tests and benchmarks,
and ``serving``, which starts the server a module's use-case tests share."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

import httpx

from tests.support import loopback
from tests.support.inprocess import InProcessServer


class RunningServer(Protocol):
    """What use-case tests use of a server, in a process of its own or not."""

    base_url: str

    def start(self, timeout: float = ...) -> float: ...

    def stop(self) -> None: ...

    def log(self) -> str: ...

    def client(self, **kwargs: Any) -> httpx.Client: ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EngramServer:
    """Starts, kills and restarts one server process on one data dir."""

    def __init__(
        self,
        data_dir: Path,
        llm_base_url: str,
        extra_env: dict[str, str] | None = None,
        *,
        database_url: str | None = None,
        log_path: Path | None = None,
        log_level: str = "warning",
    ):
        """``database_url`` None: SQLite in ``data_dir``; else that database (PostgreSQL).
        ``log_path`` defaults to ``server.log`` in the data dir."""
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "OPENAI_BASE_URL": llm_base_url,
            "OPENAI_API_KEY": "test-key",
            "ENGRAM_DATA_DIR": str(data_dir),
            **(extra_env or {}),
        }
        self.env.pop("ENGRAM_DATABASE_URL", None)
        if database_url is not None:
            self.env["ENGRAM_DATABASE_URL"] = database_url
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = log_path or data_dir / "server.log"
        self.log_level = log_level

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait until healthy; returns seconds from spawn to healthy."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        # The child writes to its own copy of the file; ours is closed once it is spawned.
        with self.log_path.open("ab") as log:
            self.process = self._spawn(log)
        deadline = started + timeout
        with loopback.client(self.base_url, timeout=1) as poll:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"engram exited early:\n{self.log()}")
                try:
                    if poll.get("/v1/health/").status_code == 200:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
        self.kill()  # not left running (and holding its data dir) after the test gave up
        raise RuntimeError(f"engram did not become healthy:\n{self.log()}")

    def _spawn(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engram",
                "serve",
                "--port",
                str(self.port),
                "--log-level",
                self.log_level,
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; what is committed must survive."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, **kwargs: Any) -> httpx.Client:
        return loopback.client(self.base_url, timeout=60, **kwargs)


def needs_a_process(extra_env: dict[str, str] | None) -> bool:
    """Whether a server given ``extra_env`` must be a process of its own: a variable other
    than a setting (``ENGRAM_*``) or a provider's (``*_API_KEY``, ``*_BASE_URL``), such as
    ``PATH``, is read by the process itself, not through the settings."""
    return any(
        not name.startswith("ENGRAM_") and not name.endswith(("_API_KEY", "_BASE_URL"))
        for name in extra_env or {}
    )


@contextlib.contextmanager
def serving(
    data_dir: Path,
    llm_base_url: str,
    extra_env: dict[str, str] | None = None,
    *,
    database_url: str | None = None,
    in_process: bool = False,
) -> Iterator[RunningServer]:
    """A started server, stopped on the way out: the body of module-scoped fixtures that
    need a server with settings of their own. ``in_process``: served from the test process
    (see ``tests.support.inprocess``), for use-case tests, unless ``extra_env`` needs a
    process of its own; else an ``engram serve`` process (start-up output, sandboxes,
    signals)."""
    server: RunningServer
    kind = InProcessServer if in_process and not needs_a_process(extra_env) else EngramServer
    server = kind(data_dir, llm_base_url, extra_env, database_url=database_url)
    server.start()
    try:
        yield server
    finally:
        server.stop()
