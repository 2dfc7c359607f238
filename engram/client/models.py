"""What the client returns: pydantic models holding exactly the fields the REST API
serializes for the same object, so ``agent.id`` and ``agent.model_dump()`` read the same
whichever way the agent was fetched."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """One object of the wire format. Fields the subclasses name are typed; every other
    field the API sends is kept as an extra attribute (``model_extra``), so nothing the
    server says is lost to a model lagging behind the serializer."""

    model_config = ConfigDict(extra="allow")

    @classmethod
    def of(cls, data: dict[str, Any]) -> Any:
        return cls.model_validate(data)

    @classmethod
    def each(cls, items: list[dict[str, Any]]) -> list[Any]:
        return [cls.model_validate(item) for item in items]


class LettaMessage(WireModel):
    """One of Letta's message kinds, in a turn's answer or a history (``message_type`` says
    which: ``assistant_message``, ``tool_call_message``...); every field of that kind is
    kept."""

    message_type: str
    id: str | None = None


class Run(WireModel):
    """Letta's ``Run``: one request's execution."""

    id: str
    agent_id: str
    status: str
    stop_reason: str | None = None
    background: bool | None = None
    created_at: str | None = None
    completed_at: str | None = None
