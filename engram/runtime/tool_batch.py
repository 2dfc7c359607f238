"""The one tool pipeline: a batch of a model's calls, run and recorded the same way
whether a step made them or a person approved them a turn later.

Everything slow happens before the transaction: the vectors the calls embed, the custom
tools in their sandboxed children, the calls to MCP servers. Then one write transaction
applies the rest (memory tools against the blocks as they are now), tells the run's
``MemoryLedger`` what the memory tools did, and hands the results to the caller's
``commit``, which writes whatever else belongs to the same transaction (the messages,
the step, the run). Nothing of the batch is visible until that transaction commits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from sqlalchemy.orm import Session

from engram.llm.client import ToolCall
from engram.memory import archival
from engram.memory.ledger import MemoryLedger
from engram.memory.rerank import Reranker, RerankNote
from engram.runtime.builtin_external import run_builtin_external_calls
from engram.runtime.external_tools import ExternalToolDeps, run_external_calls
from engram.runtime.rerank_prefetch import prefetch_reranks
from engram.runtime.tool_calls import (
    CallOrigin,
    ExecutedCall,
    ToolCallDeps,
    execute_calls,
    prefetch_vectors,
    run_custom_tools,
)
from engram.store import conversations
from engram.store import tables as t

if TYPE_CHECKING:
    from engram.memory.embeddings import EmbeddingRegistry

T = TypeVar("T")


class BatchDeps(ToolCallDeps, ExternalToolDeps, Protocol):
    """What running and recording a batch uses: every kind of tool, and the embedders."""

    @property
    def embeddings(self) -> EmbeddingRegistry: ...

    @property
    def reranker(self) -> Reranker | None: ...


@dataclass(frozen=True)
class ToolBatch:
    """The calls of one model response that are to be recorded now, and where they stand."""

    agent: t.Agent
    tools: list[t.Tool]
    calls: list[ToolCall]
    """Every call to record, in the model's order."""
    origin: CallOrigin
    """The run, step and assistant message the calls came from."""
    ledger: MemoryLedger
    """The run's memory ledger as of its last committed step; the batch works on a copy."""
    step_number: int
    """The step (1-based within the run) the ledger's notes cite; 0 before the first."""
    settled: Mapping[str, ExecutedCall] = field(default_factory=dict)
    """Results known without running, by call id: calls the tool rules refused, calls a
    person denied, results a client produced itself."""
    output: Sequence[str | None] = ()
    """What the model wrote with these calls (its text, the calls' arguments): the ledger
    sees it before the calls run, so it counts the hits of earlier searches it uses."""
    conversation_id: str | None = None
    """The conversation the calls run in: its isolated blocks stand in for the agent's."""


@dataclass
class BatchResult:
    """What the batch did, inside the transaction that records it."""

    executed: list[ExecutedCall]
    """Each call's result, in the calls' order."""
    ledger: MemoryLedger
    """The ledger with this batch recorded: the run adopts it once the transaction commits."""
    reranks: list[RerankNote] = field(default_factory=list)
    """What reranking the search calls did (before the transaction), for the step's trace."""


async def run_batch(
    deps: BatchDeps, batch: ToolBatch, commit: Callable[[Session, BatchResult], T]
) -> T:
    """Run ``batch`` and record it: the slow calls first, with no transaction open, then
    one write transaction that applies the rest and calls ``commit`` with the results.
    Returns what ``commit`` returns."""
    to_run = [call for call in batch.calls if call.id not in batch.settled]
    config = batch.agent.embedding_config
    embedder = deps.embeddings.embedder_for(config)
    split = functools.partial(
        archival.passage_texts,
        embedding_config=config,
        local_model_dir=deps.embeddings.local_model_dir,
    )
    vectors = await prefetch_vectors(embedder, to_run, split=split)
    reranks = await prefetch_reranks(
        deps, batch.agent, to_run, embedder, vectors, batch.conversation_id
    )
    ran = dict(batch.settled)
    ran |= await run_custom_tools(deps, batch.agent, batch.tools, to_run, batch.origin)
    ran |= await run_external_calls(deps, batch.tools, to_run)
    ran |= await run_builtin_external_calls(deps, batch.agent, batch.tools, to_run)
    origin = batch.origin

    def write(session: Session) -> T:
        # A copy, taken inside the transaction: the run keeps it only if this commits.
        ledger = batch.ledger.copy()
        ledger.observe_output(batch.output)
        executed: list[ExecutedCall] = []
        if batch.calls:
            executed = execute_calls(
                session,
                deps,
                batch.agent,
                # Read here: an edit applies to the block's value as it is now.
                conversations.thread_blocks(session, batch.agent.id, batch.conversation_id),
                batch.tools,
                embedder,
                vectors,
                batch.calls,
                run_id=origin.run_id or "",
                step_id=origin.step_id or "",
                message_id=origin.message_id or "",
                ledger=ledger,
                step_number=batch.step_number,
                custom_results=ran,
                rerank=reranks.plan,
                conversation_id=batch.conversation_id,
            )
        return commit(session, BatchResult(executed, ledger, reranks.notes))

    return await deps.db.write(write)
