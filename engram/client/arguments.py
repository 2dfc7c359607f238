"""Turning a client method's keyword arguments into the request body the REST route would
have received, validated by the route's own model, so a bad argument fails the same way in
both: an ``InvalidInput`` naming the field (the REST API answers 422 naming it)."""

from __future__ import annotations

from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

from engram.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


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


def validated(model: type[M], body: dict[str, Any]) -> M:
    """``body`` checked by ``model``; the first error raised as ``InvalidInput`` naming the
    field by its path (``pip_requirements.0.name``)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(part) for part in error.get("loc", ())) or "body"
        raise InvalidInput(path, error.get("msg", "is not valid")) from None


def plain(value: Any) -> Any:
    """A pydantic model given where the API takes JSON (a config, a requirement), as JSON."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value
