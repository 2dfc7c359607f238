"""What one turn carries from step to step, and what it answers with.

A ``Turn`` moves on only when a step's transaction has committed (``adopt``): a step that
fails leaves it, like the database, as the previous step left it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from engram.llm.client import DeltaSink
from engram.memory.ledger import MemoryLedger
from engram.runtime.approvals import ApprovalDeps
from engram.runtime.folding import FoldingDeps
from engram.runtime.paging import Fold
from engram.runtime.recall_assist import RecallDeps, RecalledSection
from engram.runtime.step_rows import InputMessage, input_row
from engram.runtime.stop import Ending, StopReason, TurnLimits
from engram.runtime.tool_rules import TurnRules
from engram.runtime.turn_options import TurnOptions
from engram.runtime.views import compaction_messages, letta_messages
from engram.store import tables as t

if TYPE_CHECKING:
    from engram.jobs import JobQueue
    from engram.runtime.agent_gate import AgentGate
    from engram.runtime.recall_index import RecallIndexer

MessageSink = Callable[[dict[str, Any]], Awaitable[None]]
StepSink = Callable[[str, str], Awaitable[None]]
"""Told ``(step_id, message_id)`` before a step's model call, so that streamed pieces can
carry the ids the step's committed messages will have."""


class TurnDeps(ApprovalDeps, FoldingDeps, RecallDeps, Protocol):
    """What a turn uses: the agent's gate, the model, the tools, folding, recall assist,
    and the job queue (the turns an agent-to-agent call queues)."""

    @property
    def gate(self) -> AgentGate: ...

    @property
    def recall_indexer(self) -> RecallIndexer: ...

    @property
    def jobs(self) -> JobQueue: ...


@dataclass
class TurnResult:
    run_id: str
    messages: list[dict[str, Any]]
    stop_reason: StopReason
    prompt_tokens: int = 0
    completion_tokens: int = 0
    step_count: int = 0
    context_tokens: int = 0
    error: str | None = None
    logprobs: dict[str, Any] | None = None
    """The last model call's log probabilities, when the request asked for them."""

    def usage(self) -> dict[str, Any]:
        return {
            "message_type": "usage_statistics",
            "completion_tokens": self.completion_tokens,
            "prompt_tokens": self.prompt_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "step_count": self.step_count,
            "run_ids": None,
            "cached_input_tokens": 0,
            "cache_write_tokens": 0,
            "reasoning_tokens": 0,
            "context_tokens": self.context_tokens,
        }


@dataclass(frozen=True)
class Hooks:
    """Streaming hooks: ``on_message`` gets each Letta message once its step commits,
    ``on_step`` the ids a step will commit under before its model call, and ``on_delta``
    the model's output pieces as they arrive."""

    on_message: MessageSink | None = None
    on_delta: DeltaSink | None = None
    on_step: StepSink | None = None
    on_event: MessageSink | None = None
    """Messages that are not part of the history (a fold's event and summary): streamed
    unnumbered, as a run's replay does not show them."""


@dataclass
class Turn:
    """What the loop carries from step to step."""

    deps: TurnDeps
    agent_id: str
    run_id: str
    limits: TurnLimits
    result: TurnResult
    hooks: Hooks
    started_ns: int = field(default_factory=time.perf_counter_ns)
    claimed: bool = False
    """This turn claimed its (made ahead) run: it owns the run from then on."""
    recorded: bool = False
    """The run's end is written (or there is no run to write)."""
    run_saved: bool = True
    """A run made by runtime.runs.create_run exists already; else the first commit records it."""
    steps_taken: int = 0
    ledger: MemoryLedger = field(default_factory=MemoryLedger)
    """The memory counts as of the last committed step; each step works on a copy."""
    invalid_calls: int = 0
    """Malformed tool calls so far in this turn, as of the last committed step."""
    rules: TurnRules | None = None
    """The agent's tool rules as this turn has moved them (None until the first step)."""
    nudge: str | None = None
    """A note the next step sends the model (a tool the rules require before ending)."""
    assist_query: str | None = None
    """The user's words, for recall assist to search with before the first step."""
    recalled: RecalledSection | None = None
    call_depth: int = 0
    """How many agent-to-agent calls deep this turn is (0: a client's own turn)."""
    options: TurnOptions = field(default_factory=TurnOptions)
    """What the request asked of this turn beyond its messages (client tools...)."""

    def next_inputs(self) -> list[t.Message]:
        """What the next step adds to the window: the rules' note, if there is one."""
        if self.nudge is None:
            return []
        note = InputMessage(role="system", text=self.nudge)
        self.nudge = None
        return [input_row(self.agent_id, self.run_id, note)]

    def end(self, ending: Ending) -> None:
        self.result.stop_reason = ending.stop_reason
        self.result.error = ending.error
        self.recorded = self.recorded or ending.recorded

    async def report_fold(self, fold: Fold) -> None:
        """A fold of the window during this turn, as Letta's event and summary messages,
        when the request asked for them (``include_compaction_messages``)."""
        if not self.options.compaction_messages:
            return
        for view in compaction_messages(fold, self.run_id):
            if self.options.shows(view["message_type"]):
                self.result.messages.append(view)
                if self.hooks.on_event is not None:
                    await self.hooks.on_event(view)

    async def emit(self, rows: list[t.Message]) -> None:
        """Committed rows as Letta messages: into the turn's result and to the stream."""
        shown = self.options
        for row in rows:
            for view in letta_messages(row, use_assistant_message=shown.use_assistant_message):
                if shown.shows(view["message_type"]):
                    self.result.messages.append(view)
                # Every message goes to the stream, which numbers them all (a replay of the
                # run numbers them so) and sends on only the shown.
                if self.hooks.on_message is not None:
                    await self.hooks.on_message(view)
