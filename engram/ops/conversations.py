"""Conversations of an agent: made, listed, changed and deleted, and the "default" one.

Each op owns one transaction. Turns in a conversation go through the same entry points as
an agent's (api/turns.py, runtime/step.py) with ``TurnOptions.conversation_id`` set; the
thread-specific work (fork, compact, recompile, cancel) is in ``ops/conversation_work.py``.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.llm import model_settings
from engram.ops.deps import HasDb, HasModels
from engram.store import agents, blocks, conversations, groups
from engram.store import tables as t
from engram.store.conversations import DEFAULT, in_thread

if TYPE_CHECKING:
    from engram.runtime.window import WindowCache

__all__ = ["DEFAULT", "ConversationSpec", "ConversationView", "Thread"]


class HasThreadGate(HasDb, Protocol):
    """Waits for a conversation's running turn, and drops its cached window."""

    @property
    def windows(self) -> WindowCache: ...

    def thread_lock(
        self, agent_id: str, conversation_id: str | None
    ) -> AbstractAsyncContextManager[None]: ...


@dataclass(frozen=True)
class Thread:
    """A resolved conversation id: the agent, and the conversation (None: its default)."""

    agent_id: str
    conversation_id: str | None


@dataclass(frozen=True)
class ConversationSpec:
    """What ``create`` and ``update`` are asked; on update, ``given`` names the fields sent."""

    summary: str | None = None
    isolated_block_labels: list[str] | None = None
    model: str | None = None
    model_settings: dict[str, Any] | None = None
    given: frozenset[str] = field(default_factory=frozenset)


@dataclass
class ConversationView:
    """A conversation as Letta shows it: the row, its window's message ids and isolated
    blocks' ids."""

    row: t.Conversation
    in_context_message_ids: list[str]
    isolated_block_ids: list[str]


def resolve(session: Session, conversation_id: str, agent_id: str | None) -> Thread:
    """``conversation_id`` as the thread it names: ``"default"`` (with ``agent_id``) is the
    agent's own; a conversation of another agent than ``agent_id`` is NotFound."""
    if conversation_id == DEFAULT:
        if not agent_id:
            raise InvalidInput(
                "agent_id", "the 'default' conversation needs the agent_id whose thread it is"
            )
        agents.get(session, agent_id)
        return Thread(agent_id, None)
    row = conversations.get(session, conversation_id, agent_id)
    return Thread(row.agent_id, row.id)


async def resolve_thread(deps: HasDb, conversation_id: str, agent_id: str | None) -> Thread:
    return await deps.db.read(lambda session: resolve(session, conversation_id, agent_id))


def view(session: Session, row: t.Conversation) -> ConversationView:
    ids = session.scalars(
        select(t.Message.id)
        .where(
            t.Message.agent_id == row.agent_id,
            in_thread(t.Message.conversation_id, row.id),
            t.Message.seq > row.window_start_seq,
        )
        .order_by(t.Message.seq)
    )
    isolated = [block.id for block in conversations.isolated_blocks(session, row.id)]
    return ConversationView(row, list(ids), isolated)


async def create(deps: HasModels, agent_id: str, spec: ConversationSpec) -> ConversationView:
    """A new conversation of the agent, its window empty; NotFound for an unknown agent,
    InvalidInput for an isolated label the agent has no block for or an unknown model."""
    llm_config = await _llm_config(deps, spec.model)

    def _write(session: Session) -> ConversationView:
        agent = agents.get(session, agent_id)
        _check_settings(llm_config or agent.llm_config, spec.model_settings)
        labels = spec.isolated_block_labels or []
        sources = _isolated_sources(session, agent_id, labels)
        row = conversations.create(
            session,
            agent_id,
            summary=spec.summary,
            model=spec.model,
            model_settings=spec.model_settings,
            llm_config=llm_config,
        )
        for source in sources:
            conversations.isolate(session, row, source)
        session.flush()
        return view(session, row)

    return await deps.db.write(_write)


def _isolated_sources(session: Session, agent_id: str, labels: list[str]) -> list[t.Block]:
    by_label = {block.label: block for block in blocks.for_agent(session, agent_id)}
    for index, label in enumerate(labels):
        if label not in by_label:
            have = ", ".join(sorted(by_label)) or "none"
            raise InvalidInput(
                f"isolated_block_labels.{index}",
                f"the agent has no block labelled '{label}' (its blocks: {have})",
            )
    if len(set(labels)) != len(labels):
        raise InvalidInput("isolated_block_labels", "a label is named twice")
    return [by_label[label] for label in labels]


def _check_settings(llm_config: dict[str, Any], settings: dict[str, Any] | None) -> None:
    """Refuse (InvalidInput naming ``model_settings.<name>``) settings that the model the
    conversation's turns use cannot be given; they are applied at each turn
    (``runtime.state.thread_agent``), on top of whatever the agent's model is then."""
    if settings is not None:
        model_settings.apply_settings(llm_config, settings)


async def _llm_config(deps: HasModels, model: str | None) -> dict[str, Any] | None:
    if model is None:
        return None
    return await deps.providers.llm_config_for(model, field="model")


@dataclass(frozen=True)
class ConversationQuery:
    agent_id: str | None = None
    after: str | None = None
    limit: int | None = 50
    order: Literal["asc", "desc"] = "desc"
    order_by: Literal["created_at", "last_run_completion", "last_message_at"] = "created_at"
    summary_search: str | None = None


async def list_conversations(deps: HasDb, query: ConversationQuery) -> list[ConversationView]:
    def _read(session: Session) -> list[ConversationView]:
        if query.agent_id is not None:
            agents.get(session, query.agent_id)
        rows = conversations.list_conversations(
            session,
            agent_id=query.agent_id,
            after=query.after,
            limit=query.limit,
            descending=query.order == "desc",
            summary_search=query.summary_search,
            order_by=query.order_by,
        )
        return [view(session, row) for row in rows]

    return await deps.db.read(_read)


async def retrieve(deps: HasDb, conversation_id: str) -> ConversationView:
    return await deps.db.read(
        lambda session: view(session, conversations.get(session, conversation_id))
    )


async def update(deps: HasModels, conversation_id: str, spec: ConversationSpec) -> ConversationView:
    """Change the fields ``spec.given`` names; a new ``model`` is resolved as on create."""
    llm_config = await _llm_config(deps, spec.model) if "model" in spec.given else None

    def _write(session: Session) -> ConversationView:
        row = conversations.get(session, conversation_id)
        config = llm_config if "model" in spec.given else row.llm_config
        settings = spec.model_settings if "model_settings" in spec.given else row.model_settings
        _check_settings(config or agents.get(session, row.agent_id).llm_config, settings)
        if "summary" in spec.given:
            row.summary = spec.summary
        if "model" in spec.given:
            row.model, row.llm_config = spec.model, llm_config
        if "model_settings" in spec.given:
            row.model_settings = spec.model_settings
        session.flush()
        return view(session, row)

    return await deps.db.write(_write)


async def delete_conversation(deps: HasThreadGate, conversation_id: str) -> None:
    """Delete the conversation with its messages, runs and isolated blocks, once a turn it
    is running has ended; the agent and its other conversations are untouched."""
    row = await deps.db.read(lambda session: conversations.get(session, conversation_id))
    async with deps.thread_lock(row.agent_id, conversation_id):

        def _write(session: Session) -> None:
            conversations.get(session, conversation_id)
            remove_threads(session, [conversation_id])
            groups.forget_thread(session, row.agent_id, conversation_id)

        await deps.db.write(_write)
    deps.windows.forget(row.agent_id, conversation_id)


def remove_threads(session: Session, conversation_ids: list[str]) -> None:
    """Delete conversations and everything of theirs (their leases and block links go by
    their foreign keys)."""
    if not conversation_ids:
        return
    conversations.delete_isolated_blocks(session, conversation_ids)
    session.execute(delete(t.Message).where(t.Message.conversation_id.in_(conversation_ids)))
    session.execute(delete(t.Run).where(t.Run.conversation_id.in_(conversation_ids)))
    session.execute(delete(t.Conversation).where(t.Conversation.id.in_(conversation_ids)))
