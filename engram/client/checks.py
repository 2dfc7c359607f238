"""Arguments checked as the REST API checks the same query parameters, so a bad value is
the same ``InvalidInput`` naming the parameter, before anything is read or written."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from engram.errors import InvalidInput

# The ``limit`` of a listing: ``engram.api.deps.Limit``.
Limit = Annotated[int | None, Field(ge=1, le=1000)]


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def checked(field: str, value: Any, kind: Any) -> Any:
    """``value`` validated as ``kind`` (a type, a ``Literal``, an ``Annotated`` bound);
    an ``InvalidInput`` naming ``field`` otherwise."""
    try:
        return _adapter(kind).validate_python(value)
    except ValidationError as exc:
        raise InvalidInput(field, exc.errors()[0]["msg"]) from None
