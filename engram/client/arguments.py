"""Reading a client method's arguments as the REST API reads a request: through the same
pydantic request model, so a bad argument is refused with the same rule and names the
same field (an ``InvalidInput``, where the API answers 422).

Two ways in: ``validated(model, **arguments)`` where None means "not given", and
``validated_body(model, body)`` for methods where None is a value the caller may send (a
change to null): those leave an argument out with ``OMIT`` and build the body with
``given``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, TypeVar

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


class Omitted:
    """The value of an argument the caller did not give: the field is left out of the body,
    as letta-client leaves it out of the request (so the route's default applies, and a
    change leaves the field as it is), whereas ``None`` is sent as null."""

    _instance: Omitted | None = None

    def __new__(cls) -> Omitted:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OMIT"

    def __bool__(self) -> bool:
        return False


OMIT: Final = Omitted()


def given(**arguments: Any) -> dict[str, Any]:
    """The arguments that were given, as body fields."""
    return {name: value for name, value in arguments.items() if value is not OMIT}


def validated_body(model: type[M], body: dict[str, Any]) -> M:
    """``body`` checked by ``model``; the first error raised as ``InvalidInput`` naming the
    field by its path (``pip_requirements.0.name``)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc) from None


def plain(value: Any) -> Any:
    """A pydantic model given where the API takes JSON (a config, a requirement), as JSON."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value
