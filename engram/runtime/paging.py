"""Paging: folding the oldest in-context messages into a running summary.

Policy is pure (``choose_cut``); the fold itself is one summarizer call and one
transaction that moves the window cursor and stores the new summary. Evicted messages
stay in the messages table, so recall search still finds them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from engram.errors import ProviderError
from engram.llm.client import ChatRequest, LLMClient
from engram.runtime.context import count_text
from engram.store import tables as t
from engram.store.tables import as_utc

log = logging.getLogger(__name__)

SUMMARIZER_INSTRUCTIONS = (
    "You keep the running summary of a long conversation between a user and an AI agent. "
    "You get the current summary and the next messages that are leaving the agent's view. "
    "Write one updated summary that covers both: facts about the user, decisions, open "
    "tasks, and what the agent did with its tools. Be concrete (names, numbers, dates). "
    "Write plain prose, at most {words} words. Output only the summary."
)


@dataclass(frozen=True)
class Fold:
    evicted: list[t.Message]
    summary: str
    summary_tokens: int
    fell_back: bool


def choose_cut(window: Sequence[t.Message], tokens_to_free: int) -> int:
    """How many of the oldest messages to evict to free ``tokens_to_free``.

    The first kept message is never a tool result (a call and its result leave together),
    a user message is preferred as the boundary, and the newest message always stays.
    """
    if tokens_to_free <= 0 or len(window) < 2:
        return 0
    freed = 0
    fallback = 0
    for cut in range(1, len(window)):
        freed += window[cut - 1].token_count
        first_kept = window[cut]
        if first_kept.role == "tool":
            continue
        if freed >= tokens_to_free:
            if first_kept.role == "user":
                return cut
            fallback = fallback or cut
    if fallback:
        return fallback
    # Not enough to reach the target: evict all but the newest clean boundary.
    for cut in range(len(window) - 1, 0, -1):
        if window[cut].role != "tool":
            return cut
    return 0


def transcript(messages: Sequence[t.Message]) -> str:
    lines = []
    for message in messages:
        stamp = as_utc(message.created_at).isoformat(timespec="minutes")
        if message.text:
            lines.append(f"[{stamp}] {message.role}: {message.text}")
        for call in message.tool_calls or []:
            lines.append(f"[{stamp}] assistant called {call['name']}({call['arguments']})")
    return "\n".join(lines)


async def summarize(
    client: LLMClient,
    model: str,
    previous: str,
    evicted: Sequence[t.Message],
    *,
    max_summary_tokens: int,
) -> Fold:
    """Fold ``evicted`` into ``previous``; a failed call degrades to a deterministic note."""
    words = max(50, int(max_summary_tokens * 0.7))
    request = ChatRequest(
        model=model,
        messages=[
            {"role": "system", "content": SUMMARIZER_INSTRUCTIONS.format(words=words)},
            {
                "role": "user",
                "content": json.dumps(
                    {"current_summary": previous, "messages_leaving_view": transcript(evicted)}
                ),
            },
        ],
        max_tokens=max_summary_tokens,
    )
    fell_back = False
    try:
        result = await client.chat(request)
        summary = (result.content or "").strip()
        if not summary:
            raise ProviderError("the summarizer returned an empty summary")
    except ProviderError as exc:
        log.warning("summarizer failed, folding with a truncation note: %s", exc)
        summary = truncation_note(previous, evicted)
        fell_back = True
    summary = clip(model, summary, max_summary_tokens)
    return Fold(list(evicted), summary, count_text(model, summary), fell_back)


def truncation_note(previous: str, evicted: Sequence[t.Message]) -> str:
    first = as_utc(evicted[0].created_at).isoformat(timespec="minutes")
    last = as_utc(evicted[-1].created_at).isoformat(timespec="minutes")
    note = (
        f"[{len(evicted)} messages from {first} to {last} left the window without a summary; "
        "they are in recall memory: use conversation_search to read them.]"
    )
    return f"{previous}\n{note}".strip()


def clip(model: str, summary: str, max_tokens: int) -> str:
    """Keep a runaway summary from eating the window it is meant to save."""
    if count_text(model, summary) <= max_tokens:
        return summary
    # Characters per token is close to 4 for prose; trim from the front (oldest content).
    keep = max_tokens * 4
    return "[…] " + summary[-keep:]
