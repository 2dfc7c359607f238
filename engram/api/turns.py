"""A request to run a turn (``SendMessages``), read once for every way of starting one:
``POST /messages``, ``/messages/stream``, ``/messages/async`` and the in-process client.

What the request asks becomes the runtime's ``InputMessage`` list, is checked before
anything is recorded, and a finished turn is answered as Letta's ``LettaResponse``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from engram.api.schemas import (
    ApprovalCreate,
    MessageCreate,
    SendMessages,
    ToolReturnCreate,
    content_parts,
    content_text,
)
from engram.errors import InvalidInput
from engram.ops import messages as message_ops
from engram.ops.deps import HasDb, HasModels
from engram.runtime import approvals
from engram.runtime.agent_gate import BusyPolicy
from engram.runtime.background import QueueDeps, start_background_turn
from engram.runtime.runs import create_run
from engram.runtime.step import TurnDeps, TurnResult, run_turn
from engram.runtime.step_rows import InputMessage
from engram.runtime.streaming import StreamDeps, TurnStream
from engram.runtime.turn_options import ClientSkill, ClientTool, TurnOptions

if TYPE_CHECKING:
    from engram.runtime.agent_gate import AgentGate
    from engram.store import tables as t

FAILED_TURN_STATUS = {"context_window_overflow_in_system_prompt": 400}
"""The HTTP status of a turn that failed, by stop reason; 502 for the rest (docs/api.md)."""
FAILED_TURN_TYPE = {
    "llm_api_error": "llm_error",
    "context_window_overflow_in_system_prompt": "context_window_exceeded",
}
"""The ``error.type`` of a failed turn's answer, by stop reason; ``agent_error`` otherwise."""


class AcceptDeps(HasDb, Protocol):
    """What accepting a turn uses: the agent's rows and approval state, and its gate."""

    @property
    def gate(self) -> AgentGate: ...


def turn_inputs(body: SendMessages) -> list[InputMessage]:
    """The request's messages (or its ``input`` string) as the runtime takes them."""
    if body.messages:
        return [_input(m, i) for i, m in enumerate(body.messages)]
    if body.input:
        text, parts = content_text(body.input), content_parts(body.input)
        return [InputMessage(role="user", text=text, parts=parts)]
    raise InvalidInput("messages", "send at least one message (or an 'input' string)")


def _input(message: MessageCreate | ApprovalCreate | ToolReturnCreate, index: int) -> InputMessage:
    if isinstance(message, ToolReturnCreate):
        return approvals.approval_input(
            approve=None,
            approval_request_id=None,
            reason=None,
            approvals=[item.decision() for item in message.tool_returns],
            otid=message.otid,
            field="messages.tool_returns",
        )
    if isinstance(message, ApprovalCreate):
        return approvals.approval_input(
            approve=message.approve,
            approval_request_id=message.approval_request_id,
            reason=message.reason,
            approvals=message.decisions(),
            otid=message.otid,
        )
    parts = message.parts()
    if parts is not None and message.role != "user":
        raise InvalidInput(f"messages.{index}.content", "images go in user messages only")
    return InputMessage(
        role=message.role, text=message.text(), name=message.name, otid=message.otid, parts=parts
    )


async def checked_inputs(
    deps: HasDb, agent_id: str, body: SendMessages, options: TurnOptions | None = None
) -> list[InputMessage]:
    """The request's messages, refused before any run starts if the agent's approval state
    does not allow them (runtime/approvals.py), or the model cannot read their images."""
    inputs = turn_inputs(body)
    serving = options.llm_config if options else None
    logprobs = bool(options and options.logprobs is not None)
    thread = options.conversation_id if options else None
    await message_ops.check_inputs(
        deps, agent_id, inputs, serving, logprobs=logprobs, conversation_id=thread
    )
    return inputs


async def accept_turn(
    deps: AcceptDeps,
    agent_id: str,
    body: SendMessages,
    if_busy: BusyPolicy,
    options: TurnOptions | None = None,
) -> tuple[list[InputMessage], str]:
    """What every turn entry does before its turn: the inputs checked, a busy agent refused
    when the caller asked (``if_busy="reject"``), then the run recorded; nothing is
    recorded when a check refuses. The inputs and the new run's id."""
    if body.callback_url is not None:
        raise InvalidInput(
            "callback_url",
            "only a background run (POST /messages/async) posts its end to a callback_url; "
            "this request answers with the turn itself",
        )
    inputs = await checked_inputs(deps, agent_id, body, options)
    thread = options.conversation_id if options else None
    if if_busy == "reject":
        await deps.gate.refuse_if_busy(agent_id, thread)
    run = await create_run(
        deps, agent_id, request_config=request_config(body), conversation_id=thread
    )
    return inputs, run.id


class PlainTurnDeps(AcceptDeps, TurnDeps, Protocol):
    """What a request answered with its whole turn uses: accepting it, then running it."""


async def run_plain_turn(
    deps: PlainTurnDeps,
    agent_id: str,
    body: SendMessages,
    if_busy: BusyPolicy,
    options: TurnOptions,
) -> TurnResult:
    """Accept the turn (``accept_turn``), then run it to its end: the agent's and a
    conversation's plain message routes, and the in-process client's ``create``."""
    inputs, run_id = await accept_turn(deps, agent_id, body, if_busy, options)
    return await run_turn(
        deps,
        agent_id,
        inputs,
        if_busy=if_busy,
        run_id=run_id,
        max_steps=body.max_steps,
        options=options,
    )


class StreamTurnDeps(AcceptDeps, StreamDeps, Protocol):
    """What a request answered with its turn's events uses: accepting it, then streaming."""


async def open_turn_stream(
    deps: StreamTurnDeps,
    agent_id: str,
    body: SendMessages,
    if_busy: BusyPolicy,
    options: TurnOptions,
) -> TurnStream:
    """Accept the turn (``accept_turn``) and make the stream of its events, as the
    request asks them (tokens, pings): the agent's and a conversation's stream routes,
    and the in-process client's ``create_stream``."""
    inputs, run_id = await accept_turn(deps, agent_id, body, if_busy, options)
    return TurnStream(
        deps,
        agent_id,
        run_id,
        inputs,
        max_steps=body.max_steps,
        stream_tokens=body.stream_tokens,
        include_pings=body.include_pings,
        if_busy=if_busy,
        options=options,
    )


class QueueTurnDeps(HasDb, QueueDeps, Protocol):
    """What a request queued as a background run uses: its inputs checked, then queued."""


async def queue_turn(
    deps: QueueTurnDeps,
    agent_id: str,
    body: SendMessages,
    if_busy: BusyPolicy,
    options: TurnOptions,
) -> t.Run:
    """Check the request's inputs, then record its run and queue its turn
    (``runtime/background.py``): ``/messages/async``, a conversation's background
    messages, and the in-process client's ``create_async``."""
    inputs = await checked_inputs(deps, agent_id, body, options)
    return await start_background_turn(
        deps,
        agent_id,
        inputs,
        if_busy=if_busy,
        max_steps=body.max_steps,
        request_config=request_config(body),
        options=options,
    )


def request_config(body: SendMessages) -> dict[str, Any]:
    """What a run shows of the request that made it (Letta's ``request_config``)."""
    return {
        "use_assistant_message": body.use_assistant_message,
        "assistant_message_tool_name": "send_message",
        "assistant_message_tool_kwarg": "message",
        "include_return_message_types": body.include_return_message_types,
    }


async def turn_options(
    deps: HasModels, body: SendMessages, *, answers_logprobs: bool = False
) -> TurnOptions:
    """What the request asks of its turn beyond its messages (runtime/turn_options.py).
    Raises InvalidInput naming ``override_model`` when no provider offers that model, or
    the log probability options when they are inconsistent or the route cannot answer with
    them (``answers_logprobs``: the route answers with a ``LettaResponse``)."""
    logprobs = _logprobs(body, answers_logprobs)
    tools = tuple(
        ClientTool(tool.name, tool.description, tool.parameters) for tool in body.client_tools or []
    )
    llm_config = None
    if body.override_model is not None:
        llm_config = await deps.providers.llm_config_for(
            body.override_model, field="override_model"
        )
    types = body.include_return_message_types
    return TurnOptions(
        client_tools=tools,
        llm_config=llm_config,
        system=body.override_system,
        message_types=None if types is None else tuple(types),
        use_assistant_message=body.use_assistant_message,
        callback_url=body.callback_url,
        logprobs=logprobs,
        thinking=body.enable_thinking,
        skills=tuple(
            ClientSkill(skill.name, skill.description, skill.location)
            for skill in body.client_skills or []
        ),
        compaction_messages=body.include_compaction_messages,
    )


def _logprobs(body: SendMessages, answered: bool) -> int | None:
    """How many alternatives per token the request asks log probabilities with; None when
    it does not ask."""
    if body.top_logprobs is not None and not body.return_logprobs:
        raise InvalidInput("top_logprobs", "top_logprobs needs return_logprobs=true")
    if not body.return_logprobs:
        return None
    if not answered:
        raise InvalidInput(
            "return_logprobs",
            "log probabilities come back in the answer of POST /messages (without "
            "streaming); a stream or a background run has nowhere to carry them",
        )
    return body.top_logprobs or 0


def turn_reply(result: TurnResult) -> dict[str, Any]:
    """A finished turn as Letta's ``LettaResponse``."""
    return {
        "messages": result.messages,
        "stop_reason": {"message_type": "stop_reason", "stop_reason": result.stop_reason},
        "usage": result.usage(),
        "logprobs": result.logprobs,
        "turns": None,
    }


def turn_failed(result: TurnResult) -> bool:
    """Whether the turn ended in an error its caller must see as one; a run cancelled
    meanwhile answers as cancelled, not as failed."""
    return result.error is not None and result.stop_reason != "cancelled"


def failure(result: TurnResult) -> dict[str, Any]:
    """A failed turn's ``error`` object: its type, a message and the detail."""
    return {
        "type": FAILED_TURN_TYPE.get(result.stop_reason, "agent_error"),
        "message": f"the run failed ({result.stop_reason})",
        "detail": result.error,
    }
