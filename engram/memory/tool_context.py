"""What a built-in tool runs with, and the one path by which a tool changes a block's value.

Each tool gets a ``ToolContext`` holding the step's open write session, so its effects
commit with the rest of the step or not at all. Every value change goes through
``edit_block`` (or ``record_edit`` for a block a tool has just created), so block history,
read-only blocks and limits hold for every tool alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.memory import core
from engram.memory.embeddings import Embedder
from engram.memory.rerank.plan import RerankPlan
from engram.store import block_history
from engram.store import tables as t
from engram.store.vectors import VectorIndex


class ToolFailure(Exception):
    """A tool call that cannot be carried out; the message is returned to the model."""


@dataclass
class ToolContext:
    session: Session
    agent: t.Agent
    blocks: list[t.Block]
    embedder: Embedder
    vectors: VectorIndex
    message_vectors: VectorIndex
    run_id: str | None
    step_id: str | None
    message_id: str | None
    """The assistant message whose tool calls are running: the provenance of what they write."""
    vectors_by_text: dict[str, list[float]] = field(default_factory=dict)
    embedding_error: str | None = None
    """Why ``vectors_by_text`` is empty: the embedder failed before the step's transaction."""
    edited_blocks: set[str] = field(default_factory=set)
    passage_pieces: dict[str, list[str]] = field(default_factory=dict)
    """Archival texts longer than the embedding model reads, by text: the passages each is
    stored as, split (and embedded) before the step's transaction opened."""
    rerank: RerankPlan = field(default_factory=RerankPlan)
    """The search tools' reranking stage (memory/rerank/plan.py); off by default."""
    conversation_id: str | None = None
    """The conversation the step runs in; None: the agent's default thread."""

    def block(self, label: str) -> t.Block:
        for block in self.blocks:
            if block.label == label:
                return block
        labels = ", ".join(b.label for b in self.blocks) or "none"
        raise ToolFailure(f"no memory block labelled '{label}'; blocks: {labels}")

    def vector(self, text: str) -> list[float]:
        """The embedding of ``text``, computed before the step's transaction opened."""
        try:
            return self.vectors_by_text[text]
        except KeyError:
            if self.embedding_error is not None:
                raise ToolFailure(f"cannot embed this text: {self.embedding_error}") from None
            raise ToolFailure("this text could not be embedded; try the call again") from None


ToolFunction = Callable[..., str]


def edit_block(ctx: ToolContext, label: str, change: Callable[[t.Block], str]) -> str:
    """Set the block labelled ``label`` to ``change(block)`` and log the edit; a change
    the block's rules refuse (read-only, over its limit, text not found) is a ToolFailure."""
    block = ctx.block(label)
    old = block.value
    try:
        block.value = change(block)
    except (core.EditRejected, InvalidInput) as exc:
        raise ToolFailure(str(exc)) from exc
    record_edit(ctx, block, old)
    return f"Block '{label}' now has {len(block.value)} of {block.limit} chars."


def record_edit(ctx: ToolContext, block: t.Block, old_value: str) -> None:
    """Log a change of ``block.value`` from ``old_value`` as this agent's, in this step."""
    block_history.record(
        ctx.session,
        block,
        old_value,
        actor_type="agent",
        actor_id=ctx.agent.id,
        run_id=ctx.run_id,
        step_id=ctx.step_id,
    )
    ctx.edited_blocks.add(block.id)
