"""Tool variables: the environment an agent gives its custom tools' children. A name or value
the operating system cannot hold is refused where it comes in (422 naming the field), not
found out later when every call of every tool of the agent fails to start."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def _name(name: str) -> str:
    if not name or "=" in name or "\x00" in name:
        raise ValueError(
            f"{name!r} cannot be an environment variable name: it must be non-empty, "
            "without '=' or NUL characters"
        )
    return name


def _value(value: str) -> str:
    if "\x00" in value:
        raise ValueError("an environment variable's value cannot hold a NUL character")
    return value


VariableName = Annotated[str, AfterValidator(_name)]
VariableValue = Annotated[str, AfterValidator(_value)]
ToolVariables = dict[VariableName, VariableValue]
"""Names to values, as ``tool_exec_environment_variables`` and ``secrets`` take them."""
