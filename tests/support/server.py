"""A real ``engram serve`` subprocess on a free port, for end-to-end tests and benchmarks."""

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

import httpx


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

    def start(self, timeout: float = 30.0) -> float:
        """Start and wait until healthy; returns seconds from spawn to healthy."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        started = time.perf_counter()
        self.process = subprocess.Popen(
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
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"engram exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/v1/health/", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"engram did not become healthy:\n{self.log()}")

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

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60, **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def serving(
    data_dir: Path,
    llm_base_url: str,
    extra_env: dict[str, str] | None = None,
    *,
    database_url: str | None = None,
) -> Iterator[EngramServer]:
    """A started server, stopped on the way out: the body of module-scoped fixtures that
    need a server with settings of their own."""
    server = EngramServer(data_dir, llm_base_url, extra_env, database_url=database_url)
    server.start()
    try:
        yield server
    finally:
        server.stop()
