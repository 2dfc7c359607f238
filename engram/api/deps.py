"""Request-scoped access to the runtime."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from engram.runtime.engine import Engram


def get_runtime(request: Request) -> Engram:
    return request.app.state.engram


Runtime = Annotated[Engram, Depends(get_runtime)]
Limit = Annotated[int | None, Query(ge=1, le=1000)]
