"""Folding an agent's window: when the prompt nears the window, the oldest messages go
into the running summary (``paging.py`` decides what and writes the summary)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engram.runtime import paging
from engram.runtime.context import window_size
from engram.runtime.engine import Engram
from engram.runtime.state import compile_state, load_state
from engram.store import agents


async def fold_window(
    rt: Engram, agent_id: str, *, extra_tokens: int = 0, force: bool = False
) -> paging.Fold | None:
    """Evict the oldest messages into the summary until the window is under the target."""
    state, _ = await rt.db.read(lambda session: load_state(session, agent_id, rt.windows))
    agent = state.agent
    limit = window_size(agent)
    context = compile_state(state)
    to_free = context.total_tokens + extra_tokens - int(rt.settings.summarize_target * limit)
    if force:
        to_free = max(to_free, 1)
    cut = paging.choose_cut(state.window.rows, to_free)
    if cut == 0:
        return None
    evicted = state.window.rows[:cut]
    fold = await paging.summarize(
        rt.providers.client_for(agent.llm_config),
        agent.llm_config["model"],
        agent.summary,
        evicted,
        max_summary_tokens=max(64, int(limit * 0.1)),
    )

    def store_fold(session: Session) -> None:
        row = agents.get(session, agent_id)
        # Another fold may have moved the cursor meanwhile; never move it backwards.
        row.window_start_seq = max(row.window_start_seq, evicted[-1].seq)
        row.summary = fold.summary
        row.summary_tokens = fold.summary_tokens

    await rt.db.write(store_fold)
    return fold
