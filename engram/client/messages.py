"""``client.agents.messages``: send messages (a turn), stream them, list, search and
manage the agent's history; ``client.messages``: messages across agents.

A turn runs through the same entry the REST routes use (``runtime.step.run_turn``, or
``runtime.streaming.TurnStream`` for a stream) after the same checks, so the answer is
the one ``POST /v1/agents/{id}/messages`` gives, as pydantic models."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from engram.api import serialize
from engram.api.memory_requests import MessageType, SearchAllMessages
from engram.api.schemas import CancelRuns, CompactionRequest, SendMessages
from engram.api.turns import (
    failure,
    open_turn_stream,
    queue_turn,
    run_plain_turn,
    turn_failed,
    turn_options,
    turn_reply,
)
from engram.client.agent_state import AgentState
from engram.client.arguments import iso, validated
from engram.client.checks import checked
from engram.client.models import LettaMessage, Run, WireModel
from engram.client.queries import MessageListing
from engram.client.resource import Resource
from engram.errors import InvalidInput, ProviderError
from engram.ops import messages as message_ops
from engram.runtime.agent_gate import BusyPolicy
from engram.runtime.runs import cancel_runs
from engram.runtime.views import letta_messages, listing


class StopReason(WireModel):
    message_type: str = "stop_reason"
    stop_reason: str


class Usage(WireModel):
    message_type: str = "usage_statistics"
    completion_tokens: int
    prompt_tokens: int
    total_tokens: int
    step_count: int


class LettaResponse(WireModel):
    messages: list[LettaMessage]
    stop_reason: StopReason
    usage: Usage


class Compaction(WireModel):
    summary: str
    num_messages_before: int
    num_messages_after: int


class MessageSearchResult(WireModel):
    message_type: str
    content: Any
    message_id: str
    agent_id: str
    created_at: str
    conversation_id: str | None = None


class TurnFailed(ProviderError):
    """The turn's model call failed (the API answers 502, or 400 for a system prompt too
    long for the window). What the turn committed before it failed stays recorded:
    ``response`` holds it, with the run's id and the stop reason."""

    def __init__(self, run_id: str, error: dict[str, Any], response: LettaResponse) -> None:
        super().__init__(f"{error['message']}: {error['detail']}")
        self.run_id = run_id
        self.error_type: str = error["type"]
        self.stop_reason = response.stop_reason.stop_reason
        self.response = response


def chunk(event: dict[str, Any]) -> WireModel:
    """One event of a streamed turn as its model."""
    kind = event.get("message_type")
    if kind == "stop_reason":
        return StopReason.model_validate(event)
    if kind == "usage_statistics":
        return Usage.model_validate(event)
    return LettaMessage.model_validate(event)


class AsyncAgentMessages(Resource):
    async def create(
        self,
        agent_id: str,
        *,
        messages: list[dict[str, Any]] | None = None,
        input: str | builtins.list[dict[str, Any]] | None = None,
        max_steps: int | None = None,
        use_assistant_message: bool | None = None,
        streaming: bool | None = None,
        if_busy: BusyPolicy = "wait",
        **options: Any,
    ) -> LettaResponse:
        """Run a turn and answer with what it did; a failed model call raises
        ``TurnFailed``. ``streaming=True`` is ``stream(...)``'s job here. ``if_busy``: when
        the agent runs another turn, "wait" for it (bounded) or "reject" at once
        (``AgentBusy``), as the REST query option of the same name."""
        if streaming:
            raise InvalidInput("streaming", "iterate over messages.stream(...) for a stream")
        body = validated(
            SendMessages,
            messages=messages,
            input=input,
            max_steps=max_steps,
            use_assistant_message=use_assistant_message,
            **options,
        )
        services = self._services
        wanted = await turn_options(services, body, answers_logprobs=True)
        result = await run_plain_turn(services, agent_id, body, if_busy, wanted)
        response = LettaResponse.model_validate(turn_reply(result))
        if turn_failed(result):
            raise TurnFailed(result.run_id, failure(result), response)
        return response

    async def stream(
        self,
        agent_id: str,
        *,
        messages: list[dict[str, Any]] | None = None,
        input: str | builtins.list[dict[str, Any]] | None = None,
        max_steps: int | None = None,
        stream_tokens: bool | None = None,
        include_pings: bool | None = None,
        if_busy: BusyPolicy = "wait",
        **options: Any,
    ) -> AsyncIterator[WireModel]:
        """The turn's events as ``/messages/stream`` sends them (pings, messages or token
        chunks, then the stop reason and usage). Stopping early leaves the turn running."""
        body = validated(
            SendMessages,
            messages=messages,
            input=input,
            max_steps=max_steps,
            stream_tokens=stream_tokens,
            include_pings=include_pings,
            **options,
        )
        services = self._services
        wanted = await turn_options(services, body)
        turn = await open_turn_stream(services, agent_id, body, if_busy, wanted)
        async for event in turn.events():
            if isinstance(event, dict):
                yield chunk(event)

    async def create_async(
        self,
        agent_id: str,
        *,
        messages: list[dict[str, Any]] | None = None,
        input: str | builtins.list[dict[str, Any]] | None = None,
        max_steps: int | None = None,
        if_busy: BusyPolicy = "wait",
        **options: Any,
    ) -> Run:
        """Record a run and queue its turn; the run comes back at once (``client.runs``
        follows it)."""
        body = validated(
            SendMessages, messages=messages, input=input, max_steps=max_steps, **options
        )
        services = self._services
        wanted = await turn_options(services, body)
        run = await queue_turn(services, agent_id, body, if_busy, wanted)
        return Run.model_validate(serialize.run(run))

    async def list(
        self,
        agent_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int | None = None,
        order: Literal["asc", "desc"] | None = None,
        use_assistant_message: bool | None = None,
        include_return_message_types: builtins.list[str] | None = None,
        conversation_id: str | None = None,
        **options: Any,
    ) -> list[LettaMessage]:
        """A page of the agent's history, newest first unless ``order="asc"``; the options
        as ``GET /v1/agents/{agent_id}/messages`` takes them (``conversation_id``: one
        thread's, ``"default"`` the agent's own)."""
        query = validated(
            MessageListing,
            after=after,
            before=before,
            limit=limit,
            order=order,
            use_assistant_message=use_assistant_message,
            include_return_message_types=include_return_message_types,
            conversation_id=conversation_id,
        )
        rows = await message_ops.list_messages(self._services, agent_id, query.query())
        views = listing(
            rows,
            descending=query.order == "desc",
            use_assistant_message=query.use_assistant_message,
            message_types=query.include_return_message_types,
        )
        return LettaMessage.each(views)

    async def reset(
        self, agent_id: str, *, add_default_initial_messages: bool | None = None
    ) -> AgentState:
        """Empty the window (history stays in recall) and drop the running summary; with
        ``add_default_initial_messages``, start it again with the agent's initial messages."""
        reset = await message_ops.reset(
            self._services, agent_id, add_initial=bool(add_default_initial_messages)
        )
        return AgentState.model_validate(serialize.agent(reset))

    async def compact(self, agent_id: str, **options: Any) -> Compaction:
        """Fold the oldest messages of the window into the summary now; the options'
        ``compaction_settings`` hold for this fold, over the agent's own."""
        request = validated(CompactionRequest, **options)
        done = await message_ops.compact(self._services, agent_id, request.settings())
        return Compaction.model_validate(serialize.compaction(done))

    async def cancel(
        self, agent_id: str, *, run_ids: builtins.list[str] | None = None
    ) -> dict[str, str]:
        """Cancel the agent's active runs (or the ``run_ids`` given): run id -> status."""
        body = validated(CancelRuns, run_ids=run_ids)
        return await cancel_runs(self._services, agent_id, body.run_ids)

    async def delete(self, message_id: str, *, agent_id: str) -> dict[str, Any]:
        """Engram's own: delete a message with what depends on it (its tool results)."""
        deleted = await message_ops.delete(self._services, agent_id, message_id)
        return {
            "deleted_message_ids": deleted.message_ids,
            "passages_marked_source_deleted": deleted.passages_marked,
        }


def validated_types(types: builtins.list[str] | None) -> set[str] | None:
    """``include_return_message_types`` checked as the route checks it."""
    if types is None:
        return None
    return set(checked("include_return_message_types", types, builtins.list[MessageType]))


class AsyncMessages(Resource):
    """``client.messages``: messages across agents."""

    async def search(
        self,
        *,
        query: str,
        agent_id: str | None = None,
        conversation_id: str | None = None,
        end_date: str | datetime | None = None,
        limit: int | None = None,
        search_mode: Literal["vector", "fts", "hybrid"] | None = None,
        start_date: str | datetime | None = None,
    ) -> list[MessageSearchResult]:
        """Best matches first, over one agent's history or every agent's."""
        body = validated(
            SearchAllMessages,
            query=query,
            agent_id=agent_id,
            conversation_id=conversation_id,
            end_date=iso(end_date),
            limit=limit,
            search_mode=search_mode,
            start_date=iso(start_date),
        )
        rows = await message_ops.search(self._services, body.search())
        results = [r for row in rows.items for r in serialize.message_search_results(row)]
        return MessageSearchResult.each(results[: body.limit])

    async def list(
        self,
        *,
        after: str | None = None,
        before: str | None = None,
        conversation_id: str | None = None,
        include_return_message_types: builtins.list[str] | None = None,
        limit: int | None = 100,
        order: Literal["asc", "desc"] = "desc",
    ) -> builtins.list[LettaMessage]:
        """Every agent's messages, newest first unless ``order="asc"``; ``limit`` counts
        stored messages, before the type filter. ``conversation_id`` keeps one
        conversation's messages (NotFound for an unknown one)."""
        query = validated(
            MessageListing,
            after=after,
            before=before,
            limit=limit,
            order=order,
            conversation_id=conversation_id,
        )
        types = validated_types(include_return_message_types)
        rows = await message_ops.list_all(self._services, query.query())
        views = listing(rows, descending=query.order == "desc")
        if types is not None:
            views = [view for view in views if view["message_type"] in types]
        return LettaMessage.each(views)

    async def retrieve(self, message_id: str) -> builtins.list[LettaMessage]:
        """The messages one stored message shows as (several for one assistant turn)."""
        return LettaMessage.each(
            letta_messages(await message_ops.retrieve(self._services, message_id))
        )
