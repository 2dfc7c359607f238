"""A migrated SQLite file holding one agent, for unit tests that work on the store's rows
directly (leases, file views and tools) without a server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engram.store import tables as t
from engram.store.db import make_engine, migrate


@contextlib.contextmanager
def session_with_agent(
    path: Path,
    *,
    name: str = "a",
    system: str = "",
    llm_config: dict[str, Any] | None = None,
    embedding_config: dict[str, Any] | None = None,
) -> Iterator[Session]:
    """A session on a freshly migrated database at ``path`` where agent ``agent-1`` exists
    (flushed); the engine is disposed after."""
    url = f"sqlite:///{path}"
    migrate(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            session.add(
                t.Agent(
                    id="agent-1",
                    name=name,
                    system=system,
                    agent_type="letta_v1_agent",
                    llm_config=llm_config or {},
                    embedding_config=embedding_config or {},
                )
            )
            session.flush()
            yield session
    finally:
        engine.dispose()
