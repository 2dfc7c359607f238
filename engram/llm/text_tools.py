"""Tool calls written as JSON in plain text, for models whose native tool calling is missing
or unreliable (many small local models).

An agent whose ``llm_config.tool_call_format`` is ``"json_text"`` has its provider client
wrapped in ``TextToolCalls``. The model is then sent no ``tools`` field: the tool list and
the calling convention go at the end of the system message, and the transcript is rewritten
in that same convention, so the model only ever sees one way of calling tools:

- an assistant message's tool calls become fenced ```json blocks holding
  ``{"tool": "<name>", "arguments": {...}}``, after the message's text;
- a tool result becomes a user message holding ``<tool_result tool=".." call_id="..">``
  (results in a row share one message: some chat templates refuse two user turns in a row).

The reply is parsed back into ``ToolCall``s, so the step loop runs exactly as with native
calls. A ```json block that is not valid JSON is still a call — to the tool it names, or to
``malformed_tool_call`` when no name can be read — whose arguments are the block's raw text:
the step loop answers it with an error result ("arguments must be a JSON object", or "tool
... is not available") and the model gets another step to write it again. When that result
goes back to the model, the JSON parser's complaint is added to it.

Streaming: the model's raw output is JSON mixed with text, which a client must not see as
the answer, so the wrapped call is never streamed. With a delta sink the parsed reasoning
and content go out as one delta each once the reply is complete: token streaming is not
available in this mode.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from typing import Any

from engram.llm.client import ChatRequest, ChatResult, ContentDelta, DeltaSink, LLMClient, ToolCall

ARGUMENT_KEYS = ("arguments", "parameters")
"""Keys a call object may hold its arguments under; Llama-style models write ``parameters``."""
MALFORMED_CALL = "malformed_tool_call"
"""The tool name of a JSON block that does not parse and names no tool."""

_OPEN_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?")
_NAMED = [re.compile(rf'"{key}"\s*:\s*"([^"\\]+)"') for key in ("tool", "name")]

INSTRUCTIONS = """\
# Calling tools

You have tools, listed below. To call one, write a JSON object in a fenced json block:

```json
{{"tool": "<tool name>", "arguments": {{"<argument>": <value>}}}}
```

Rules:
- Write one block per call. To make several calls, write several blocks, one after the other.
- "arguments" is a JSON object with the tool's arguments: double quotes around keys and
  strings, no comments, no trailing commas. Use {{}} for a tool without arguments.
- A reply that calls tools holds only the blocks, nothing else.
- To answer without calling a tool, reply in plain text with no JSON block.
- Results come back in a user message, one <tool_result tool="..." call_id="..."> element
  per call. The user did not write them; read them and continue.

# Tools
{tools}"""


class TextToolCalls:
    """An ``LLMClient`` that asks ``inner`` for tool calls written as JSON text."""

    def __init__(self, inner: LLMClient) -> None:
        self.inner = inner

    async def chat(self, request: ChatRequest, on_delta: DeltaSink | None = None) -> ChatResult:
        """One completion with text tool calls. Raises what ``inner`` raises (ProviderError)."""
        result = await self.inner.chat(as_text_request(request))
        content, calls = parse_reply(result.content or "")
        if on_delta is not None:
            if result.reasoning:
                await on_delta(ContentDelta(kind="reasoning", text=result.reasoning))
            if content:
                await on_delta(ContentDelta(kind="content", text=content))
        # A server may still answer with native calls (it was sent no tools): keep them.
        calls = [*result.tool_calls, *calls]
        return replace(
            result,
            content=content,
            tool_calls=calls,
            finish_reason="tool_calls" if calls else result.finish_reason,
        )


def as_text_request(request: ChatRequest) -> ChatRequest:
    """``request`` for a model without native tools: no ``tools``, the convention and the
    tool list in the system message, and earlier calls and results written as text."""
    messages = render_transcript(request.messages)
    if request.tools:
        messages = _with_system_text(messages, tool_instructions(request.tools))
    return replace(request, messages=messages, tools=[], parallel_tool_calls=None)


def tool_instructions(tools: list[dict[str, Any]]) -> str:
    """The calling convention and every tool's name, description and argument schema."""
    entries = []
    for tool in tools:
        schema = tool.get("function", tool)
        parameters = schema.get("parameters") or {"type": "object", "properties": {}}
        entries.append(
            f"\n## {schema['name']}\n"
            f"{(schema.get('description') or '').strip()}\n"
            f"Arguments (JSON schema): {json.dumps(parameters, ensure_ascii=False)}"
        )
    return INSTRUCTIONS.format(tools="".join(entries))


def _with_system_text(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    for index, message in enumerate(messages):
        if message.get("role") == "system":
            content = _text_of(message)
            joined = f"{content}\n\n{text}" if content else text
            return [*messages[:index], {**message, "content": joined}, *messages[index + 1 :]]
    return [{"role": "system", "content": text}, *messages]


def render_transcript(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages with native tool calls and ``tool`` results rewritten as text."""
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # call id -> tool name, for the results that follow
    problems: dict[str, str] = {}  # call id -> why the model's block did not parse
    after_result = False
    for message in messages:
        role = message.get("role")
        if role == "tool":
            result = _result_text(message, names, problems)
            if after_result:
                out[-1] = {"role": "user", "content": f"{out[-1]['content']}\n\n{result}"}
            else:
                out.append({"role": "user", "content": result})
            after_result = True
            continue
        after_result = False
        if role == "assistant" and message.get("tool_calls"):
            out.append({"role": "assistant", "content": _assistant_text(message, names, problems)})
        else:
            out.append(message)
    return out


def _assistant_text(
    message: dict[str, Any], names: dict[str, str], problems: dict[str, str]
) -> str:
    parts = [_text_of(message).strip()]
    for call in message["tool_calls"]:
        function = call.get("function") or {}
        name, arguments = function.get("name", ""), function.get("arguments") or ""
        names[call.get("id", "")] = name
        problem = _json_problem(arguments)
        if problem is not None:
            problems[call.get("id", "")] = problem
        parts.append(render_call(name, arguments))
    return "\n\n".join(part for part in parts if part)


def render_call(name: str, arguments: str) -> str:
    """One call as the model is asked to write it: a fenced json block."""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        if arguments.lstrip().startswith("{"):
            # The model's own unreadable block (see parse_reply): shown back verbatim.
            return f"```json\n{arguments.strip()}\n```"
        parsed = arguments  # an arguments string that is not JSON, kept as a string
    call = json.dumps({"tool": name, "arguments": parsed}, ensure_ascii=False)
    return f"```json\n{call}\n```"


def _result_text(message: dict[str, Any], names: dict[str, str], problems: dict[str, str]) -> str:
    call_id = message.get("tool_call_id") or ""
    name = names.get(call_id, "unknown")
    body = _text_of(message)
    problem = problems.get(call_id)
    if problem is not None:
        body += (
            f"\nThe JSON you wrote for this call does not parse ({problem}). Write the call "
            'again as valid JSON: {"tool": "<tool name>", "arguments": {...}}.'
        )
    return f'<tool_result tool="{name}" call_id="{call_id}">\n{body}\n</tool_result>'


def _json_problem(arguments: str) -> str | None:
    if not arguments.strip():
        return None
    try:
        json.loads(arguments)
    except json.JSONDecodeError as exc:
        return str(exc)
    return None


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def parse_reply(text: str) -> tuple[str | None, list[ToolCall]]:
    """The content (text outside call blocks) and the tool calls of a reply, in order.

    A call is a ```json (or unlabelled) fenced block holding one or more call objects, or
    an unfenced call object. A fenced block that does not parse becomes a malformed call
    (see the module docstring); unfenced text is only read as a call when it parses, or
    when the whole reply is one unreadable JSON object. Other code blocks stay content.
    """
    kept: list[str] = []
    calls: list[ToolCall] = []
    position = 0
    while (fence := _OPEN_FENCE.search(text, position)) is not None:
        _scan_bare(text[position : fence.start()], kept, calls)
        found, position = _fenced_calls(text, fence.group(1).lower(), fence.end())
        if found is None:
            kept.append(text[fence.start() : position])  # a code block for the reader
        else:
            calls.extend(found)
    _scan_bare(text[position:], kept, calls)
    stripped = text.strip()
    if not calls and stripped.startswith("{") and _json_problem(stripped) is not None:
        return None, [_malformed(stripped)]
    content = re.sub(r"\n{3,}", "\n\n", "".join(kept)).strip()
    return content or None, calls


def _fenced_calls(text: str, tag: str, start: int) -> tuple[list[ToolCall] | None, int]:
    """The calls of the fenced block whose body starts at ``start`` (None when it is a code
    block meant for the reader), and where the block ends.

    The JSON is decoded before the closing fence is looked for: a string inside a call may
    itself hold a fence, e.g. a code snippet saved to memory."""
    body = _skip_space(text, start)
    if tag not in ("json", "") or (tag == "" and not text.startswith(("{", "["), body)):
        return None, _block_end(text, start)
    decoder = json.JSONDecoder()
    values: list[Any] = []
    index = body
    try:
        while not text.startswith("```", index) and index < len(text):
            value, index = decoder.raw_decode(text, index)
            values.append(value)
            index = _skip_space(text, index, also=",")
    except json.JSONDecodeError:
        end = _block_end(text, start)
        return [_malformed(text[start:end].removesuffix("```").strip())], end
    end = min(index + 3, len(text))  # past the closing fence, if there is one
    calls = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            call = call_from(item)
            if call is None:
                return None, end  # JSON that is not a call, e.g. data the user asked for
            calls.append(call)
    return calls or None, end


def _skip_space(text: str, index: int, also: str = "") -> int:
    while index < len(text) and (text[index].isspace() or text[index] in also):
        index += 1
    return index


def _block_end(text: str, start: int) -> int:
    """Just past the fence closing a block whose body starts at ``start``; a block cut off
    by the token limit ends with the reply."""
    close = text.find("```", start)
    return len(text) if close == -1 else close + 3


def _scan_bare(segment: str, kept: list[str], calls: list[ToolCall]) -> None:
    """Move the unfenced call objects of ``segment`` to ``calls``, the rest to ``kept``."""
    decoder = json.JSONDecoder()
    position = index = 0
    while (index := segment.find("{", index)) != -1:
        try:
            value, end = decoder.raw_decode(segment, index)
        except json.JSONDecodeError:
            index += 1
            continue
        call = call_from(value)
        if call is not None:
            kept.append(segment[position:index])
            calls.append(call)
            position = end
        index = end  # an object that is not a call is skipped whole, nested ones included
    kept.append(segment[position:])


def call_from(value: Any) -> ToolCall | None:
    """A ``ToolCall`` from one decoded call object, or None if ``value`` is not one.

    ``{"tool": ...}`` needs no arguments; ``{"name": ...}`` must have ``arguments`` (or
    ``parameters``), so that an ordinary object with a name field is not taken for a call.
    Arguments given as a string are taken as the JSON text itself, as OpenAI sends them.
    """
    if not isinstance(value, dict):
        return None
    argument_key = next((key for key in ARGUMENT_KEYS if key in value), None)
    name = value.get("tool")
    if not isinstance(name, str):
        name = value.get("name") if argument_key is not None else None
    if not isinstance(name, str) or not name:
        return None
    arguments = value[argument_key] if argument_key is not None else {}
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return ToolCall(id=new_call_id(), name=name, arguments=raw)


def _malformed(block: str) -> ToolCall:
    """A call for a block that does not parse: the step loop reports the error back."""
    for pattern in _NAMED:
        named = pattern.search(block)
        if named is not None:
            return ToolCall(id=new_call_id(), name=named.group(1), arguments=block)
    return ToolCall(id=new_call_id(), name=MALFORMED_CALL, arguments=block)


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"
