"""The messages an agent starts with (Letta's ``initial_message_sequence``).

They are stored as the first rows of the agent's history, in its window, and kept on the
agent as plain data, so that ``reset-messages`` with ``add_default_initial_messages`` can
put them back at the start of the emptied window as new rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.ids import new_id
from engram.runtime.context import message_tokens, window_size
from engram.runtime.step_rows import InputMessage
from engram.runtime.views import search_text
from engram.store import tables as t

FIELD = "initial_message_sequence"


def kept(items: list[InputMessage]) -> list[dict[str, Any]] | None:
    """The messages as the agent keeps them (JSON); None without any."""
    if not items:
        return None
    return [
        {"role": item.role, "text": item.text, "name": item.name, "parts": item.parts}
        for item in items
    ]


def add(session: Session, agent: t.Agent, room: int) -> None:
    """Store the agent's initial messages as new rows at the end of its history (the start
    of an empty window). InvalidInput naming the field when together they take more than
    ``room`` tokens of the window."""
    model = agent.llm_config["model"]
    rows = [_row(agent.id, model, item) for item in agent.initial_messages or []]
    total = sum(row.token_count for row in rows)
    if total > room:
        raise InvalidInput(
            FIELD,
            f"the initial messages take {total:,} tokens; the window of "
            f"{window_size(agent):,} tokens has room for {room:,} beside the system prompt, "
            "memory blocks and tool schemas",
        )
    session.add_all(rows)


def _row(agent_id: str, model: str, item: dict[str, Any]) -> t.Message:
    text = item.get("text") or ""
    row = t.Message(
        id=new_id("message"),
        agent_id=agent_id,
        role=item["role"],
        text=text or None,
        name=item.get("name"),
        content_parts=item.get("parts"),
        search_text=search_text(item["role"], text, None),
    )
    row.token_count = message_tokens(model, row)
    return row
