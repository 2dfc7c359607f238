"""The fake's ``prompt_tokens``: counted the way OpenAI's chat models count a prompt.

Engram's own counter estimates the prompt before sending it; the step log compares that
estimate with the provider's reported count. For the comparison to mean something, the
fake must count independently, the way the real service does: each message framed by
three tokens plus its role and text, a name costing one extra, three tokens priming the
reply, and tool definitions rendered into the system prompt as a TypeScript-like
namespace (the form OpenAI's models are known to read them in), not as the JSON sent.
The token boundaries come from the model's own encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engram.llm.tokens import counter_for_model

from .replies import content_text

PER_MESSAGE = 3
PER_NAME = 1
REPLY_PRIMING = 3


def openai_prompt_tokens(body: Mapping[str, Any]) -> int:
    count = counter_for_model(str(body.get("model") or "gpt-4o-mini")).count
    total = REPLY_PRIMING
    for message in body.get("messages") or ():
        if not isinstance(message, Mapping):
            continue
        total += PER_MESSAGE + count(str(message.get("role", "")))
        total += count(content_text(message.get("content")))
        if message.get("name"):
            total += count(str(message["name"])) + PER_NAME
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(function, Mapping):
                total += count(str(function.get("name", "")))
                total += count(str(function.get("arguments", ""))) + PER_MESSAGE
    tools = body.get("tools") or ()
    if tools:
        total += count(render_tools(tools))
    return total


def render_tools(tools: Sequence[Mapping[str, Any]]) -> str:
    lines = ["# Tools", "", "## functions", "", "namespace functions {", ""]
    for tool in tools:
        function = tool.get("function", tool)
        if function.get("description"):
            lines.append(f"// {function['description']}")
        parameters = function.get("parameters") or {}
        properties = parameters.get("properties") or {}
        if not properties:
            lines.append(f"type {function.get('name')} = () => any;")
            lines.append("")
            continue
        required = set(parameters.get("required") or ())
        lines.append(f"type {function.get('name')} = (_: {{")
        for name, schema in properties.items():
            if isinstance(schema, Mapping) and schema.get("description"):
                lines.append(f"// {schema['description']}")
            optional = "" if name in required else "?"
            lines.append(f"{name}{optional}: {_type_of(schema)},")
        lines.append("}) => any;")
        lines.append("")
    lines.append("} // namespace functions")
    return "\n".join(lines)


def _type_of(schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return "any"
    if schema.get("enum"):
        return " | ".join(f'"{value}"' for value in schema["enum"])
    kind = schema.get("type")
    simple: dict[str, Callable[[], str]] = {
        "string": lambda: "string",
        "integer": lambda: "number",
        "number": lambda: "number",
        "boolean": lambda: "boolean",
        "array": lambda: f"{_type_of(schema.get('items'))}[]",
        "object": lambda: "object",
    }
    return simple.get(kind, lambda: "any")() if isinstance(kind, str) else "any"
