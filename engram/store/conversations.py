"""Conversations of an agent: their rows, their isolated blocks, and which rows are whose.

A conversation is a thread over the agent's shared memory. The agent's own history (rows
whose ``conversation_id`` is null) is its "default" conversation, addressed by that word
with the agent's id; it has no row here.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import ColumnElement, delete, func, literal, select, tuple_, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from engram.errors import NotFound
from engram.ids import new_id
from engram.store import blocks as block_store
from engram.store import tables as t
from engram.store.tables import utcnow

DEFAULT = "default"
"""The id naming an agent's own thread (with its ``agent_id``)."""


def in_thread(
    column: InstrumentedAttribute[Any], conversation_id: str | None
) -> ColumnElement[bool]:
    """Rows of the conversation ``conversation_id``; None: of the agent's default thread."""
    if conversation_id is None:
        return column.is_(None)
    return column == conversation_id


def get(session: Session, conversation_id: str, agent_id: str | None = None) -> t.Conversation:
    """The conversation; NotFound if there is none, or it is not ``agent_id``'s."""
    row = session.get(t.Conversation, conversation_id)
    if row is None or (agent_id is not None and row.agent_id != agent_id):
        raise NotFound("conversation", conversation_id)
    return row


def create(
    session: Session,
    agent_id: str,
    *,
    summary: str | None,
    model: str | None,
    model_settings: dict[str, Any] | None,
    llm_config: dict[str, Any] | None,
    window_start_seq: int = 0,
) -> t.Conversation:
    row = t.Conversation(
        id=new_id("conv"),
        agent_id=agent_id,
        summary=summary,
        model=model,
        model_settings=model_settings,
        llm_config=llm_config,
        window_start_seq=window_start_seq,
        fold_summary="",
        fold_summary_tokens=0,
    )
    session.add(row)
    session.flush()
    return row


def list_conversations(
    session: Session,
    *,
    agent_id: str | None,
    after: str | None,
    limit: int | None,
    descending: bool,
    summary_search: str | None,
    order_by: Literal["created_at", "last_run_completion", "last_message_at"] = "created_at",
) -> list[t.Conversation]:
    """A page of conversations. Ordered by creation, or (``last_message_at``, and
    ``last_run_completion``, which a conversation's last message marks) by when it last
    got messages, a conversation without any by its creation; ties by id. ``after`` is a
    conversation id, relative to the order."""
    row = t.Conversation
    moment = (
        row.created_at
        if order_by == "created_at"
        else func.coalesce(row.last_message_at, row.created_at)
    )
    query = select(row)
    if agent_id is not None:
        query = query.where(row.agent_id == agent_id)
    if summary_search:
        query = query.where(row.summary.ilike(f"%{_escaped(summary_search)}%", "\\"))
    if after is not None:
        anchor = session.execute(select(moment, row.id).where(row.id == after)).first()
        if anchor is None:
            raise NotFound("conversation", after)
        # Bound as the column's type, so SQLite compares its stored text form.
        mark = tuple_(literal(anchor[0], t.UTCDateTime()), literal(anchor[1]))
        later = tuple_(moment, row.id) < mark if descending else tuple_(moment, row.id) > mark
        query = query.where(later)
    order = (moment.desc(), row.id.desc()) if descending else (moment.asc(), row.id.asc())
    query = query.order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def isolate(session: Session, conversation: t.Conversation, source: t.Block) -> t.Block:
    """Give ``conversation`` its own copy of ``source``, starting from its value now."""
    copy = block_store.new_block(
        label=source.label,
        value=source.value,
        limit=source.limit,
        description=source.description,
        read_only=source.read_only,
        hidden=source.hidden,
        metadata=dict(source.metadata_ or {}),
        tags=list(source.tags or []),
    )
    session.add(copy)
    session.flush()
    session.add(
        t.ConversationBlock(conversation_id=conversation.id, label=source.label, block_id=copy.id)
    )
    return copy


def isolated_blocks(session: Session, conversation_id: str) -> list[t.Block]:
    rows = session.scalars(
        select(t.Block)
        .join(t.ConversationBlock, t.ConversationBlock.block_id == t.Block.id)
        .where(t.ConversationBlock.conversation_id == conversation_id)
    )
    return list(rows)


def thread_blocks(session: Session, agent_id: str, conversation_id: str | None) -> list[t.Block]:
    """The blocks a turn of the conversation sees: the agent's, each isolated label
    replaced by the conversation's own copy."""
    shared = block_store.for_agent(session, agent_id)
    if conversation_id is None:
        return shared
    own = {block.label: block for block in isolated_blocks(session, conversation_id)}
    return [own.get(block.label, block) for block in shared]


def delete_isolated_blocks(session: Session, conversation_ids: list[str]) -> None:
    """Delete the isolated copies of these conversations (their links go with them)."""
    if not conversation_ids:
        return
    copies = select(t.ConversationBlock.block_id).where(
        t.ConversationBlock.conversation_id.in_(conversation_ids)
    )
    session.execute(delete(t.Block).where(t.Block.id.in_(copies)))


def ids_of_agent(session: Session, agent_id: str) -> list[str]:
    return list(
        session.scalars(select(t.Conversation.id).where(t.Conversation.agent_id == agent_id))
    )


def touch_conversation(session: Session, conversation_id: str) -> None:
    """Note that the conversation got messages now (Letta's ``last_message_at``)."""
    session.execute(
        update(t.Conversation)
        .where(t.Conversation.id == conversation_id)
        .values(last_message_at=utcnow())
        .execution_options(synchronize_session=False)
    )
