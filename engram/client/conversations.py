"""``client.conversations``: many threads of one agent, each with its own window.

    conv = client.conversations.create(agent_id=agent.id, summary="support chat")
    client.conversations.messages.create(conv.id, input="hello")
    client.conversations.messages.list(conv.id)
    client.conversations.fork(conv.id)
    client.conversations.messages.create("default", agent_id=agent.id, input="hi")

Each answer has the fields the REST API sends for the same object (docs/conversations.md).
"""

from __future__ import annotations

import builtins
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from engram.api.conversation_requests import (
    ConversationMessage,
    CreateConversation,
    UpdateConversation,
    conversation,
)
from engram.api.schemas import CompactionRequest
from engram.api.serialize import compaction
from engram.api.turns import (
    failure,
    run_plain_turn,
    turn_failed,
    turn_options,
    turn_reply,
)
from engram.client.arguments import validated
from engram.client.messages import Compaction, LettaResponse, TurnFailed
from engram.client.models import LettaMessage, WireModel
from engram.client.resource import Resource
from engram.ops import conversation_work as work
from engram.ops import conversations as ops
from engram.ops.messages import MessageQuery
from engram.runtime.agent_gate import BusyPolicy
from engram.runtime.views import listing

if TYPE_CHECKING:
    from engram.runtime.engine import Services


class Conversation(WireModel):
    """Letta's ``Conversation``."""

    id: str
    agent_id: str
    summary: str | None = None
    in_context_message_ids: list[str] = []
    isolated_block_ids: list[str] = []
    model: str | None = None


def _shown(done: ops.ConversationView) -> Conversation:
    return Conversation.model_validate(conversation(done))


class AsyncConversationMessages(Resource):
    """``client.conversations.messages``."""

    async def create(
        self,
        conversation_id: str,
        *,
        agent_id: str | None = None,
        messages: list[dict[str, Any]] | None = None,
        input: str | builtins.list[dict[str, Any]] | None = None,
        max_steps: int | None = None,
        if_busy: BusyPolicy = "wait",
        **options: Any,
    ) -> LettaResponse:
        """Run a turn in the conversation and answer with what it did; a failed model call
        raises ``TurnFailed``."""
        body = validated(
            ConversationMessage,
            agent_id=agent_id,
            messages=messages,
            input=input,
            max_steps=max_steps,
            streaming=False,
            **options,
        )
        services = self._services
        thread = await ops.resolve_thread(services, conversation_id, body.agent_id)
        wanted = replace(
            await turn_options(services, body, answers_logprobs=True),
            conversation_id=thread.conversation_id,
        )
        result = await run_plain_turn(services, thread.agent_id, body, if_busy, wanted)
        response = LettaResponse.model_validate(turn_reply(result))
        if turn_failed(result):
            raise TurnFailed(result.run_id, failure(result), response)
        return response

    async def list(
        self,
        conversation_id: str,
        *,
        agent_id: str | None = None,
        after: str | None = None,
        before: str | None = None,
        limit: int | None = 100,
        order: Literal["asc", "desc"] = "desc",
    ) -> builtins.list[LettaMessage]:
        """The conversation's history, newest first unless ``order="asc"``."""
        thread = await ops.resolve_thread(self._services, conversation_id, agent_id)
        query = MessageQuery(before=before, after=after, limit=limit, order=order)
        rows = await work.list_messages(self._services, thread, query)
        return LettaMessage.each(listing(rows, descending=order == "desc"))

    async def compact(
        self,
        conversation_id: str,
        *,
        agent_id: str | None = None,
        compaction_settings: dict[str, Any] | None = None,
    ) -> Compaction:
        """Fold the oldest messages of the conversation's window into its summary now;
        ``compaction_settings`` win over the agent's for this fold."""
        body = validated(CompactionRequest, compaction_settings=compaction_settings)
        thread = await ops.resolve_thread(self._services, conversation_id, agent_id)
        done = await work.compact(self._services, thread, body.settings())
        return Compaction.model_validate(compaction(done))


class AsyncConversations(Resource):
    """``client.conversations``: the threads of agents."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.messages = AsyncConversationMessages(services)

    async def create(self, *, agent_id: str, **fields: Any) -> Conversation:
        spec = validated(CreateConversation, **fields).spec()
        return _shown(await ops.create(self._services, agent_id, spec))

    async def list(
        self,
        *,
        agent_id: str | None = None,
        after: str | None = None,
        limit: int | None = 50,
        order: Literal["asc", "desc"] = "desc",
        summary_search: str | None = None,
    ) -> builtins.list[Conversation]:
        query = ops.ConversationQuery(
            agent_id=agent_id, after=after, limit=limit, order=order, summary_search=summary_search
        )
        return [_shown(item) for item in await ops.list_conversations(self._services, query)]

    async def retrieve(self, conversation_id: str) -> Conversation:
        return _shown(await ops.retrieve(self._services, conversation_id))

    async def update(self, conversation_id: str, **fields: Any) -> Conversation:
        spec = validated(UpdateConversation, **fields).spec()
        return _shown(await ops.update(self._services, conversation_id, spec))

    async def delete(self, conversation_id: str) -> None:
        await ops.delete_conversation(self._services, conversation_id)

    async def cancel(self, conversation_id: str, *, agent_id: str | None = None) -> dict[str, str]:
        thread = await ops.resolve_thread(self._services, conversation_id, agent_id)
        return await work.cancel(self._services, thread)

    async def fork(self, conversation_id: str, *, agent_id: str | None = None) -> Conversation:
        thread = await ops.resolve_thread(self._services, conversation_id, agent_id)
        return _shown(await work.fork(self._services, thread))

    async def recompile(
        self, conversation_id: str, *, agent_id: str | None = None, dry_run: bool = False
    ) -> str:
        thread = await ops.resolve_thread(self._services, conversation_id, agent_id)
        return await work.recompile(self._services, thread, dry_run=dry_run)
