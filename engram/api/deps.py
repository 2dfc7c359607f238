"""Request-scoped access to the runtime."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Request, Response

from engram.runtime.agent_gate import BusyPolicy
from engram.runtime.engine import Services
from engram.store.pagination import Identified, page_of

T = TypeVar("T", bound=Identified)


def get_runtime(request: Request) -> Services:
    services: Services = request.app.state.engram
    return services


Runtime = Annotated[Services, Depends(get_runtime)]


def json_reply(content: Any) -> Response:
    """Send already wire-shaped data as-is: FastAPI's response validation and encoding cost
    more than the rest of a step for large message lists."""
    return Response(json.dumps(content, separators=(",", ":")), media_type="application/json")


Limit = Annotated[int | None, Query(ge=1, le=1000)]


@dataclass
class ListCursor:
    """The cursor query parameters of short lists loaded whole (an agent's blocks or tools,
    a block's agents), paged in memory with the database listings' semantics."""

    before: str | None = None
    after: str | None = None
    limit: Limit = None
    order: Literal["asc", "desc"] = "asc"

    def page(self, items: Sequence[T], *, kind: str) -> list[T]:
        return page_of(
            items,
            before=self.before,
            after=self.after,
            limit=self.limit,
            descending=self.order == "desc",
            kind=kind,
        )


Cursor = Annotated[ListCursor, Depends()]


async def _busy_policy(
    if_busy: Annotated[
        BusyPolicy,
        Query(
            description="When the agent is running another turn: 'wait' for it (bounded by "
            "ENGRAM_AGENT_BUSY_TIMEOUT_SECONDS) or 'reject' at once with a 409."
        ),
    ] = "wait",
) -> BusyPolicy:
    return if_busy


IfBusy = Annotated[BusyPolicy, Depends(_busy_policy)]
"""The ``if_busy`` query option of the routes that start a turn (runtime/agent_gate.py)."""
