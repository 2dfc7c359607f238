"""Folding an agent's window: when the prompt nears the window, the oldest messages go
into the running summary (``paging.py`` decides what and writes the summary)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from engram.errors import ModelNotFound
from engram.memory import policy
from engram.runtime import paging
from engram.runtime.context import window_size
from engram.runtime.state import compile_state, load_state
from engram.store import agents, conversations
from engram.store import tables as t

if TYPE_CHECKING:
    from engram.config import Settings
    from engram.llm.registry import ProviderRegistry
    from engram.runtime.window import WindowCache
    from engram.store.db import Database

log = logging.getLogger(__name__)


class FoldingDeps(Protocol):
    """What a fold touches: the agent's rows and cached window, and a model to summarize."""

    @property
    def db(self) -> Database: ...

    @property
    def windows(self) -> WindowCache: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def providers(self) -> ProviderRegistry: ...


async def fold_window(
    rt: FoldingDeps,
    agent_id: str,
    *,
    extra_tokens: int = 0,
    force: bool = False,
    conversation_id: str | None = None,
    settings: dict[str, Any] | None = None,
) -> paging.Fold | None:
    """Evict the oldest messages into the summary until the window is under the agent's
    target; None when the policy lets nothing go (the window is left as it is).

    ``force`` folds at least one message whenever the window has two or more. With
    ``conversation_id`` the conversation's window is folded, into its own summary.
    ``settings``: compaction settings for this fold only, over the agent's own."""
    state, _ = await rt.db.read(
        lambda session: load_state(session, agent_id, rt.windows, conversation_id=conversation_id)
    )
    agent = state.agent
    rules = policy.compaction(
        {**(agent.compaction_settings or {}), **(settings or {})}, rt.settings
    )
    limit = window_size(agent)
    max_summary_tokens = max(64, int(limit * 0.1))
    prompt_tokens = compile_state(state).total_tokens + extra_tokens
    to_free = prompt_tokens - int(rules.target * limit)
    # The new summary may come out longer than the old one: count it at its largest.
    over_limit = prompt_tokens - agent.summary_tokens + max_summary_tokens - limit
    if force:
        # Asked for a fold, something goes: the oldest kept turn, if only kept turns are left.
        to_free = max(to_free, 1)
        over_limit = max(over_limit, 1)
    cut = paging.choose_cut(
        state.window.rows,
        to_free,
        keep_last_user_turns=rules.keep_last_user_turns,
        tokens_over_limit=over_limit,
    )
    if cut == 0:
        return None
    evicted = state.window.rows[:cut]
    fold = await paging.summarize(
        await _summarizer(rt, agent, rules),
        agent.summary,
        evicted,
        agent_model=agent.llm_config["model"],
        max_summary_tokens=max_summary_tokens,
        zone=agent.timezone,
    )

    def store_fold(session: Session) -> None:
        if conversation_id is not None:
            thread = conversations.get(session, conversation_id, agent_id)
            thread.window_start_seq = max(thread.window_start_seq, evicted[-1].seq)
            thread.fold_summary = fold.summary
            thread.fold_summary_tokens = fold.summary_tokens
            return
        row = agents.get(session, agent_id)
        # Another fold may have moved the cursor meanwhile; never move it backwards.
        row.window_start_seq = max(row.window_start_seq, evicted[-1].seq)
        row.summary = fold.summary
        row.summary_tokens = fold.summary_tokens

    await rt.db.write(store_fold)
    return fold


async def _summarizer(
    rt: FoldingDeps, agent: t.Agent, rules: policy.Compaction
) -> paging.Summarizer:
    """The agent's summarizer; an unknown summarizer model falls back to the agent's own,
    because a setting gone stale (a model retired by its provider) must not stop the agent."""
    llm_config = agent.llm_config
    if rules.model:
        try:
            llm_config = await rt.providers.llm_config_for(
                rules.model, field="compaction_settings.model"
            )
        except ModelNotFound as exc:
            log.warning(
                "agent %s: summarizing with its own model, not '%s': %s",
                agent.id,
                rules.model,
                exc,
            )
    return paging.Summarizer(
        client=rt.providers.client_for(llm_config),
        model=llm_config["model"],
        prompt=rules.prompt,
        clip_chars=rules.clip_chars,
    )
