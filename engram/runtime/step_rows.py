"""The rows one step writes: the incoming messages, the model's message, tool results.

Built in memory before the step's transaction and inserted there in one statement each,
which is why a row's values are read back by ``row_values`` instead of an ORM flush.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from engram.ids import new_id
from engram.llm.client import ChatResult
from engram.llm.config import LLMConfig
from engram.runtime.context import window_size
from engram.runtime.stop import StopReason
from engram.runtime.tool_calls import ExecutedCall
from engram.runtime.views import search_text
from engram.store import tables as t

Role = Literal["system", "user", "assistant", "tool", "approval"]
"""A message's role: the four a model sees, and ``approval`` for the stored answer to an
approval request (runtime/approvals.py), which it does not."""


@dataclass
class InputMessage:
    role: Role
    text: str
    name: str | None = None
    otid: str | None = None
    # Role "approval" (runtime/approvals.py): the answer to a pending approval, no text.
    approval: dict[str, Any] | None = None
    # A user message with images: its content parts in order, as Letta's (``text`` holds
    # the text parts joined).
    parts: list[dict[str, Any]] | None = None


def row_values(row: t.Base) -> dict[str, Any]:
    """A new row as column values, for one multi-row INSERT instead of the ORM's flush."""
    return {
        column.key: getattr(row, column.key)
        for column in row.__table__.columns
        if getattr(row, column.key) is not None
    }


def input_row(agent_id: str, run_id: str, item: InputMessage) -> t.Message:
    return t.Message(
        id=new_id("message"),
        agent_id=agent_id,
        role=item.role,
        text=item.text,
        name=item.name,
        otid=item.otid,
        run_id=run_id,
        content_parts=item.parts,
        search_text=item.text,
        created_at=datetime.now(UTC),
    )


def assistant_row(
    agent_id: str, run_id: str, step_id: str, message_id: str, chat: ChatResult
) -> t.Message:
    calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in chat.tool_calls]
    return t.Message(
        id=message_id,
        agent_id=agent_id,
        role="assistant",
        text=chat.content,
        reasoning=chat.reasoning,
        reasoning_blocks=chat.reasoning_blocks or None,
        tool_calls=calls or None,
        run_id=run_id,
        step_id=step_id,
        search_text=search_text("assistant", chat.content, calls),
        created_at=datetime.now(UTC),
    )


def tool_row(agent_id: str, run_id: str, step_id: str, call: ExecutedCall) -> t.Message:
    return t.Message(
        id=new_id("message"),
        agent_id=agent_id,
        role="tool",
        text=call.output,
        tool_call_id=call.call_id,
        tool_name=call.name,
        tool_status="error" if call.failed else "success",
        run_id=run_id,
        step_id=step_id,
        search_text=call.output,
        created_at=datetime.now(UTC),
    )


def step_record(
    step_id: str,
    chat: ChatResult,
    run_id: str,
    agent: t.Agent,
    counted_tokens: int,
    timings: dict[str, Any],
    stop_reason: StopReason | None,
) -> t.Step:
    """The step's own row: its model call's usage beside Engram's count of the prompt, and
    where its time went (runtime/step_clock.py)."""
    config = LLMConfig.from_json(agent.llm_config)
    return t.Step(
        id=step_id,
        run_id=run_id,
        agent_id=agent.id,
        model=chat.model,
        model_handle=config.handle,
        provider_name=config.provider_name,
        context_window_limit=window_size(agent),
        prompt_tokens=chat.prompt_tokens,
        completion_tokens=chat.completion_tokens,
        counted_prompt_tokens=counted_tokens,
        stop_reason=stop_reason,
        status="success",
        duration_ms=timings["step_ns"] / 1e6,
        timings=timings,
    )
