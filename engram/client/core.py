"""``AsyncEngram``: opens a data dir or database in this process and exposes its
operations as resources, without an HTTP server in between."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Any

from engram.client.agents import AsyncAgents
from engram.client.archives import AsyncArchives, AsyncPassages
from engram.client.blocks import AsyncBlocks
from engram.client.catalog import AsyncModels, AsyncTags, Health, check_health
from engram.client.conversations import AsyncConversations
from engram.client.folders import AsyncFolders
from engram.client.groups import AsyncGroups
from engram.client.identities import AsyncIdentities
from engram.client.mcp_servers import AsyncMcpServers
from engram.client.messages import AsyncMessages
from engram.client.runs import AsyncRuns, AsyncSteps
from engram.client.tools import AsyncTools
from engram.config import Settings
from engram.runtime import lifecycle
from engram.runtime.engine import Services
from engram.store.datadir_lock import DataDirLock, lock_database_file, sqlite_file
from engram.store.preflight import migrate_database


def settings_for(target: str | Path | None, overrides: dict[str, Any]) -> Settings:
    """``target`` is a data dir (a path), a database URL (``sqlite:///...``,
    ``postgresql://...``), or None for the environment's (``ENGRAM_DATA_DIR`` ...)."""
    fields = dict(overrides)
    if target is not None:
        text = str(target)
        if "://" in text:
            fields["database_url"] = text
        else:
            fields["data_dir"] = Path(text).expanduser()
    return Settings(**fields)


class AsyncEngram:
    """One open Engram: its database, providers, embedders and job queue, in-process.

    Open it with ``await AsyncEngram.open(...)`` (or ``async with``) and close it when done:
    closing stops the background work (queued runs, recall indexing) cleanly. A SQLite data
    dir is locked while open, as a server locks it, so a server and a client never share
    one file by accident."""

    def __init__(self, services: Services, lock: DataDirLock | None = None) -> None:
        self._services = services
        self._lock = lock
        self.agents = AsyncAgents(services)
        self.blocks = AsyncBlocks(services)
        self.tools = AsyncTools(services)
        self.archives = AsyncArchives(services)
        self.folders = AsyncFolders(services)
        self.passages = AsyncPassages(services)
        self.messages = AsyncMessages(services)
        self.runs = AsyncRuns(services)
        self.steps = AsyncSteps(services)
        self.mcp_servers = AsyncMcpServers(services)
        self.models = AsyncModels(services)
        self.tags = AsyncTags(services)
        self.identities = AsyncIdentities(services)
        self.groups = AsyncGroups(services)
        self.conversations = AsyncConversations(services)

    @classmethod
    async def open(cls, target: str | Path | None = None, **settings: Any) -> AsyncEngram:
        """Open ``target`` (a data dir or a database URL); keyword arguments override
        settings by their field names (``llm_timeout_seconds=30``...)."""
        resolved = settings_for(target, settings)
        database = sqlite_file(resolved.resolved_database_url)
        lock = lock_database_file(database) if database else None
        try:
            await asyncio.to_thread(migrate_database, resolved.resolved_database_url)
            services = Services(resolved, schema_migrated=True)
            await lifecycle.start(services)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return cls(services, lock)

    async def health(self) -> Health:
        """Up, which version, and the sandbox custom tools run in."""
        return await check_health(self._services)

    @property
    def settings(self) -> Settings:
        return self._services.settings

    async def close(self) -> None:
        try:
            await self._services.close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    async def __aenter__(self) -> AsyncEngram:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
