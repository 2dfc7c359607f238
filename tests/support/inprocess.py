"""The Engram app served from the test process: uvicorn in a thread on a free loopback port.

A use-case test needs a server that answers HTTP as ``engram serve`` does, not a process of
its own: starting one costs seconds (imports, migrations, the sandbox probe, loading the
embedding model), and the suite starts dozens. Here the same app (``create_app``) runs on
its own event loop in a daemon thread and shares what one process can share: the embedding
model's weights and the sandbox probe. Requests still go over real HTTP on 127.0.0.1.

What needs a process of its own stays on ``EngramServer``: kill and restart, the data-dir
lock between processes, start-up output, and servers given variables a process reads
(``PATH``...).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from engram.api.app import create_app
from engram.config import Settings
from engram.store.datadir_lock import DataDirLock, lock_database_file, sqlite_file
from engram.store.preflight import migrate_database
from tests.support import loopback

_START_TIMEOUT = 60.0


class _MappingEnvSource(EnvSettingsSource):
    """Settings' environment source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ  # read by _load_env_vars, which the base __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def settings_from(environ: Mapping[str, str]) -> Settings:
    """``Settings`` as a server whose environment is ``environ`` would read them: the same
    names, defaults and validation, and nothing of this process's own environment."""

    class _Settings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, _MappingEnvSource(settings_cls, environ))

    return _Settings()


def free_socket() -> socket.socket:
    """A listening socket on a free loopback port, TCP_NODELAY-able (see the fake LLM)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


class _LogFile(logging.Handler):
    """Appends this process's log records to a server's log file while it runs: what a
    test reads with ``log()``. Records of other servers alive meanwhile land in it too,
    so tests look for the lines they expect, never for the absence of one."""

    def __init__(self, path: Path, level: str) -> None:
        super().__init__(level.upper())
        self.path = path
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self._lock_file = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record) + "\n"
        with self._lock_file, self.path.open("a", encoding="utf-8", errors="replace") as out:
            out.write(line)


class InProcessServer:
    """``EngramServer``'s interface (start, stop, client, base_url, log) for one app
    served from this process. It has no ``kill``: a crash needs a process to crash."""

    def __init__(
        self,
        data_dir: Path,
        llm_base_url: str,
        extra_env: dict[str, str] | None = None,
        *,
        database_url: str | None = None,
        log_path: Path | None = None,
        log_level: str = "warning",
    ) -> None:
        """The arguments mean what they mean for ``EngramServer``; ``extra_env`` holds
        settings (``ENGRAM_*``) and provider variables, read from it and not from
        ``os.environ``, which is never changed."""
        self.data_dir = data_dir
        self.env: dict[str, str] = {
            **os.environ,
            "OPENAI_BASE_URL": llm_base_url,
            "OPENAI_API_KEY": "test-key",
            "ENGRAM_DATA_DIR": str(data_dir),
            **(extra_env or {}),
        }
        self.env.pop("ENGRAM_DATABASE_URL", None)
        if database_url is not None:
            self.env["ENGRAM_DATABASE_URL"] = database_url
        self.log_path = log_path or data_dir / "server.log"
        self.log_level = log_level
        self._socket: socket.socket | None = None
        self.port = 0
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock: DataDirLock | None = None
        self._log_handler: _LogFile | None = None

    def start(self, timeout: float = _START_TIMEOUT) -> float:
        """Migrate, start the app and wait until it answers; returns the seconds taken."""
        if self._thread is not None:
            raise RuntimeError("this server is already running")
        started = time.perf_counter()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        settings = settings_from(self.env)
        url = settings.resolved_database_url
        database = sqlite_file(url)
        self._lock = lock_database_file(database) if database else None
        self._log_handler = _LogFile(self.log_path, self.log_level)
        logging.getLogger().addHandler(self._log_handler)
        try:
            migrate_database(url)
            app = create_app(settings, schema_migrated=True, environ=self.env)
            self._serve(app, started + timeout)
        except BaseException:
            self._release()
            raise
        return time.perf_counter() - started

    def _serve(self, app: Any, deadline: float) -> None:
        sock = free_socket()
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            # The standard loop: uvloop cannot close a loop whose handles are still open,
            # and a stopped app's loop is closed in the thread, not with the process.
            loop="asyncio",
            log_config=None,
            log_level=self.log_level,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"engram:{self.port}", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        while not server.started:
            if not thread.is_alive() or time.perf_counter() > deadline:
                server.should_exit = True
                raise RuntimeError(f"the in-process engram did not start:\n{self.log()}")
            time.sleep(0.005)

    def stop(self) -> None:
        """A graceful shutdown, as SIGTERM gives ``engram serve``: the lifespan's end runs."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(30)
            if thread.is_alive():
                raise RuntimeError(f"the in-process engram on {self.base_url} did not stop")
        self._release()

    def _release(self) -> None:
        self._server = self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, **kwargs: Any) -> httpx.Client:
        return loopback.client(self.base_url, timeout=60, **kwargs)
