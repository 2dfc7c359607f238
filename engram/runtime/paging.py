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
from engram.times import agent_zone

log = logging.getLogger(__name__)

SUMMARIZER_INSTRUCTIONS = (
    "You keep the running summary of a long conversation between a user and an AI agent. "
    "You get the current summary and the next messages that are leaving the agent's view. "
    "Write one updated summary that covers both: facts about the user, decisions, open "
    "tasks, and what the agent did with its tools. Be concrete (names, numbers, dates). "
    "Write plain prose."
)
# Appended to every set of instructions, an owner's own included: the budget is what keeps
# the summary from eating the window it saves.
SUMMARY_BUDGET = (
    "Write the updated running summary in at most {words} words, and output nothing else."
)


@dataclass(frozen=True)
class Fold:
    evicted: list[t.Message]
    summary: str
    summary_tokens: int
    fell_back: bool


@dataclass(frozen=True)
class Summarizer:
    """Who writes the summary (a model and its client) and the owner's overrides."""

    client: LLMClient
    model: str
    prompt: str | None = None
    """Instructions replacing ``SUMMARIZER_INSTRUCTIONS``."""
    clip_chars: int | None = None
    """The most characters of one evicted message the summarizer reads."""

    def instructions(self, words: int) -> str:
        return f"{self.prompt or SUMMARIZER_INSTRUCTIONS}\n\n{SUMMARY_BUDGET.format(words=words)}"


def choose_cut(
    window: Sequence[t.Message],
    tokens_to_free: int,
    *,
    keep_last_user_turns: int = 0,
    tokens_over_limit: int = 0,
) -> int:
    """How many of the oldest messages to evict to free ``tokens_to_free``.

    The newest message always stays, the first kept message is never a tool result (a call
    and its results leave together), the last ``keep_last_user_turns`` user turns stay
    (a turn is a user message and all that follows it up to the next one), and a user
    message is the preferred boundary. If the target cannot be met, all the rules allow
    goes. The kept turns give way, one at a time, only while the cut would free less than
    ``tokens_over_limit`` (how far the window is over its hard limit; 1 for a forced fold):
    a long history must never fail a run.
    """
    if tokens_to_free <= 0 or len(window) < 2:
        return 0
    cut = 0
    for keep in range(max(keep_last_user_turns, 0), -1, -1):
        cut = _cut_before(window, tokens_to_free, _protected_from(window, keep))
        if sum(row.token_count for row in window[:cut]) >= tokens_over_limit:
            return cut
    return cut


def _protected_from(window: Sequence[t.Message], keep_turns: int) -> int:
    """Index of the first message that must stay when the last ``keep_turns`` turns do."""
    newest = len(window) - 1
    users = [index for index, row in enumerate(window) if row.role == "user"]
    if keep_turns <= 0 or not users:
        return newest
    return min(users[-min(keep_turns, len(users))], newest)


def _cut_before(window: Sequence[t.Message], tokens_to_free: int, bound: int) -> int:
    """The best cut in ``1..bound``: the first user boundary that frees enough, else the
    first clean boundary that does, else the last clean boundary; 0 if there is none."""
    freed = 0
    enough = 0
    last_clean = 0
    for cut in range(1, bound + 1):
        freed += window[cut - 1].token_count
        if window[cut].role in ("tool", "approval"):
            # Results (and the answer that let their calls run) stay with their calls.
            continue
        last_clean = cut
        if freed >= tokens_to_free:
            if window[cut].role == "user":
                return cut
            enough = enough or cut
    return enough or last_clean


def transcript(
    messages: Sequence[t.Message], *, clip_chars: int | None = None, zone: str | None = None
) -> str:
    """The messages as the summarizer reads them, each stamped on the agent's clock."""
    lines = []
    for message in messages:
        stamp = _stamp(message, zone)
        images = sum(part.get("type") == "image" for part in message.content_parts or [])
        if message.text or images:
            shown = clip_text(message.text or "", clip_chars)
            # The summarizer reads text only; it learns that images were shared.
            shown += f" [{images} image(s) attached]" if images else ""
            lines.append(f"[{stamp}] {message.role}: {shown.strip()}")
        for call in message.tool_calls or []:
            arguments = clip_text(str(call["arguments"]), clip_chars)
            lines.append(f"[{stamp}] assistant called {call['name']}({arguments})")
    return "\n".join(lines)


def clip_text(text: str, limit: int | None) -> str:
    """Bound what the summarizer reads of one message; the full text stays in recall."""
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]} […{len(text) - limit} more characters]"


async def summarize(
    summarizer: Summarizer,
    previous: str,
    evicted: Sequence[t.Message],
    *,
    agent_model: str,
    max_summary_tokens: int,
    zone: str | None = None,
) -> Fold:
    """Fold ``evicted`` into ``previous``; a failed call degrades to a deterministic note.

    The summary is counted with ``agent_model``'s tokenizer: it lives in the agent's window,
    whichever model wrote it.
    """
    words = max(50, int(max_summary_tokens * 0.7))
    messages_leaving_view = transcript(evicted, clip_chars=summarizer.clip_chars, zone=zone)
    request = ChatRequest(
        model=summarizer.model,
        messages=[
            {"role": "system", "content": summarizer.instructions(words)},
            {
                "role": "user",
                "content": json.dumps(
                    {"current_summary": previous, "messages_leaving_view": messages_leaving_view}
                ),
            },
        ],
        max_tokens=max_summary_tokens,
    )
    fell_back = False
    try:
        result = await summarizer.client.chat(request)
        summary = (result.content or "").strip()
        if not summary:
            raise ProviderError("the summarizer returned an empty summary")
    except ProviderError as exc:
        log.warning("summarizer failed, folding with a truncation note: %s", exc)
        summary = truncation_note(previous, evicted, zone)
        fell_back = True
    summary = clip(agent_model, summary, max_summary_tokens)
    return Fold(list(evicted), summary, count_text(agent_model, summary), fell_back)


def _stamp(message: t.Message, zone: str | None) -> str:
    return as_utc(message.created_at).astimezone(agent_zone(zone)).isoformat(timespec="minutes")


def truncation_note(previous: str, evicted: Sequence[t.Message], zone: str | None = None) -> str:
    first, last = _stamp(evicted[0], zone), _stamp(evicted[-1], zone)
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
