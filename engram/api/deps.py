"""Request-scoped access to the runtime."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from engram.runtime.engine import Engram


def get_runtime(request: Request) -> Engram:
    return request.app.state.engram


Runtime = Annotated[Engram, Depends(get_runtime)]


def json_reply(content: Any) -> Response:
    """Send already wire-shaped data as-is: FastAPI's response validation and encoding cost
    more than the rest of a step for large message lists."""
    return Response(json.dumps(content, separators=(",", ":")), media_type="application/json")


Limit = Annotated[int | None, Query(ge=1, le=1000)]
