"""Memory changes made from outside the agent (the API), each one transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.memory import archival
from engram.memory.ranking import SearchMode
from engram.runtime.engine import Services
from engram.store import agents, passages
from engram.store import tables as t
from engram.store.tables import as_utc


async def insert_passage(
    rt: Services, agent_id: str, text: str, tags: list[str] | None, created_at: str | None
) -> t.Passage:
    when = None
    if created_at:
        try:
            when = as_utc(datetime.fromisoformat(created_at)).astimezone(UTC)
        except ValueError as exc:
            raise InvalidInput("created_at", f"not an ISO 8601 time: '{created_at}'") from exc

    def _read(session: Session) -> Any:
        agent = agents.get(session, agent_id)
        return agent

    agent = await rt.db.read(_read)
    embedder = rt.embeddings.embedder_for(agent.embedding_config)
    vector = await archival.embed_one(embedder, text)

    def _write(session: Session) -> Any:
        agents.get(session, agent_id)
        row = passages.new_passage(
            agent_id=agent_id,
            text_=text,
            embedding=vector,
            embedding_handle=embedder.handle,
            tags=tags,
            created_at=when,
        )
        session.add(row)
        return row

    row = await rt.db.write(_write)
    return row


async def search_passages(
    rt: Services,
    agent_id: str,
    query: str,
    *,
    tags: list[str] | None,
    match_all: bool,
    top_k: int,
    start: datetime | None,
    end: datetime | None,
    mode: SearchMode = "hybrid",
) -> tuple[t.Agent, list[archival.Hit]]:
    def _read(session: Session) -> Any:
        agent = agents.get(session, agent_id)
        return agent

    agent = await rt.db.read(_read)
    vector: list[float] = []
    if mode != "fts":
        embedder = rt.embeddings.embedder_for(agent.embedding_config)
        vector = await archival.embed_one(embedder, query)

    def _read(session: Session) -> Any:
        hits = archival.search(
            session,
            rt.vectors,
            agent_id,
            query,
            vector,
            top_k=top_k,
            tags=tags,
            match_all_tags=match_all,
            start=start,
            end=end,
            mode=mode,
        )
        return hits

    hits = await rt.db.read(_read)
    return agent, hits
