"""Request bodies of the identity routes, each with what it becomes for its op
(``engram.ops.identities``). Shared by the routes and the in-process client, which checks
its arguments with the same models, so both refuse the same input naming the same field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, RootModel, ValidationInfo, field_validator

from engram.api.schemas import Body
from engram.ops import identities as identity_ops

IdentityType = Literal["org", "user", "other"]
PropertyType = Literal["string", "number", "boolean", "json"]

_WANTED = {
    "string": "a string",
    "number": "a number",
    "boolean": "true or false",
    "json": "a JSON object",
}


def _matches(kind: str, value: Any) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    wanted = {"string": str, "boolean": bool, "json": dict}[kind]
    return isinstance(value, wanted)


class IdentityProperty(Body):
    """One property of an identity; ``value`` must be of the declared ``type``."""

    key: str = Field(min_length=1, max_length=255)
    # Before ``value``, so that the value's check can read it.
    type: PropertyType
    value: str | int | float | bool | dict[str, Any]

    @field_validator("value", mode="after")
    @classmethod
    def _of_its_type(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("type")
        if kind is not None and not _matches(kind, value):
            raise ValueError(f"a '{kind}' property takes {_WANTED[kind]}, got {value!r}")
        return value

    def stored(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "type": self.type}


def _stored(properties: list[IdentityProperty] | None) -> list[dict[str, Any]] | None:
    return [prop.stored() for prop in properties] if properties is not None else None


def _unique_keys(properties: list[IdentityProperty] | None) -> list[IdentityProperty] | None:
    keys = [prop.key for prop in properties or []]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"each key may appear once; repeated: {', '.join(repeated)}")
    return properties


class IdentityCreate(Body):
    identifier_key: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    identity_type: IdentityType
    project_id: str | None = Field(default=None, max_length=255)
    agent_ids: list[str] | None = None
    block_ids: list[str] | None = None
    properties: list[IdentityProperty] | None = None

    _keys = field_validator("properties")(_unique_keys)

    def spec(self) -> identity_ops.IdentitySpec:
        return identity_ops.IdentitySpec(
            identifier_key=self.identifier_key,
            name=self.name,
            identity_type=self.identity_type,
            project_id=self.project_id or None,
            agent_ids=self.agent_ids,
            block_ids=self.block_ids,
            properties=_stored(self.properties),
        )


class IdentityUpsert(IdentityCreate):
    """The same fields as a creation; the identity with the key is replaced if it exists."""


class IdentityUpdate(Body):
    identifier_key: str | None = Field(default=None, min_length=1, max_length=255)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    identity_type: IdentityType | None = None
    agent_ids: list[str] | None = None
    block_ids: list[str] | None = None
    properties: list[IdentityProperty] | None = None

    _keys = field_validator("properties")(_unique_keys)

    def changes(self) -> identity_ops.IdentityChanges:
        return identity_ops.IdentityChanges(
            identifier_key=self.identifier_key,
            name=self.name,
            identity_type=self.identity_type,
            agent_ids=self.agent_ids,
            block_ids=self.block_ids,
            properties=_stored(self.properties),
        )


class IdentityProperties(RootModel[list[IdentityProperty]]):
    """The body of ``PUT /v1/identities/{identity_id}/properties``: the whole new set."""

    _keys = field_validator("root")(_unique_keys)

    def stored(self) -> list[dict[str, Any]]:
        return [prop.stored() for prop in self.root]
