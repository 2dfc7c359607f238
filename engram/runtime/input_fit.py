"""Refuse a message that cannot fit the agent's context window, before anything is stored.

Why: paging can drop old messages and fold them into a summary, but it cannot shrink the
new message itself; one larger than the window used to be stored and sent whole to the
model, which then failed (or billed) a request of a million tokens. The check runs on the
request's messages before the turn starts, so a refused message leaves no trace.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.llm.tokens import TokenCounter, count_content_tokens, counter_for_model
from engram.memory import directories
from engram.memory.memfs import GIT_MEMORY_TAG
from engram.runtime.context import compile_context, window_size
from engram.runtime.prompt import chat_parts
from engram.runtime.step_rows import InputMessage
from engram.runtime.window import Window
from engram.store import agents, blocks, tools
from engram.store import tables as t


def fixed_prompt_tokens(session: Session, agent: t.Agent) -> int:
    """Tokens of the prompt's part that paging cannot shrink: the system prompt, memory
    blocks, the files of its folders and tool schemas."""
    return compile_context(
        agent,
        blocks.for_agent(session, agent.id),
        tools.for_agent(session, agent.id),
        Window(start_seq=agent.window_start_seq),
        recall_count=0,
        archival_count=0,
        memfs=GIT_MEMORY_TAG in agents.tags_of(session, agent.id),
        directories=directories.section(session, agent),
    ).total_tokens


def message_tokens(counter: TokenCounter, message: InputMessage) -> int:
    """A new message's tokens: its text, or its parts with each image priced as the
    context inspector prices it (images cannot be sized without fetching them)."""
    if message.parts:
        return count_content_tokens(counter, chat_parts(message.parts))
    return counter.count(message.text)


def check_inputs_fit(session: Session, agent_id: str, inputs: Sequence[InputMessage]) -> None:
    """Raises InvalidInput naming the message when its tokens plus the prompt's fixed part
    (system prompt, memory blocks, tool schemas) pass the agent's window."""
    sent = [(i, message) for i, message in enumerate(inputs) if message.text or message.parts]
    if not sent:
        return
    agent = agents.get(session, agent_id)
    limit = window_size(agent)
    counter = counter_for_model(agent.llm_config["model"])
    # The fixed part is held to at most half the window when the agent is set up
    # (check_fixed_part_fits), so a message of at most half fits without compiling it.
    fixed: int | None = None
    for i, message in sent:
        tokens = message_tokens(counter, message)
        if tokens <= limit // 2 and fixed is None:
            continue
        if fixed is None:
            fixed = fixed_prompt_tokens(session, agent)
        if tokens + fixed > limit:
            raise InvalidInput(
                f"messages.{i}.content",
                f"this message is {tokens:,} tokens (images included) and cannot fit the "
                f"agent's context window of {limit:,} tokens, of which the system prompt, "
                f"memory blocks and tool schemas take {fixed:,}; send it in parts of at most "
                f"{max(limit - fixed, 0):,} tokens or raise the agent's "
                "context_window_limit. Nothing was stored",
            )
