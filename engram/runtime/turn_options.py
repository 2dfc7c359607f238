"""What one request asks of its turn beyond its messages (Letta's per-request options).

The options travel with the turn (``Turn.options``), and with a queued turn's kept input
(``runs.turn_input``), so a background run honours them as a direct one does. They are
plain data: a queued run's options survive a restart as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CLIENT_TOOL_MARK = "client_tool"
"""Set on a stored tool call of a client-side tool (beside ``requires_approval``): only
the client can produce its result."""


@dataclass(frozen=True)
class ClientTool:
    """A tool the client declares for one request and runs itself (Letta's
    ``ClientToolSchema``): offered to the model beside the agent's tools; a call of it
    stops the run for the client's result."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None

    def schema(self) -> dict[str, Any]:
        """The tool as the model is offered it (OpenAI's function tool shape)."""
        parameters = self.parameters or {"type": "object", "properties": {}}
        function: dict[str, Any] = {"name": self.name, "parameters": parameters}
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}


@dataclass(frozen=True)
class ClientSkill:
    """A skill the client's environment offers for one request (Letta's
    ``ClientSkillSchema``): the model reads its name, what it does and where it lives."""

    name: str
    description: str
    location: str


def render_skills(skills: tuple[ClientSkill, ...]) -> str:
    """The prompt's skills section for ``skills``; empty without any."""
    if not skills:
        return ""
    lines = [
        "<available_skills>",
        "Skills your environment offers. When a task matches one, read the file at its "
        "location for the instructions before you act.",
    ]
    for skill in skills:
        lines += [
            "<skill>",
            f"<name>{skill.name}</name>",
            f"<description>{skill.description}</description>",
            f"<location>{skill.location}</location>",
            "</skill>",
        ]
    lines.append("</available_skills>")
    return "\n".join(lines)


@dataclass(frozen=True)
class TurnOptions:
    """The request's options for its turn; the defaults are a turn as the agent is set up."""

    client_tools: tuple[ClientTool, ...] = field(default_factory=tuple)
    llm_config: dict[str, Any] | None = None
    """The model the request asked for (``override_model``) instead of the agent's."""
    system: str | None = None
    """The system prompt the request sent (``override_system``): it replaces the whole
    compiled system message (memory included) in this turn's model calls."""
    message_types: tuple[str, ...] | None = None
    """The Letta message types the answer shows (``include_return_message_types``)."""
    use_assistant_message: bool = True
    """False: a ``send_message`` call shows as the tool call it is, with its return."""
    callback_url: str | None = None
    """Where a background run's end is posted (runtime/run_callbacks.py)."""
    logprobs: int | None = None
    """Ask the model for log probabilities with this many alternatives per token
    (``return_logprobs``/``top_logprobs``); None does not ask."""
    conversation_id: str | None = None
    """The conversation the turn runs in (its window, summary, isolated blocks and lane
    of the agent's gate); None: the agent's default thread."""
    thinking: bool | None = None
    """The request's reasoning switch (``enable_thinking``): False off, True on where the
    model has a switch, None as the agent is set up."""
    skills: tuple[ClientSkill, ...] = field(default_factory=tuple)
    """The client's skills (``client_skills``), listed in this turn's system prompt."""
    compaction_messages: bool = False
    """Report a fold of the window during the turn as Letta's event and summary messages
    (``include_compaction_messages``)."""

    def shows(self, message_type: str) -> bool:
        """Whether the answer includes messages of ``message_type``."""
        return self.message_types is None or message_type in self.message_types

    @property
    def client_tool_names(self) -> set[str]:
        return {tool.name for tool in self.client_tools}

    def offered(self, agent_tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The schemas the model is offered: the agent's tools, a client tool replacing an
        agent tool of the same name for this request, then the client's tools."""
        names = self.client_tool_names
        kept = [schema for schema in agent_tools if _name(schema) not in names]
        return kept + [tool.schema() for tool in self.client_tools]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TurnOptions:
        if not data:
            return cls()
        tools = tuple(ClientTool(**tool) for tool in data.get("client_tools") or [])
        skills = tuple(ClientSkill(**skill) for skill in data.get("skills") or [])
        types = data.get("message_types")
        return cls(
            client_tools=tools,
            llm_config=data.get("llm_config"),
            system=data.get("system"),
            message_types=None if types is None else tuple(types),
            use_assistant_message=data.get("use_assistant_message", True),
            callback_url=data.get("callback_url"),
            logprobs=data.get("logprobs"),
            conversation_id=data.get("conversation_id"),
            thinking=data.get("thinking"),
            skills=skills,
            compaction_messages=bool(data.get("compaction_messages")),
        )


def _name(schema: dict[str, Any]) -> str:
    return str(schema.get("function", schema).get("name", ""))
