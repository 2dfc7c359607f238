"""Which of an agent's relationships a listing shows: Letta's ``include`` and its older
``include_relationships``.

Engram loads every relationship either way; the choice only empties the fields a client did
not ask for, so an answer has the shape Letta gives the same request. With neither
parameter every relationship is shown (Letta's behaviour for older clients)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from engram.errors import InvalidInput

# Letta's AgentRelationships: what ``include`` may name.
Relation = Literal[
    "agent.blocks",
    "agent.identities",
    "agent.managed_group",
    "agent.pending_approval",
    "agent.secrets",
    "agent.sources",
    "agent.tags",
    "agent.tools",
]

# The wire fields each relationship fills.
_FIELDS: dict[str, tuple[str, ...]] = {
    "agent.blocks": ("blocks", "memory.blocks", "memory.file_blocks"),
    "agent.identities": ("identities", "identity_ids"),
    "agent.managed_group": ("managed_group", "multi_agent_group"),
    "agent.pending_approval": ("pending_approval",),
    "agent.secrets": ("secrets", "tool_exec_environment_variables"),
    "agent.sources": ("sources",),
    "agent.tags": ("tags",),
    "agent.tools": ("tools",),
}

# The legacy ``include_relationships`` names, as the relationships above.
_LEGACY: dict[str, str] = {
    "memory": "agent.blocks",
    "blocks": "agent.blocks",
    "identities": "agent.identities",
    "identity_ids": "agent.identities",
    "multi_agent_group": "agent.managed_group",
    "managed_group": "agent.managed_group",
    "pending_approval": "agent.pending_approval",
    "secrets": "agent.secrets",
    "tool_exec_environment_variables": "agent.secrets",
    "sources": "agent.sources",
    "tags": "agent.tags",
    "tools": "agent.tools",
}


def chosen(
    include: Iterable[str] | None, include_relationships: Iterable[str] | None
) -> frozenset[str] | None:
    """The relationships asked for, or None for all of them. InvalidInput names a legacy
    name Letta never had (``include`` itself is checked by its declared values)."""
    if include is None and include_relationships is None:
        return None
    picked = set(include or ())
    for name in include_relationships or ():
        relation = _LEGACY.get(name)
        if relation is None:
            known = ", ".join(sorted(_LEGACY))
            raise InvalidInput(
                "include_relationships", f"unknown relationship '{name}'; known: {known}"
            )
        picked.add(relation)
    return frozenset(picked)


def trimmed(agent: dict[str, Any], relations: frozenset[str] | None) -> dict[str, Any]:
    """``agent`` (a serialized agent) with the relationships not in ``relations`` empty."""
    if relations is None:
        return agent
    for relation, fields in _FIELDS.items():
        if relation in relations:
            continue
        for path in fields:
            _empty(agent, path)
    return agent


def _empty(agent: dict[str, Any], path: str) -> None:
    *parents, name = path.split(".")
    holder = agent
    for parent in parents:
        holder = holder[parent]
    current = holder.get(name)
    holder[name] = [] if isinstance(current, list) else None
