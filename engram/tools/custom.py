"""The schema of a custom tool: the one a client sends, checked against the tool's source,
or the one read from the source itself. Pure: storing and changing custom tools is
``engram.ops.tools``."""

from __future__ import annotations

from typing import Any

from engram.errors import InvalidInput
from engram.tools.schema import check_tool_name, find_function, function_schema, parse_source

SOURCE_TYPES = {"python"}


def derive_schema(
    source_code: str, source_type: str | None, json_schema: dict[str, Any] | None
) -> dict[str, Any]:
    """The tool's JSON schema: the client's, checked against the source, or the source's own.

    Raises ``InvalidInput`` naming ``source_type``, ``json_schema`` or ``source_code``.
    """
    if (source_type or "python") not in SOURCE_TYPES:
        raise InvalidInput("source_type", f"'{source_type}' is not supported; use 'python'")
    if json_schema is None:
        return function_schema(source_code)
    schema = _unwrapped(json_schema)
    name = schema.get("name")
    if not isinstance(name, str):
        raise InvalidInput("json_schema", "needs a 'name' naming the tool's function")
    check_tool_name(name, "json_schema")
    parameters = schema.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
        raise InvalidInput("json_schema", "'parameters' must be a JSON schema of type 'object'")
    if not isinstance(parameters.get("properties", {}), dict):
        raise InvalidInput("json_schema", "'parameters.properties' must be an object")
    find_function(parse_source(source_code), name)
    return {**schema, "parameters": parameters}


def _unwrapped(json_schema: dict[str, Any]) -> dict[str, Any]:
    """Accept OpenAI's ``{"type": "function", "function": {...}}`` wrapper as well."""
    inner = json_schema.get("function")
    if json_schema.get("type") == "function" and isinstance(inner, dict):
        return dict(inner)
    return dict(json_schema)
