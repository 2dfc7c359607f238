"""Stored messages as Letta message objects (the wire's ``LettaMessageUnion``).

One stored assistant message can surface as several Letta messages (reasoning, answer,
one per tool call); they share the stored id and differ in ``message_type``, as Letta's do.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from engram.ids import new_id
from engram.store import tables as t
from engram.store.tables import as_utc, utcnow

if TYPE_CHECKING:
    from engram.runtime.paging import Fold

SEND_MESSAGE = "send_message"
HELD = "requires_approval"
"""The key marking a stored tool call held for approval (see runtime/approvals.py)."""


def _base(message: t.Message, message_type: str, name: str | None = None) -> dict[str, Any]:
    return {
        "id": message.id,
        "date": as_utc(message.created_at).isoformat(timespec="seconds"),
        "name": name,
        "message_type": message_type,
        "otid": message.otid,
        "sender_id": None,
        "step_id": message.step_id,
        "is_err": None,
        "seq_id": None,
        "run_id": message.run_id,
    }


def _send_message_text(arguments: str) -> str | None:
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    value = parsed.get("message") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None


def letta_messages(
    message: t.Message, *, use_assistant_message: bool = True
) -> list[dict[str, Any]]:
    """The Letta messages one stored message shows as, in display order.
    ``use_assistant_message=False`` shows a ``send_message`` call as a tool call and its
    result as a tool return, instead of as an ``assistant_message`` (Letta's option)."""
    if message.role == "user":
        content: str | list[Any] = message.content_parts or message.text or ""
        return [{**_base(message, "user_message", message.name), "content": content}]
    if message.role == "system":
        return [{**_base(message, "system_message"), "content": message.text or ""}]
    if message.role == "approval":
        return [_approval_response(message)]
    if message.role == "tool":
        said = message.tool_name == SEND_MESSAGE and message.tool_status != "error"
        if said and use_assistant_message:
            return []
        status = message.tool_status or "success"
        tool_return = {
            "type": "tool",
            "tool_return": message.text or "",
            "status": status,
            "tool_call_id": message.tool_call_id,
            "stdout": None,
            "stderr": None,
        }
        return [
            {
                **_base(message, "tool_return_message", message.tool_name),
                "tool_return": message.text or "",
                "status": status,
                "tool_call_id": message.tool_call_id,
                "stdout": None,
                "stderr": None,
                "tool_returns": [tool_return],
            }
        ]
    out = _reasoning(message)
    if message.text:
        out.append({**_base(message, "assistant_message"), "content": message.text})
    request: dict[str, Any] | None = None
    for call in message.tool_calls or []:
        if call["name"] == SEND_MESSAGE and use_assistant_message:
            text = _send_message_text(call["arguments"])
            if text is not None:
                out.append({**_base(message, "assistant_message"), "content": text})
                continue
        wire_call = {
            "name": call["name"],
            "arguments": call["arguments"],
            "tool_call_id": call["id"],
        }
        if call.get(HELD) and request is not None:
            request["tool_calls"].append(wire_call)
            continue
        # The calls held for approval show as one request for them all (its ``tool_call``
        # is the first), before and after the answer; the others each as a tool call.
        kind = "approval_request_message" if call.get(HELD) else "tool_call_message"
        view = {**_base(message, kind), "tool_call": wire_call, "tool_calls": [wire_call]}
        if call.get(HELD):
            request = view
        out.append(view)
    return out


def _approval_response(message: t.Message) -> dict[str, Any]:
    """The client's answer to an approval request (runtime/approvals.py), as Letta's
    ``ApprovalResponseMessage``: its own fields plus one entry per call it decided."""
    answer = message.approval or {}
    return {
        **_base(message, "approval_response_message"),
        "approvals": answer.get("approvals"),
        "approve": answer.get("approve"),
        "approval_request_id": answer.get("approval_request_id"),
        "reason": answer.get("reason"),
    }


def _reasoning(message: t.Message) -> list[dict[str, Any]]:
    """The model's reasoning: one message per native block (a thinking block, or a redacted
    one whose content the provider encrypted), else the reasoning text as one message."""
    if not message.reasoning_blocks:
        if not message.reasoning:
            return []
        return [
            {
                **_base(message, "reasoning_message"),
                "source": "non_reasoner_model",
                "reasoning": message.reasoning,
                "signature": None,
            }
        ]
    out: list[dict[str, Any]] = []
    for block in message.reasoning_blocks:
        if block.get("type") == "redacted_thinking":
            out.append(
                {
                    **_base(message, "hidden_reasoning_message"),
                    "state": "redacted",
                    "hidden_reasoning": block.get("data"),
                }
            )
        elif block.get("type") == "thinking":
            out.append(
                {
                    **_base(message, "reasoning_message"),
                    "source": "reasoner_model",
                    "reasoning": block.get("thinking") or "",
                    "signature": block.get("signature"),
                }
            )
    return out


def listing(
    rows: list[t.Message],
    *,
    descending: bool,
    use_assistant_message: bool = True,
    message_types: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Rows (already in listing order) as Letta messages; newest-first listings also reverse
    the parts of each message, so the result is exactly the oldest-first listing reversed.
    ``use_assistant_message`` as for ``letta_messages``; ``message_types``: only these."""
    out: list[dict[str, Any]] = []
    for row in rows:
        views = letta_messages(row, use_assistant_message=use_assistant_message)
        out += reversed(views) if descending else views
    if message_types is None:
        return out
    return [view for view in out if view["message_type"] in message_types]


def search_text(role: str, text: str | None, tool_calls: list[dict[str, Any]] | None) -> str | None:
    """What full-text search indexes: the visible text, including what send_message said."""
    parts = [text] if text else []
    for call in tool_calls or []:
        if call["name"] == SEND_MESSAGE:
            said = _send_message_text(call["arguments"])
            if said:
                parts.append(said)
    return "\n".join(parts) or None


def compaction_messages(fold: Fold, run_id: str) -> list[dict[str, Any]]:
    """A fold as Letta reports a compaction: an ``event_message`` saying what was folded,
    then a ``summary_message`` with the summary the window now starts from."""
    now = utcnow().isoformat()
    common = {
        "date": now,
        "name": None,
        "otid": None,
        "sender_id": None,
        "step_id": None,
        "is_err": None,
        "seq_id": None,
        "run_id": run_id,
    }
    event = {
        **common,
        "id": new_id("message"),
        "message_type": "event_message",
        "event_type": "compaction",
        "event_data": {
            "evicted_messages": len(fold.evicted),
            "evicted_message_ids": [row.id for row in fold.evicted],
            "summary_tokens": fold.summary_tokens,
            "summarizer_fell_back": fold.fell_back,
        },
    }
    summary = {
        **common,
        "id": new_id("message"),
        "message_type": "summary_message",
        "summary": fold.summary,
        "compaction_stats": None,
    }
    return [event, summary]
