"""Writing an agent out as an agent file, read from one consistent snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from engram.ops.agent_file.folders import export_folders
from engram.ops.deps import HasDb
from engram.runtime.state import AgentState, compile_state, load_state
from engram.runtime.views import HELD
from engram.store import agents, messages, passages
from engram.store import groups as group_rows
from engram.store import tables as t
from engram.store.conversations import in_thread
from engram.store.tables import as_utc
from engram.version import __version__

if TYPE_CHECKING:
    from engram.runtime.window import WindowCache

SCHEMA_VERSION = "1"
AGENT_REF = "agent-0"
GROUP_REF = "group-0"


class HasWindows(HasDb, Protocol):
    """Reads rows and the cached in-context windows: what an export needs."""

    @property
    def windows(self) -> WindowCache: ...


async def export_agent_file(
    deps: HasWindows,
    agent_id: str,
    *,
    scrub_messages: bool = False,
    skills: list[dict[str, Any]] | None = None,
    include_secrets: bool = False,
    conversation_id: str | None = None,
) -> dict[str, Any]:
    """The agent as an agent-file document. ``scrub_messages`` leaves the conversation out:
    its messages and the summary of them. The agent's tool variables travel by name only,
    with empty values, unless ``include_secrets``. Raises NotFound for an unknown agent."""

    def _read(session: Session) -> dict[str, Any]:
        group = group_rows.of_main_agent(session, agent_id)
        paired = [agent_id] if group is None else [agent_id, group.sleeptime_agent_id]
        # The main agent's thread is the conversation asked for; its sleep-time agent's own.
        states = [
            load_state(
                session,
                one,
                deps.windows,
                conversation_id=conversation_id if one == agent_id else None,
            )[0]
            for one in paired
        ]
        block_rows = {block.id: block for state in states for block in state.blocks}
        tool_rows = {tool.id: tool for state in states for tool in state.tools}
        block_refs = {block_id: f"block-{i}" for i, block_id in enumerate(block_rows)}
        tool_refs = {tool_id: f"tool-{i}" for i, tool_id in enumerate(tool_rows)}
        file_agents, next_message = [], 0
        for index, state in enumerate(states):
            agent = _agent_to_file(
                session,
                state,
                f"agent-{index}",
                [block_refs[block.id] for block in state.blocks],
                [tool_refs[tool.id] for tool in state.tools],
            )
            variables = {
                str(name): str(value) if include_secrets else ""
                for name, value in (state.agent.tool_env or {}).items()
            }
            # Letta reads the deprecated name on import; Engram reads both.
            agent["tool_exec_environment_variables"] = variables
            agent["secrets"] = dict(variables)
            if not scrub_messages:
                next_message = _add_conversation(session, state, agent, next_message)
            file_agents.append(agent)
        carried = export_folders(session, agent_id, AGENT_REF)
        main = file_agents[0]
        main["source_ids"], main["files_agents"] = carried["source_ids"], carried["files_agents"]
        if group is not None:
            main["enable_sleeptime"], main["group_ids"] = True, [GROUP_REF]
            file_agents[1]["engram"]["passages"] = []  # the main agent's, carried there
        return {
            "agents": file_agents,
            "groups": [] if group is None else [_group_to_file(group)],
            "blocks": [_block_to_file(row, block_refs[row.id]) for row in block_rows.values()],
            "files": carried["files"],
            "sources": carried["sources"],
            "tools": [_tool_to_file(row, tool_refs[row.id]) for row in tool_rows.values()],
            "mcp_servers": [],
            "skills": skills or [],
            "metadata": {"schema_version": SCHEMA_VERSION, "exported_by": f"engram {__version__}"},
            "created_at": datetime.now(UTC).isoformat(),
        }

    return await deps.db.read(_read)


def _group_to_file(group: t.Group) -> dict[str, Any]:
    """A sleep-time pairing as Letta's GroupSchema: the main agent is always ``agent-0``
    and its sleep-time agent ``agent-1``."""
    return {
        "id": GROUP_REF,
        "agent_ids": ["agent-1"],
        "description": group.description,
        "manager_config": {
            "manager_type": group.manager_type,
            "manager_agent_id": AGENT_REF,
            "sleeptime_agent_frequency": group.sleeptime_agent_frequency,
        },
        "project_id": None,
        "shared_block_ids": [],
        "hidden": None,
    }


def _agent_to_file(
    session: Session, state: AgentState, ref: str, block_refs: list[str], tool_refs: list[str]
) -> dict[str, Any]:
    agent = state.agent
    # The agent's archival memory includes attached archives': copied in, the file stands alone.
    archived = passages.list_passages(
        session, agent.id, before=None, after=None, limit=None, ascending=True, search=None
    )
    return {
        "id": ref,
        "name": agent.name,
        "system": agent.system,
        "agent_type": agent.agent_type,
        "description": agent.description,
        "metadata": agent.metadata_ or {},
        "tags": agents.tags_of(session, agent.id),
        "llm_config": agent.llm_config,
        "embedding_config": agent.embedding_config,
        "model": None,
        "embedding": None,
        "context_window_limit": agent.context_window_limit,
        "tool_rules": agent.tool_rules or [],
        "compaction_settings": agent.compaction_settings,
        "recall_assist": agent.recall_assist,
        "memory_blocks": [],
        "block_ids": block_refs,
        "tools": [],
        "tool_ids": tool_refs,
        "source_ids": [],
        # Letta would otherwise add its own base tools and rules on import.
        "include_base_tools": False,
        "include_multi_agent_tools": False,
        "include_base_tool_rules": False,
        "include_default_source": False,
        "initial_message_sequence": None,
        "message_buffer_autoclear": bool(agent.message_buffer_autoclear),
        "enable_sleeptime": False,
        "timezone": agent.timezone or "UTC",
        "max_files_open": agent.max_files_open,
        "per_file_view_window_char_limit": agent.per_file_view_window_char_limit,
        "in_context_message_ids": [],
        "messages": [],
        "files_agents": [],
        "group_ids": [],
        "engram": {"summary": "", "passages": [_passage_to_file(row) for row in archived]},
    }


def _add_conversation(
    session: Session, state: AgentState, agent: dict[str, Any], first: int
) -> int:
    """Fill in the history, the window and the summary, numbering the messages from
    ``first`` (ids are unique across the file); returns the next number.

    The history opens with the compiled prompt as a system message, in the window, as
    Letta's does: a Letta server rebuilds that message and expects to find it first."""
    row = state.agent
    prompt = compile_state(state).system_prompt()
    system = t.Message(role="system", text=prompt, created_at=row.created_at)
    # The exported thread's history: the agent's own, or the conversation's.
    history = messages.list_messages(
        session,
        row.id,
        before=None,
        after=None,
        limit=None,
        descending=False,
        where=in_thread(t.Message.conversation_id, state.conversation_id),
    )
    window = {message.id for message in state.window.rows}
    model = row.llm_config["model"]
    refs: dict[str, str] = {}
    for message in [system, *history]:
        ref = f"message-{first + len(agent['messages'])}"
        refs[message.id] = ref
        agent["messages"].append(_message_to_file(message, ref, model, refs, agent["id"]))
        if message is system or message.id in window:
            agent["in_context_message_ids"].append(ref)
    agent["engram"]["summary"] = row.summary
    return first + len(agent["messages"])


def _time(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None


def _message_to_file(
    row: t.Message, ref: str, model: str, refs: dict[str, str], agent_ref: str
) -> dict[str, Any]:
    """One message in the file; ``refs`` maps the ids of the messages written before it
    to their file ids (an approval answer names its request)."""
    content: list[dict[str, Any]] = []
    if row.reasoning_blocks:
        # Signed and redacted thinking travel verbatim: the provider checks them.
        content.extend(_reasoning_part(block) for block in row.reasoning_blocks)
    elif row.reasoning:
        content.append(
            {"type": "reasoning", "is_native": False, "reasoning": row.reasoning, "signature": None}
        )
    if row.content_parts:
        content.extend(row.content_parts)  # text and images, in their order
    elif row.text:
        content.append({"type": "text", "text": row.text})
    calls = [
        {
            "id": call["id"],
            "type": "function",
            "function": {"name": call["name"], "arguments": call["arguments"]},
            # Engram's own key: the call waited for approval (runtime/approvals.py).
            **({HELD: True} if call.get(HELD) else {}),
        }
        for call in row.tool_calls or []
    ]
    is_tool = row.role == "tool"
    returned = {
        "tool_call_id": row.tool_call_id,
        "status": row.tool_status or "success",
        "stdout": None,
        "stderr": None,
        "func_response": row.text,
    }
    return {
        "type": "message",
        "id": ref,
        "role": row.role,
        "content": content,
        "name": row.tool_name if is_tool else row.name,
        "otid": row.otid,
        "sender_id": None,
        "batch_item_id": None,
        "group_id": None,
        "model": model if row.role == "assistant" else None,
        "agent_id": agent_ref,
        "tool_calls": calls or None,
        "tool_call_id": row.tool_call_id,
        "tool_returns": [returned] if is_tool else None,
        "created_at": _time(row.created_at),
        **_approval_fields(row, refs),
    }


def _approval_fields(row: t.Message, refs: dict[str, str]) -> dict[str, Any]:
    """An approval answer's fields under the names of Letta's message schema."""
    if row.approval is None:
        return {}
    asked = row.approval.get("approval_request_id")
    return {
        "approve": row.approval.get("approve"),
        "approval_request_id": refs.get(asked, asked) if asked else None,
        "denial_reason": row.approval.get("reason"),
        "approvals": row.approval.get("approvals"),
    }


def _block_to_file(row: t.Block, ref: str) -> dict[str, Any]:
    return {
        "id": ref,
        "label": row.label,
        "value": row.value,
        "limit": row.limit,
        "description": row.description,
        "read_only": row.read_only,
        "hidden": row.hidden,
        "metadata": row.metadata_ or {},
        "tags": row.tags or [],
        "is_template": False,
        "template_name": None,
        "preserve_on_migration": False,
    }


def _tool_to_file(row: t.Tool, ref: str) -> dict[str, Any]:
    return {
        "id": ref,
        "name": row.name,
        "tool_type": row.tool_type,
        "description": row.description,
        "source_type": row.source_type,
        "source_code": row.source_code,
        "json_schema": row.json_schema,
        "args_json_schema": None,
        "tags": row.tags or [],
        "return_char_limit": row.return_char_limit,
        "pip_requirements": row.pip_requirements,
        "npm_requirements": None,
        "default_requires_approval": None,
        "enable_parallel_execution": False,
        "metadata_": row.metadata_ or {},
    }


def _passage_to_file(row: t.Passage) -> dict[str, Any]:
    return {
        "text": row.text,
        "tags": row.tags or [],
        "metadata": row.metadata_ or {},
        "created_at": _time(row.created_at),
    }


def _reasoning_part(block: dict[str, Any]) -> dict[str, Any]:
    if block.get("type") == "redacted_thinking":
        return {"type": "redacted_reasoning", "data": block.get("data")}
    return {
        "type": "reasoning",
        "is_native": True,
        "reasoning": block.get("thinking", ""),
        "signature": block.get("signature"),
    }
