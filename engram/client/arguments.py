"""Reading a client method's arguments as the REST API reads a request: through the same
pydantic request model, so a bad argument is refused with the same rule and names the
same field (an ``InvalidInput``, where the API answers 422)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engram.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], **arguments: Any) -> M:
    """``model`` built from the arguments given (None means not given, so the model's
    default applies, as for a field left out of a JSON body)."""
    given = {name: value for name, value in arguments.items() if value is not None}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raise invalid(exc) from None


def invalid(exc: ValidationError) -> InvalidInput:
    """The first failing field, by its dotted path (as the 422's ``loc``), with its
    message and those of the other failures."""
    first, *others = exc.errors()
    message = "; ".join([first["msg"], *(f"{_path(e['loc'])}: {e['msg']}" for e in others)])
    return InvalidInput(_path(first["loc"]) or "arguments", message)


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def iso(value: str | datetime | None) -> str | None:
    """A time argument as the API receives it: letta-client accepts a datetime and sends
    its ISO form."""
    return value.isoformat() if isinstance(value, datetime) else value
