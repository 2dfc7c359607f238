"""The memory search tools' reranking, fetched before a step's transaction opens.

The search calls of a batch run once in a read transaction with a collecting plan, which
records each one's fused candidates without changing its answer; the reranker scores them
with no transaction open; the plan handed to the step's transaction then holds the scores
(memory/rerank/plan.py). A call that fails here (bad arguments, a missing vector) is left
to fail again, and be answered, when it runs for real.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from engram.llm.client import ToolCall
from engram.memory.embeddings import Embedder
from engram.memory.rerank import Reranker, RerankNote, enabled_for, rerank
from engram.memory.rerank.plan import Candidates, RerankPlan
from engram.memory.tools import BASE_TOOL_FUNCTIONS, ToolContext
from engram.runtime.tool_calls import IndexDeps, Prefetched, parse_arguments
from engram.store import tables as t

if TYPE_CHECKING:
    from engram.store.db import Database

log = logging.getLogger(__name__)

RERANKED_TOOLS = ("archival_memory_search", "conversation_search")


class RerankDeps(IndexDeps, Protocol):
    @property
    def db(self) -> Database: ...

    @property
    def reranker(self) -> Reranker | None: ...


@dataclass(frozen=True)
class PrefetchedReranks:
    """The plan the step's search calls run with, and what each reranking did."""

    plan: RerankPlan = field(default_factory=RerankPlan)
    notes: list[RerankNote] = field(default_factory=list)


async def prefetch_reranks(
    deps: RerankDeps,
    agent: t.Agent,
    calls: list[ToolCall],
    embedder: Embedder,
    vectors: Prefetched,
    conversation_id: str | None = None,
) -> PrefetchedReranks:
    """Rerank the candidates of the batch's search calls; an empty plan (reranking off)
    when no reranker is configured, the agent opted out, or no call searches."""
    reranker = deps.reranker
    searches = [call for call in calls if call.name in RERANKED_TOOLS]
    if reranker is None or not searches or not enabled_for(agent.metadata_):
        return PrefetchedReranks()
    collecting = RerankPlan(candidates=reranker.policy.candidates, collecting=[])

    def collect(session: Session) -> list[Candidates]:
        context = ToolContext(
            session=session,
            agent=agent,
            blocks=[],
            embedder=embedder,
            vectors=deps.vectors,
            message_vectors=deps.message_vectors,
            run_id=None,
            step_id=None,
            message_id=None,
            vectors_by_text=dict(vectors.vectors),
            embedding_error=vectors.error,
            rerank=collecting,
            conversation_id=conversation_id,
        )
        for call in searches:
            _run_quietly(context, call)
        return collecting.collecting or []

    found = await deps.db.read(collect)
    plan = RerankPlan(candidates=reranker.policy.candidates)
    notes = []
    for candidates in found:
        pairs = list(zip(candidates.keys, candidates.texts, strict=True))
        done = await rerank(reranker, candidates.query, pairs, lambda pair: pair[1], len(pairs))
        if done.note is not None:
            notes.append(done.note)
            if done.refuse_failure and done.note.status == "failed":
                plan.refused[candidates.query] = done.note.error or "the reranker failed"
        for (key, _), score in zip(done.items, done.scores, strict=True):
            if score is not None:
                plan.scores[(candidates.query, key)] = score
    return PrefetchedReranks(plan, notes)


def _run_quietly(context: ToolContext, call: ToolCall) -> None:
    """Run one search call for its candidates only; its answer, or its failure, is the
    second pass's to give."""
    arguments = parse_arguments(call.arguments)
    if not isinstance(arguments, dict):
        return
    arguments.pop("request_heartbeat", None)
    try:
        BASE_TOOL_FUNCTIONS[call.name](context, **arguments)
    except Exception as exc:  # answered when the call runs in the step's transaction
        log.debug("rerank prefetch: %s not collected: %s", call.name, exc)
