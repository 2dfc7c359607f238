"""Recall assist: memory searched with the user's message before a turn's first step.

The model manages its memory with tools, but it only searches when it thinks to. Recall
assist makes one search on its behalf: archival passages and evicted conversation, ranked
together, the best that fit a token budget placed in a marked section of the system prompt
for every step of the turn. The section is rebuilt each turn and never stored in history.

Off unless the agent's ``recall_assist`` enables it; an agent without it pays nothing, not
even an embedding. A failing embedder or search costs the turn its section, never the turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from engram.llm.tokens import counter_for_model
from engram.memory import archival, policy, recall
from engram.memory.ledger import RememberedItem
from engram.store import tables as t
from engram.store.tables import as_utc
from engram.times import agent_zone

if TYPE_CHECKING:
    from engram.memory.embeddings import EmbeddingRegistry
    from engram.store.db import Database
    from engram.store.vectors import VectorIndex

log = logging.getLogger(__name__)

OPEN_TAG = "<recalled_memory>"
CLOSE_TAG = "</recalled_memory>"
HEADER = "Recalled from memory for this message (automatic search; may be incomplete or outdated):"

RECALLED_ROLES = ("user", "assistant")
"""Tool results are mostly earlier search results: recalling them would echo memory twice."""

MIN_TRUNCATED_WORDS = 8
"""A hit cut shorter than this says too little to be worth its line."""


class RecallDeps(Protocol):
    """What recall assist searches with: the agent's embedder and both vector indexes."""

    @property
    def db(self) -> Database: ...

    @property
    def embeddings(self) -> EmbeddingRegistry: ...

    @property
    def vectors(self) -> VectorIndex: ...

    @property
    def message_vectors(self) -> VectorIndex: ...


@dataclass(frozen=True)
class AssistHit:
    source: str
    """``archival`` or ``conversation``."""
    id: str
    text: str
    created_at: datetime
    score: float
    role: str | None = None


@dataclass(frozen=True)
class RecalledSection:
    text: str
    """The whole section as the prompt carries it, tags and header included."""
    hits: list[AssistHit]

    def remembered(self) -> list[RememberedItem]:
        return [RememberedItem(hit.id, hit.text) for hit in self.hits]


async def recall_section(rt: RecallDeps, agent: t.Agent, query: str) -> RecalledSection | None:
    """The section for a turn that starts with ``query``; None when the agent has recall
    assist off, nothing was found, or searching failed (logged, and the turn goes on)."""
    settings = policy.recall_assist(agent.recall_assist)
    if not settings.enabled or not query.strip():
        return None
    try:
        # Embedding happens before the read opens: no transaction waits on the model.
        embedder = rt.embeddings.embedder_for(agent.embedding_config)
        vector = (await embedder.embed([query]))[0]
        hits = await rt.db.read(
            lambda session: find_hits(session, rt, agent, query, vector, settings)
        )
    except Exception:
        log.warning("agent %s: recall assist skipped for this turn", agent.id, exc_info=True)
        return None
    model = agent.llm_config["model"]
    return render_section(hits, counter_for_model(model).count, settings)


def find_hits(
    session: Session,
    rt: RecallDeps,
    agent: t.Agent,
    query: str,
    vector: list[float],
    settings: policy.RecallAssist,
) -> list[AssistHit]:
    """The best hits of both sources, best first, each passage or message text once; their
    times on the agent's clock."""
    zone = agent_zone(agent.timezone)
    found: list[AssistHit] = []
    if settings.include_archival:
        for hit in archival.search(
            session, rt.vectors, agent.id, query, vector, top_k=settings.max_hits
        ):
            passage = hit.passage
            found.append(
                AssistHit(
                    "archival",
                    passage.id,
                    passage.text,
                    as_utc(passage.created_at).astimezone(zone),
                    hit.score,
                )
            )
    # Messages still in the window are in the prompt already; with none evicted, skip.
    if settings.include_recall and agent.window_start_seq > 0:
        for recalled in recall.search(
            session,
            rt.message_vectors,
            agent.id,
            query,
            vector,
            roles=RECALLED_ROLES,
            limit=settings.max_hits,
            max_seq=agent.window_start_seq,
        ):
            message = recalled.message
            found.append(
                AssistHit(
                    "conversation",
                    message.id,
                    message.search_text or "",
                    as_utc(message.created_at).astimezone(zone),
                    recalled.score,
                    message.role,
                )
            )
    # Both sources blend their rankings onto one scale (ranking.blend), so their scores
    # compare; the sort is stable, so archival wins a tie.
    found.sort(key=lambda hit: -hit.score)
    return _distinct(found)[: settings.max_hits]


def _distinct(hits: list[AssistHit]) -> list[AssistHit]:
    """Drop repeats: the same row, or the same words (a fact the agent archived verbatim)."""
    seen: set[str] = set()
    kept = []
    for hit in hits:
        text = _one_line(hit.text).lower()
        if not text or hit.id in seen or text in seen:
            continue
        seen.update((hit.id, text))
        kept.append(hit)
    return kept


def render_section(
    hits: list[AssistHit], count: Callable[[str], int], settings: policy.RecallAssist
) -> RecalledSection | None:
    """Hits in rank order while the section stays within the token budget (counted whole,
    tags and header included) and ``max_hits``.

    The first hit that does not fit whole is cut to the words that fit, marked with "…",
    and ends the section; if fewer than ``MIN_TRUNCATED_WORDS`` words fit it is left out.
    None when not even one hit fits."""
    budget = settings.token_budget
    lines: list[str] = []
    placed: list[AssistHit] = []
    for hit in hits[: settings.max_hits]:
        line = _line(hit, _one_line(hit.text))
        if count(_section([*lines, line])) <= budget:
            lines.append(line)
            placed.append(hit)
            continue
        cut = _cut_to_fit(hit, lines, count, budget)
        if cut is not None:
            lines.append(cut)
            placed.append(hit)
        break
    if not lines:
        return None
    return RecalledSection(_section(lines), placed)


def _cut_to_fit(
    hit: AssistHit, lines: list[str], count: Callable[[str], int], budget: int
) -> str | None:
    """The longest prefix (in words) of ``hit`` whose line still fits, or None."""
    words = _one_line(hit.text).split(" ")
    best = None
    low, high = MIN_TRUNCATED_WORDS, len(words) - 1
    while low <= high:
        middle = (low + high) // 2
        line = _line(hit, " ".join(words[:middle]) + " …")
        if count(_section([*lines, line])) <= budget:
            best, low = line, middle + 1
        else:
            high = middle - 1
    return best


def _section(lines: list[str]) -> str:
    return "\n".join([OPEN_TAG, HEADER, *lines, CLOSE_TAG])


def _line(hit: AssistHit, text: str) -> str:
    day = hit.created_at.date().isoformat()  # the day on the agent's clock (find_hits)
    origin = f"{hit.source}, {hit.role}" if hit.role else hit.source
    return f"- [{origin}, {day}] {text}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
