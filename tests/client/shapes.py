"""Helpers of the client tests: an agent made in the client's database, and the shape of
an answer (its keys, nested), to compare what the client returns with what the REST API
sends for the same kind of object."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from engram import Engram
from engram.ops.agents import AgentSpec, create_agent

MODEL = "openai/gpt-4o-mini"


def new_agent(client: Engram, **fields: Any) -> str:
    """An agent in the client's database, made by the same op ``POST /v1/agents/`` calls."""
    services = client._inner._services
    bundle = client._portal.call(create_agent(services, AgentSpec(model=MODEL, **fields)))
    return bundle.agent.id


def shape(value: Any) -> Any:
    """Which keys an answer has, at every depth: a dict becomes its keys with the shape of
    each value, a list the shapes its items take; scalars and free-form ``metadata`` (the
    caller's own keys) do not count."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return {key: None if key == "metadata" else shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            if shape(item) not in shapes:
                shapes.append(shape(item))
        return shapes
    return None
