"""Compiles what the model sees and what it costs in tokens, section by section.

The cost of compiling depends only on the window, never on total history: messages
carry their token counts from when they were written, and the long texts (system
prompt, core memory, tool schemas) are counted through a cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from engram.llm.tokens import count_chat_tokens, count_tool_tokens, counter_for_model
from engram.memory.core import render_blocks, render_metadata
from engram.memory.memfs import render_memfs
from engram.runtime.prompt import as_openai_tool, to_chat, with_heartbeat
from engram.runtime.window import Window
from engram.store import tables as t

HEARTBEAT_AGENTS = {"memgpt_v2_agent", "memgpt_agent"}


@dataclass
class CompiledContext:
    system: str
    core_memory: str
    summary: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    system_tokens: int
    core_memory_tokens: int
    summary_tokens: int
    message_tokens: int
    tool_tokens: int
    recalled: str = ""
    """This turn's recall-assist section (``runtime/recall_assist.py``), if any."""
    recalled_tokens: int = 0
    directories: str = ""
    """The attached folders and their files (``memory/directories.py``); empty without."""
    directories_tokens: int = 0
    skills: str = ""
    """The skills the request's client offers (``client_skills``); empty without."""
    skills_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return (
            self.system_tokens
            + self.core_memory_tokens
            + self.directories_tokens
            + self.skills_tokens
            + self.summary_tokens
            + self.recalled_tokens
            + self.message_tokens
            + self.tool_tokens
        )

    def chat_messages(self) -> list[dict[str, Any]]:
        return [{"role": "system", "content": self.system_prompt()}, *self.messages]

    def system_prompt(self) -> str:
        parts = [self.system, self.core_memory]
        if self.directories:
            parts.append(self.directories)
        if self.skills:
            parts.append(self.skills)
        if self.summary:
            parts.append(
                "<conversation_summary>\nEarlier messages, now in recall memory, summarized:\n"
                f"{self.summary}\n</conversation_summary>"
            )
        if self.recalled:
            parts.append(self.recalled)
        return "\n\n".join(parts)


@lru_cache(maxsize=4096)
def count_text(model: str, text: str) -> int:
    return counter_for_model(model).count(text)


def message_tokens(model: str, message: t.Message) -> int:
    chat = to_chat(message)
    return count_chat_tokens(model, [chat]) - 3 if chat is not None else 0


def tool_schemas(agent_type: str, tools: Sequence[t.Tool]) -> list[dict[str, Any]]:
    heartbeat = agent_type in HEARTBEAT_AGENTS
    schemas = []
    for tool in tools:
        if tool.name == "send_message" and not heartbeat:
            continue
        schemas.append(
            as_openai_tool(with_heartbeat(tool.json_schema) if heartbeat else tool.json_schema)
        )
    return schemas


def compile_context(
    agent: t.Agent,
    blocks: Sequence[t.Block],
    tools: Sequence[t.Tool],
    window: Window,
    *,
    recall_count: int,
    archival_count: int,
    memfs: bool = False,
    directories: str = "",
) -> CompiledContext:
    """``memfs``: the agent keeps Letta's git-backed memory, so its blocks read as files
    (``memory/memfs.py``) rather than as the ``<memory_blocks>`` list. ``directories``: the
    rendered section of its attached folders' files, empty when it has none."""
    model = agent.llm_config["model"]
    last_edit: datetime | None = max((b.updated_at for b in blocks), default=None)
    rendered_blocks = render_memfs(blocks) if memfs else render_blocks(blocks)
    metadata = render_metadata(
        recall_count=recall_count,
        archival_count=archival_count,
        last_edit=last_edit,
        zone=agent.timezone,
    )
    schemas = tool_schemas(agent.agent_type, tools)
    return CompiledContext(
        system=agent.system,
        core_memory=f"{rendered_blocks}\n{metadata}",
        summary=agent.summary,
        messages=[chat for chat in window.chats if chat is not None],
        tools=schemas,
        # 4 tokens frame the system message; the sections share it.
        system_tokens=count_text(model, agent.system) + 4,
        # Counted apart so the long, rarely changing part hits the cache every step.
        core_memory_tokens=count_text(model, rendered_blocks) + count_text(model, metadata) + 1,
        summary_tokens=agent.summary_tokens,
        message_tokens=window.tokens + 3,
        tool_tokens=count_tool_tokens(model, schemas),
        directories=directories,
        # One token more for the blank line that joins it to the sections before.
        directories_tokens=count_text(model, directories) + 1 if directories else 0,
    )


def with_recalled(context: CompiledContext, model: str, section: str | None) -> CompiledContext:
    """``context`` with a recall-assist section last in its system prompt."""
    if not section:
        return context
    # One token more for the blank line that joins it to the sections before.
    return replace(context, recalled=section, recalled_tokens=count_text(model, section) + 1)


def with_skills(context: CompiledContext, model: str, section: str) -> CompiledContext:
    """``context`` with the client's skills section after the files of its folders."""
    if not section:
        return context
    return replace(context, skills=section, skills_tokens=count_text(model, section) + 1)


def window_size(agent: t.Agent) -> int:
    """The agent's own limit when set, else its model's window."""
    return agent.context_window_limit or int(agent.llm_config.get("context_window") or 8192)
