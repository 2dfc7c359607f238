"""What a sandboxed tool may do to its own agent's memory, and nothing else.

The operations mirror the built-in memory tools (read and edit core blocks, insert into
and search archival memory) with the same checks: block size limits, read-only blocks,
the edit history. Unlike a built-in tool's effects, which commit with the step, each
operation here commits at once, in its own transaction: a custom tool is outside code
calling in, and what it has done is done even if the step that called it goes on to fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from engram.errors import EngramError, InvalidInput, NotFound
from engram.memory import archival, core
from engram.memory.embeddings import Embedder
from engram.store import agents, block_history, blocks, passages
from engram.store import tables as t
from engram.store.tables import as_utc

if TYPE_CHECKING:
    from engram.memory.embeddings import EmbeddingRegistry
    from engram.store.db import Database
    from engram.store.vectors import VectorIndex

T = TypeVar("T")

MAX_SEARCH_RESULTS = 50
MAX_PASSAGE_CHARS = 100_000


class MemoryDeps(Protocol):
    """What the operations touch: the database, the agents' embedders, the passage index."""

    @property
    def db(self) -> Database: ...

    @property
    def embeddings(self) -> EmbeddingRegistry: ...

    @property
    def vectors(self) -> VectorIndex: ...


class CallbackError(Exception):
    """A request the gateway refuses; the message goes back to the tool."""


@dataclass(frozen=True)
class Grant:
    """Whose memory a token opens, and which call of which step it was issued for (the
    provenance of what the tool writes)."""

    agent_id: str
    tool_name: str
    run_id: str | None = None
    step_id: str | None = None
    message_id: str | None = None


Operation = Callable[[MemoryDeps, Grant, dict[str, Any]], Awaitable[Any]]


def _text(args: dict[str, Any], name: str, *, allow_empty: bool = True) -> str:
    value = args.get(name)
    if not isinstance(value, str):
        raise CallbackError(f"'{name}' must be a string")
    if not allow_empty and not value.strip():
        raise CallbackError(f"'{name}' must not be empty")
    return value


def _tags(args: dict[str, Any]) -> list[str] | None:
    tags = args.get("tags")
    if tags is None:
        return None
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise CallbackError("'tags' must be a list of strings")
    return tags


def _block_view(block: t.Block) -> dict[str, Any]:
    return {
        "label": block.label,
        "value": block.value,
        "limit": block.limit,
        "read_only": bool(block.read_only),
        "description": block.description,
    }


async def _read(deps: MemoryDeps, grant: Grant, work: Callable[[Session], T]) -> T:
    def unit(session: Session) -> T:
        agents.get(session, grant.agent_id)
        return work(session)

    try:
        return await deps.db.read(unit)
    except NotFound as exc:
        raise CallbackError(str(exc)) from exc


async def _write(deps: MemoryDeps, grant: Grant, work: Callable[[Session], T]) -> T:
    def unit(session: Session) -> T:
        agents.get(session, grant.agent_id)
        return work(session)

    try:
        return await deps.db.write(unit)
    except (NotFound, InvalidInput) as exc:
        raise CallbackError(str(exc)) from exc


def _block(session: Session, grant: Grant, label: str) -> t.Block:
    for block in blocks.for_agent(session, grant.agent_id):
        if block.label == label:
            return block
    raise CallbackError(f"the agent has no memory block labelled '{label}'")


async def list_blocks(deps: MemoryDeps, grant: Grant, args: dict[str, Any]) -> list[dict[str, Any]]:
    return await _read(
        deps, grant, lambda s: [_block_view(b) for b in blocks.for_agent(s, grant.agent_id)]
    )


async def get_block(deps: MemoryDeps, grant: Grant, args: dict[str, Any]) -> dict[str, Any]:
    label = _text(args, "label")
    return await _read(deps, grant, lambda s: _block_view(_block(s, grant, label)))


def _edit(grant: Grant, label: str, change: Callable[[t.Block], str]) -> Callable[[Session], Any]:
    def work(session: Session) -> dict[str, Any]:
        block = _block(session, grant, label)
        old = block.value
        try:
            block.value = change(block)
        except core.EditRejected as exc:
            raise CallbackError(str(exc)) from exc
        block_history.record(
            session,
            block,
            old,
            actor_type="tool",
            actor_id=grant.tool_name,
            run_id=grant.run_id,
            step_id=grant.step_id,
        )
        return _block_view(block)

    return work


def _replaced_value(value: str) -> Callable[[t.Block], str]:
    def change(block: t.Block) -> str:
        core.ensure_writable(block)
        blocks.check_fits(block.label, value, block.limit)
        return value

    return change


async def set_block(deps: MemoryDeps, grant: Grant, args: dict[str, Any]) -> dict[str, Any]:
    label, value = _text(args, "label"), _text(args, "value")
    return await _write(deps, grant, _edit(grant, label, _replaced_value(value)))


async def append_block(deps: MemoryDeps, grant: Grant, args: dict[str, Any]) -> dict[str, Any]:
    label, text = _text(args, "label"), _text(args, "text", allow_empty=False)
    return await _write(deps, grant, _edit(grant, label, lambda b: core.append(b, text)))


async def replace_in_block(deps: MemoryDeps, grant: Grant, args: dict[str, Any]) -> dict[str, Any]:
    label, old, new = _text(args, "label"), _text(args, "old"), _text(args, "new")
    return await _write(
        deps, grant, _edit(grant, label, lambda b: core.replace_unique(b, old, new))
    )


async def _embedded(
    deps: MemoryDeps, grant: Grant, text: str, *, what: str
) -> tuple[Embedder, list[float]]:
    """The agent's embedder and ``text``'s vector, computed outside any transaction."""
    agent = await _read(deps, grant, lambda s: agents.get(s, grant.agent_id))
    embedder = deps.embeddings.embedder_for(agent.embedding_config)
    try:
        return embedder, await archival.embed_one(embedder, text)
    except EngramError as exc:
        raise CallbackError(f"the {what} could not be embedded: {exc}") from exc


async def archival_insert(deps: MemoryDeps, grant: Grant, args: dict[str, Any]) -> dict[str, Any]:
    """Store a passage (several, in order, when the text is longer than the agent's
    embedding model reads): ``id`` and ``created_at`` of the first, ``ids`` of all."""
    text, tags = _text(args, "text", allow_empty=False), _tags(args)
    if len(text) > MAX_PASSAGE_CHARS:
        raise CallbackError(f"'text' is over {MAX_PASSAGE_CHARS} characters")
    embedder, texts, vectors = await _embedded_pieces(deps, grant, text)

    def work(session: Session) -> dict[str, Any]:
        rows = [
            passages.new_passage(
                agent_id=grant.agent_id,
                text_=piece,
                embedding=vector,
                embedding_handle=embedder.handle,
                tags=tags,
                run_id=grant.run_id,
                step_id=grant.step_id,
                message_id=grant.message_id,
                metadata={"written_by_tool": grant.tool_name},
            )
            for piece, vector in zip(texts, vectors, strict=True)
        ]
        session.add_all(rows)
        session.flush()
        first = rows[0]
        created_at = as_utc(first.created_at).isoformat()
        return {"id": first.id, "created_at": created_at, "ids": [row.id for row in rows]}

    return await _write(deps, grant, work)


async def _embedded_pieces(
    deps: MemoryDeps, grant: Grant, text: str
) -> tuple[Embedder, list[str], list[list[float]]]:
    """The agent's embedder, the passages ``text`` is stored as, and their vectors,
    computed outside any transaction."""
    agent = await _read(deps, grant, lambda s: agents.get(s, grant.agent_id))
    config = agent.embedding_config
    embedder = deps.embeddings.embedder_for(config)
    local_dir = deps.embeddings.local_model_dir
    try:
        texts = await asyncio.to_thread(
            archival.passage_texts, text, config, local_model_dir=local_dir
        )
        return embedder, texts, await embedder.embed(texts)
    except EngramError as exc:
        raise CallbackError(f"the text could not be embedded: {exc}") from exc


async def archival_search(
    deps: MemoryDeps, grant: Grant, args: dict[str, Any]
) -> list[dict[str, Any]]:
    query, tags = _text(args, "query", allow_empty=False), _tags(args)
    top_k = args.get("top_k", 10)
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise CallbackError("'top_k' must be a positive integer")
    _embedder, vector = await _embedded(deps, grant, query, what="query")

    def work(session: Session) -> list[dict[str, Any]]:
        hits = archival.search(
            session,
            deps.vectors,
            grant.agent_id,
            query,
            vector,
            top_k=min(top_k, MAX_SEARCH_RESULTS),
            tags=tags,
        )
        return [
            {
                "id": hit.passage.id,
                "text": hit.passage.text,
                "tags": hit.passage.tags or [],
                "created_at": as_utc(hit.passage.created_at).isoformat(),
            }
            for hit in hits
        ]

    return await _read(deps, grant, work)


OPERATIONS: dict[str, Operation] = {
    "list_blocks": list_blocks,
    "get_block": get_block,
    "set_block": set_block,
    "append_block": append_block,
    "replace_in_block": replace_in_block,
    "archival_insert": archival_insert,
    "archival_search": archival_search,
}
