"""Letta's legacy single-agent file (the "v1" layout, before ``AgentFileSchema``).

One agent object holds everything at its top level: its blocks inline as ``core_memory``,
its tools inline as ``tools``, ``tags`` as ``{"tag": ...}`` objects, tool variables as a
list of ``{"key", "value"}`` objects, and messages without ids, the window being given
by their positions (``in_context_message_indices``). Engram reads it by rewriting it as
the current document (file-local ids made from positions), and writes it by rewriting the
current document the other way, so one import and one export path serve both layouts.
"""

from __future__ import annotations

from typing import Any

from engram.errors import InvalidInput
from engram.version import __version__

# Copied from the legacy agent to the current one under the same name.
_SAME_NAME = (
    *("name", "system", "agent_type", "description"),
    *("llm_config", "embedding_config", "tool_rules", "engram"),
)


def is_legacy(data: dict[str, Any]) -> bool:
    """A legacy file is one agent with its blocks inline, not a list of ``agents``."""
    return "agents" not in data and ("core_memory" in data or "in_context_message_indices" in data)


def from_legacy(data: dict[str, Any]) -> dict[str, Any]:
    """The legacy agent as a current document. InvalidInput names a malformed part."""
    blocks = [
        {**block, "id": f"block-{i}", "metadata": block.get("metadata_", block.get("metadata"))}
        for i, block in enumerate(_objects(data, "core_memory"))
    ]
    tools = [{**tool, "id": f"tool-{i}"} for i, tool in enumerate(_objects(data, "tools"))]
    messages = [
        {**message, "id": f"message-{i}"} for i, message in enumerate(_objects(data, "messages"))
    ]
    agent: dict[str, Any] = {key: data[key] for key in _SAME_NAME if key in data}
    agent.update(
        id="agent-0",
        metadata=data.get("metadata_"),
        tags=[_tag(tag) for tag in data.get("tags") or []],
        tool_exec_environment_variables={
            str(item.get("key")): item.get("value") or ""
            for item in _objects(data, "tool_exec_environment_variables")
        },
        block_ids=[block["id"] for block in blocks],
        tool_ids=[tool["id"] for tool in tools],
        messages=messages,
        in_context_message_ids=_window(data.get("in_context_message_indices"), len(messages)),
    )
    group = data.get("multi_agent_group")
    # A group is not silently lost: it goes where the current layout keeps groups, and the
    # import reports (or refuses) it as it does any group.
    groups = [{"id": "group-0", **group}] if isinstance(group, dict) else []
    return {"agents": [agent], "groups": groups, "blocks": blocks, "tools": tools}


def _objects(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidInput(f"file.{key}", "must be a list of objects")
    return items


def _tag(tag: Any) -> Any:
    return tag.get("tag") if isinstance(tag, dict) else tag


def _window(indices: Any, count: int) -> list[str]:
    if indices is None:
        return []
    if not isinstance(indices, list) or not all(
        isinstance(i, int) and 0 <= i < count for i in indices
    ):
        raise InvalidInput(
            "file.in_context_message_indices", f"must be positions of messages (0 to {count - 1})"
        )
    return [f"message-{i}" for i in indices]


def to_legacy(document: dict[str, Any]) -> dict[str, Any]:
    """A one-agent current document (as ``export_agent_file`` writes it) in the legacy
    layout. Timestamps the current layout does not keep are the export's own time."""
    (agent,) = document["agents"]
    stamp = document.get("created_at")
    blocks = {block["id"]: block for block in document["blocks"]}
    tools = {tool["id"]: tool for tool in document["tools"]}
    position = {message["id"]: i for i, message in enumerate(agent["messages"])}
    variables = agent.get("tool_exec_environment_variables") or {}
    return {
        "agent_type": agent["agent_type"],
        "core_memory": [_legacy_block(blocks[ref], stamp) for ref in agent["block_ids"]],
        "created_at": stamp,
        "description": agent["description"],
        "embedding_config": agent["embedding_config"],
        "llm_config": agent["llm_config"],
        "message_buffer_autoclear": False,
        "in_context_message_indices": [position[ref] for ref in agent["in_context_message_ids"]],
        "messages": [_legacy_message(message, stamp) for message in agent["messages"]],
        "metadata_": agent["metadata"],
        "multi_agent_group": None,
        "name": agent["name"],
        "system": agent["system"],
        "tags": [{"tag": tag} for tag in agent["tags"]],
        "tool_exec_environment_variables": [
            {"key": key, "value": value, "description": None, "created_at": stamp}
            | {"updated_at": stamp}
            for key, value in variables.items()
        ],
        "tool_rules": agent["tool_rules"],
        "tools": [_legacy_tool(tools[ref], stamp) for ref in agent["tool_ids"]],
        "updated_at": stamp,
        "version": __version__,
        "engram": agent["engram"],
    }


def _legacy_block(block: dict[str, Any], stamp: str | None) -> dict[str, Any]:
    value = block["value"]
    return {
        "created_at": stamp,
        "updated_at": stamp,
        "description": block["description"],
        "is_template": False,
        "template_name": None,
        "label": block["label"],
        "limit": block["limit"] if block["limit"] is not None else max(len(value), 1),
        "metadata_": block["metadata"],
        "value": value,
        "read_only": block["read_only"],
        "hidden": block["hidden"],
        "tags": block["tags"],
    }


def _legacy_message(message: dict[str, Any], stamp: str | None) -> dict[str, Any]:
    approval = ("approve", "approval_request_id", "denial_reason", "approvals")
    return {
        "created_at": message["created_at"] or stamp,
        "updated_at": message["created_at"] or stamp,
        "group_id": None,
        "model": message["model"],
        "name": message["name"],
        "role": message["role"],
        "content": message["content"],
        "otid": message["otid"],
        "tool_call_id": message["tool_call_id"],
        "tool_calls": message["tool_calls"] or [],
        "tool_returns": message["tool_returns"] or [],
        **{key: message[key] for key in approval if key in message},
    }


def _legacy_tool(tool: dict[str, Any], stamp: str | None) -> dict[str, Any]:
    return {
        "args_json_schema": tool["args_json_schema"],
        "created_at": stamp,
        "updated_at": stamp,
        "description": tool["description"] or "",
        "json_schema": tool["json_schema"],
        "name": tool["name"],
        "return_char_limit": tool["return_char_limit"],
        "source_code": tool["source_code"],
        "source_type": tool["source_type"] or "python",
        "tags": tool["tags"],
        "tool_type": tool["tool_type"],
        "pip_requirements": tool["pip_requirements"],
        "metadata_": tool["metadata_"],
    }
