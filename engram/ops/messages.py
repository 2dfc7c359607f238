"""An agent's history and the messages of every agent: listing, searching, checking what
a turn is about to receive, resetting the window, folding it into the summary, and
deleting a message without breaking what depends on it.

Running a turn is not here: that is the step engine's (``engram.runtime.step.run_turn``
and ``engram.runtime.streaming.TurnStream``); ``check_inputs`` is what the callers of that
entry run first, so a refused request records nothing.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy import delete as delete_rows
from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.errors import Conflict, NotFound
from engram.memory import policy, recall
from engram.memory.rerank import Reranked, candidate_count, enabled_for, rerank
from engram.ops import initial_messages
from engram.ops.agents import AgentBundle, bundle
from engram.ops.deps import HasDb, HasReranker, HasSettings
from engram.runtime import approvals, recall_index
from engram.runtime.context import window_size
from engram.runtime.folding import FoldingDeps, fold_window
from engram.runtime.input_fit import check_inputs_fit
from engram.runtime.model_abilities import check_abilities
from engram.runtime.step_rows import InputMessage
from engram.runtime.views import HELD
from engram.store import agents, conversations, messages, passages
from engram.store import tables as t

if TYPE_CHECKING:
    from engram.memory.embeddings import EmbeddingRegistry
    from engram.runtime.window import WindowCache
    from engram.store.vectors import VectorIndex

# The roles a message search covers (its results are the contract's *MessageListResult).
SEARCHABLE_ROLES = ("user", "assistant", "system")


class HasRecallSearch(HasDb, Protocol):
    """Embeds a query and searches messages by meaning."""

    @property
    def embeddings(self) -> EmbeddingRegistry: ...

    @property
    def message_vectors(self) -> VectorIndex: ...


class HasRerankedRecall(HasRecallSearch, HasReranker, Protocol):
    """Searches messages and reranks the head of the results."""


class HasRecallStatus(HasDb, HasSettings, Protocol):
    """Reads the recall index's progress and whether it runs at all."""


class HasAgentLock(HasDb, Protocol):
    """Changes an agent's history under its lock, then drops its cached window: deleting."""

    @property
    def windows(self) -> WindowCache: ...

    def agent_lock(self, agent_id: str) -> AbstractAsyncContextManager[None]: ...


class HasCompaction(HasAgentLock, FoldingDeps, Protocol):
    """Folds an agent's window now: its lock, and what a fold uses (a model to summarize)."""


# --------------------------------------------------------------------------- turns


async def check_inputs(
    deps: HasDb,
    agent_id: str,
    inputs: list[InputMessage],
    llm_config: dict[str, Any] | None = None,
    *,
    logprobs: bool = False,
    conversation_id: str | None = None,
) -> None:
    """Refuse a turn's input before any run starts: an unknown agent, an answer the agent's
    approval state does not allow (runtime/approvals.py), input too large for the agent's
    window (runtime/input_fit.py), or what the serving model cannot take: images, log
    probabilities (runtime/model_abilities.py; ``llm_config``: the request's own model, if
    it named one)."""

    def _check(session: Session) -> None:
        approvals.check_input(session, agent_id, inputs, conversation_id)
        check_inputs_fit(session, agent_id, inputs)
        check_abilities(session, agent_id, inputs, llm_config, logprobs=logprobs)

    await deps.db.read(_check)


# --------------------------------------------------------------------------- history


@dataclass(frozen=True)
class MessageQuery:
    """A page of an agent's history."""

    before: str | None = None
    after: str | None = None
    limit: int | None = 100
    order: Literal["asc", "desc"] = "desc"
    conversation_id: str | None = None
    """Only this conversation's messages (``"default"``: the agent's own thread's)."""


async def list_messages(deps: HasDb, agent_id: str, query: MessageQuery) -> list[t.Message]:
    """Stored messages in listing order (``runtime.views.listing`` shows them as Letta's);
    every thread's unless ``query.conversation_id`` names one (NotFound if not the agent's)."""

    def _read(session: Session) -> list[t.Message]:
        agents.get(session, agent_id)
        where = None
        if query.conversation_id is not None:
            thread = None
            if query.conversation_id != conversations.DEFAULT:
                thread = conversations.get(session, query.conversation_id, agent_id).id
            where = conversations.in_thread(t.Message.conversation_id, thread)
        return messages.list_messages(
            session,
            agent_id,
            before=query.before,
            after=query.after,
            limit=query.limit,
            descending=query.order == "desc",
            where=where,
        )

    return await deps.db.read(_read)


async def retrieve(deps: HasDb, message_id: str) -> t.Message:
    """One stored message by id, whichever agent it belongs to."""

    def _read(session: Session) -> t.Message:
        row = session.scalar(select(t.Message).where(t.Message.id == message_id))
        if row is None:
            raise NotFound("message", message_id)
        return row

    return await deps.db.read(_read)


async def reset(deps: HasDb, agent_id: str, *, add_initial: bool = False) -> AgentBundle:
    """Empty the window (history stays in recall) and drop the running summary; with
    ``add_initial``, the window starts again with the messages the agent was created with
    (its ``initial_message_sequence``; an agent created without has none)."""

    def _write(session: Session) -> AgentBundle:
        agent = agents.get(session, agent_id)
        agent.window_start_seq = messages.last_seq(session, agent_id)
        agent.summary = ""
        agent.summary_tokens = 0
        if add_initial:
            # They fitted beside the fixed part when the agent was made; a fold makes room
            # should the prompt have grown since.
            initial_messages.add(session, agent, window_size(agent))
        session.flush()
        return bundle(session, agent_id)

    return await deps.db.write(_write)


@dataclass(frozen=True)
class Compaction:
    summary: str
    messages_before: int
    messages_after: int


async def compact(
    deps: HasCompaction, agent_id: str, settings: dict[str, Any] | None = None
) -> Compaction:
    """Fold the oldest messages of the window into the summary now, as the window would
    when full, with ``settings`` (the request's compaction settings) over the agent's own
    for this fold. The fold is the runtime's (a model call, then its own transaction, under
    the agent's lock); around it, two reads count the window it changed."""

    def _count(session: Session) -> tuple[t.Agent, int]:
        agent = agents.get(session, agent_id)
        return agent, len(messages.in_context(session, agent))

    agent, before = await deps.db.read(_count)
    await check_compaction_request(deps, agent, settings)
    async with deps.agent_lock(agent_id):
        fold = await fold_window(deps, agent_id, force=True, settings=settings)
    agent, after = await deps.db.read(_count)
    return Compaction(fold.summary if fold else agent.summary, before, after)


async def check_compaction_request(
    deps: HasCompaction, agent: t.Agent, settings: dict[str, Any] | None
) -> None:
    """Refuse a compact request's settings that could not be honoured: a target at or
    above the trigger (over the agent's own settings), or a summarizer model no provider
    serves (an agent's stored one falls back to its own model; one asked for now is
    refused). InvalidInput names the field under ``compaction_settings``."""
    if not settings:
        return
    policy.check_compaction({**(agent.compaction_settings or {}), **settings}, deps.settings)
    if settings.get("model"):
        await deps.providers.llm_config_for(settings["model"], field="compaction_settings.model")


# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class MessageSearch:
    query: str
    search_mode: Literal["vector", "fts", "hybrid"] = "hybrid"
    agent_id: str | None = None
    conversation_id: str | None = None
    limit: int = 50
    start: datetime | None = None
    end: datetime | None = None


async def search(deps: HasRerankedRecall, request: MessageSearch) -> Reranked[t.Message]:
    """Best matches first, over one agent's history or every agent's, or one
    conversation's (``request.conversation_id``: NotFound for an unknown one, or one of
    another agent than ``request.agent_id``).

    Without an agent, the vector half covers the agents using the server's default
    embedding model (vectors of different models cannot be compared). The query is
    embedded between the read of the embedding config and the search, and the head of
    the results is reranked after it when a reranker is configured (and the agent, if
    one is named, has not opted out)."""
    if request.conversation_id is not None:
        # One conversation: its agent's history, filtered to it inside the search.
        wanted = request.conversation_id
        owner = await deps.db.read(
            lambda session: conversations.get(session, wanted, request.agent_id).agent_id
        )
        request = replace(request, agent_id=owner)
    thread = (
        messages.ThreadFilter(request.conversation_id)
        if request.conversation_id is not None
        else None
    )

    def _embedding_config(session: Session) -> tuple[dict[str, Any], bool]:
        if request.agent_id is not None:
            agent = agents.get(session, request.agent_id)
            return agent.embedding_config, enabled_for(agent.metadata_)
        return deps.embeddings.local_config(), True

    config, reranked = await deps.db.read(_embedding_config)
    reranker = deps.reranker if reranked else None
    vector = None
    if request.search_mode != "fts":
        embedder = deps.embeddings.embedder_for(config)
        vector = (await embedder.embed([request.query]))[0]

    def _read(session: Session) -> list[t.Message]:
        owners = [] if request.agent_id else agents.ids_with_embedding(session, config["handle"])
        hits = recall.search(
            session,
            deps.message_vectors,
            request.agent_id,
            request.query,
            vector,
            roles=SEARCHABLE_ROLES,
            start=request.start,
            end=request.end,
            limit=candidate_count(reranker, request.limit),
            mode=request.search_mode,
            vector_owners=owners,
            thread=thread,
        )
        return [hit.message for hit in hits]

    found = await deps.db.read(_read)
    done = await rerank(reranker, request.query, found, _search_text, request.limit)
    return done.checked()


def _search_text(row: t.Message) -> str:
    return row.search_text or ""


@dataclass(frozen=True)
class RecallIndexStatus:
    """How many of the agent's messages can already be found by meaning."""

    agent_id: str
    embedding: str | None
    messages: int
    embedded: int
    pending: int
    enabled: bool


async def recall_index_status(deps: HasRecallStatus, agent_id: str) -> RecallIndexStatus:
    def _read(session: Session) -> tuple[str | None, recall_index.IndexStatus]:
        agent = agents.get(session, agent_id)
        return agent.embedding_config.get("handle"), recall_index.status(session, agent_id)

    handle, status = await deps.db.read(_read)
    return RecallIndexStatus(
        agent_id=agent_id,
        embedding=handle,
        messages=status.messages,
        embedded=status.embedded,
        pending=status.pending,
        enabled=deps.settings.recall_embeddings,
    )


# --------------------------------------------------------------------------- deleting


@dataclass(frozen=True)
class Deleted:
    message_ids: list[str]
    passages_marked: int


async def delete(deps: HasAgentLock, agent_id: str, message_id: str) -> Deleted:
    """Delete a message from the agent's history without breaking what depends on it.

    A model call's tool results travel with the call: deleting an assistant message that
    called tools deletes its results too, and a tool result alone cannot be deleted (the
    window would hold a result without its call, which providers refuse): a Conflict
    naming the message to delete instead. Passages written by a deleted message stay,
    marked with the time their source went away."""

    def _write(session: Session) -> Deleted:
        agents.get(session, agent_id)
        row = session.scalar(
            select(t.Message).where(t.Message.id == message_id, t.Message.agent_id == agent_id)
        )
        if row is None:
            raise NotFound("message", message_id)
        if row.role == "tool":
            raise _tool_result_alone(session, row)
        ids = [message.id for message in _with_dependents(session, row)]
        marked = passages.mark_source_deleted(session, ids, datetime.now(UTC))
        session.execute(delete_rows(t.Message).where(t.Message.id.in_(ids)))
        return Deleted(ids, marked)

    async with deps.agent_lock(agent_id):
        deleted = await deps.db.write(_write)
    # The cached window may hold the deleted rows; the next read rebuilds it.
    deps.windows.forget(agent_id)
    return deleted


def _tool_result_alone(session: Session, row: t.Message) -> Conflict:
    caller = session.scalar(
        select(t.Message.id).where(
            t.Message.agent_id == row.agent_id,
            t.Message.step_id == row.step_id,
            t.Message.role == "assistant",
        )
    )
    return Conflict(
        f"message '{row.id}' is a tool result; it goes with the call that made "
        f"it: delete the assistant message '{caller}' instead"
    )


def _with_dependents(session: Session, row: t.Message) -> list[t.Message]:
    """The message, its tool results, and the answer to its approval request if any."""
    doomed = [row]
    calls = row.tool_calls or []
    call_ids = [call["id"] for call in calls]
    if call_ids:
        doomed += session.scalars(
            select(t.Message).where(
                t.Message.agent_id == row.agent_id,
                t.Message.role == "tool",
                t.Message.tool_call_id.in_(call_ids),
            )
        )
    if any(call.get(HELD) for call in calls):
        # The answer to an approval request goes with it (it shares the request's step).
        doomed += session.scalars(
            select(t.Message).where(
                t.Message.agent_id == row.agent_id,
                t.Message.role == "approval",
                t.Message.step_id == row.step_id,
            )
        )
    return doomed


async def list_all(deps: HasDb, query: MessageQuery) -> list[t.Message]:
    """Every agent's stored messages in listing order (``GET /v1/messages/``); an unknown
    cursor is NotFound naming it. ``query.conversation_id`` keeps one conversation's
    (NotFound for an unknown one)."""
    if query.conversation_id is not None:
        wanted = query.conversation_id
        owner = await deps.db.read(lambda session: conversations.get(session, wanted).agent_id)
        return await list_messages(deps, owner, query)

    def _read(session: Session) -> list[t.Message]:
        return messages.list_all(
            session,
            before=query.before,
            after=query.after,
            limit=query.limit,
            descending=query.order == "desc",
        )

    return await deps.db.read(_read)
