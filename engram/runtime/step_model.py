"""A step's context and its model call: the agent as the step sees it, the prompt fitted
into the window, and one call to the provider (with one retry after a forced fold).

Nothing here writes a step's rows; ``step_commit.py`` does, once the call has returned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from engram.errors import ContextOverflow
from engram.ids import new_id
from engram.llm.anthropic_convert import MIN_THINKING_BUDGET
from engram.llm.client import ChatRequest, ChatResult
from engram.llm.config import LLMConfig
from engram.llm.model_settings import ANTHROPIC, wire_of
from engram.llm.tokens import counts_exactly
from engram.memory import policy
from engram.runtime.context import (
    CompiledContext,
    message_tokens,
    window_size,
    with_recalled,
    with_skills,
)
from engram.runtime.folding import fold_window
from engram.runtime.prompt import to_chat
from engram.runtime.state import AgentState, compile_state, load_state
from engram.runtime.step_rules import offered_tools
from engram.runtime.stop import Ending, TurnEnded
from engram.runtime.turn import Turn
from engram.runtime.turn_options import render_skills
from engram.store import tables as t

log = logging.getLogger(__name__)

COUNT_ERROR_WARNING = 0.10
"""A prompt count further than this from the provider's is logged as a warning."""


@dataclass
class Prompt:
    """The agent as this step sees it, its compiled context, and the step's new messages."""

    state: AgentState
    context: CompiledContext
    pending: list[t.Message]
    incoming: int
    """Tokens of ``pending``, which the compiled context does not count."""

    @property
    def config(self) -> LLMConfig:
        return LLMConfig.from_json(self.state.agent.llm_config)


@dataclass
class ModelStep:
    """What the step's model call produced, and the ids the step commits under."""

    state: AgentState
    chat: ChatResult
    counted: int
    """Engram's count of the prompt the model was sent."""
    step_id: str
    message_id: str


async def read_state(turn: Turn) -> AgentState:
    """The agent as the next step sees it; a run cancelled meanwhile ends the turn."""
    state, status = await _load(turn)
    if status == "cancelled":
        raise TurnEnded(Ending("cancelled"))
    return state


async def _load(turn: Turn) -> tuple[AgentState, str | None]:
    """The agent's state and its run's status, read in one snapshot."""
    deps, agent_id, run_id = turn.deps, turn.agent_id, turn.run_id
    thread = turn.options.conversation_id
    return await deps.db.read(
        lambda session: load_state(
            session, agent_id, deps.windows, run_id=run_id, conversation_id=thread
        )
    )


def compile_prompt(turn: Turn, state: AgentState) -> CompiledContext:
    recalled = turn.recalled.text if turn.recalled is not None else None
    model = LLMConfig.from_json(state.agent.llm_config).model
    context = with_skills(compile_state(state), model, render_skills(turn.options.skills))
    return with_recalled(context, model, recalled)


async def fit_prompt(turn: Turn, state: AgentState, pending: list[t.Message]) -> Prompt:
    """The step's prompt, the oldest messages folded first if it would pass the agent's
    compaction trigger."""
    agent = state.agent
    model = LLMConfig.from_json(agent.llm_config).model
    for row in pending:
        row.token_count = message_tokens(model, row)
    incoming = sum(row.token_count for row in pending)
    context = compile_prompt(turn, state)
    trigger = policy.compaction(agent.compaction_settings, turn.deps.settings).trigger
    if context.total_tokens + incoming > trigger * window_size(agent):
        extra = incoming + context.recalled_tokens + context.skills_tokens
        fold = await fold_window(
            turn.deps,
            turn.agent_id,
            extra_tokens=extra,
            conversation_id=turn.options.conversation_id,
        )
        if fold is not None:
            await turn.report_fold(fold)
        state, _ = await _load(turn)
        context = compile_prompt(turn, state)
    return Prompt(state, context, pending, incoming)


async def call_model(turn: Turn, prompt: Prompt) -> ModelStep:
    """The step's model call. A provider that refuses the prompt as too long gets one
    forced fold and one more try: the count that let the prompt through was off (an
    estimate, or a window configured larger than the model's)."""
    for attempt in (1, 2):
        counted = prompt.context.total_tokens + prompt.incoming
        # Made before the call: streamed pieces of this step already carry the final ids.
        step_id, message_id = new_id("step"), new_id("message")
        if turn.hooks.on_step is not None:
            await turn.hooks.on_step(step_id, message_id)
        try:
            chat = await _chat(turn, prompt)
        except ContextOverflow as exc:
            if attempt == 2:
                raise
            log.warning("agent %s: %s; folding the window and trying once more", turn.agent_id, exc)
            extra = prompt.incoming + prompt.context.recalled_tokens + prompt.context.skills_tokens
            fold = await fold_window(
                turn.deps,
                turn.agent_id,
                extra_tokens=extra,
                force=True,
                conversation_id=turn.options.conversation_id,
            )
            if fold is None:
                raise
            await turn.report_fold(fold)
            state, _ = await _load(turn)
            prompt = Prompt(state, compile_prompt(turn, state), prompt.pending, prompt.incoming)
            continue
        _log_count_error(turn.agent_id, prompt.config.model, counted, chat.prompt_tokens)
        return ModelStep(prompt.state, chat, counted, step_id, message_id)
    raise AssertionError("unreachable: the second attempt returns or raises")


async def _chat(turn: Turn, prompt: Prompt) -> ChatResult:
    # The request's own model and system prompt, when it asked for them, win for its turn.
    llm_config = turn.options.llm_config or prompt.state.agent.llm_config
    config = LLMConfig.from_json(llm_config)
    messages = prompt.context.chat_messages()
    if turn.options.system is not None:
        # The request's own system prompt replaces the compiled one; its skills still show.
        shown = [turn.options.system, prompt.context.skills]
        messages[0] = {"role": "system", "content": "\n\n".join(p for p in shown if p)}
    budget, effort = _reasoning(config, llm_config, turn.options.thinking)
    request = ChatRequest(
        model=config.model,
        messages=messages + [c for m in prompt.pending if (c := to_chat(m))],
        tools=offered_tools(turn.rules, turn.options.offered(prompt.context.tools)),
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        reasoning_budget=budget,
        logprobs=turn.options.logprobs,
        parallel_tool_calls=config.parallel_tool_calls,
        reasoning_effort=effort,
        response_format=config.response_format,
    )
    client = turn.deps.providers.client_for(llm_config)
    return await client.chat(request, turn.hooks.on_delta)


def _reasoning(
    config: LLMConfig, llm_config: dict[str, Any], thinking: bool | None
) -> tuple[int | None, str | None]:
    """The thinking budget and reasoning effort this call sends: the agent's, none at all
    when the request turned reasoning off, and for an Anthropic model whose thinking is
    off, its budget (at least Anthropic's minimum) when the request turned it on."""
    if thinking is False:
        return None, None
    budget = config.reasoning_budget
    if thinking and budget is None and wire_of(llm_config) == ANTHROPIC:
        budget = max(int(config.max_reasoning_tokens or 0), MIN_THINKING_BUDGET)
    return budget, config.reasoning_effort


def _log_count_error(agent_id: str, model: str, counted: int, reported: int) -> None:
    """Our prompt count against the provider's, per step: the paging decisions rest on it.

    An exact count (tiktoken, OpenAI models) that is off is worth a warning every time. For
    other models the count is an estimate and is expected to be off by a similar amount on
    every step: it is said once per model, then at debug level."""
    if reported <= 0:
        return
    error = (counted - reported) / reported
    noteworthy = abs(error) > COUNT_ERROR_WARNING
    estimated = not counts_exactly(model)
    level = logging.DEBUG
    if noteworthy and not (estimated and model in _ESTIMATE_WARNED):
        level = logging.WARNING
        if estimated:
            _ESTIMATE_WARNED.add(model)
    log.log(
        level,
        "agent %s: counted %d prompt tokens, provider reported %d (%+.1f%%)%s",
        agent_id,
        counted,
        reported,
        error * 100,
        ESTIMATE_NOTE.format(model=model) if estimated and level == logging.WARNING else "",
    )


ESTIMATE_NOTE = (
    "; counts for {model} are an estimate (no shipped tokenizer), so this is said once: "
    "later differences for it are logged at debug level"
)
_ESTIMATE_WARNED: set[str] = set()
"""Models whose estimated counts have been warned about in this process."""
