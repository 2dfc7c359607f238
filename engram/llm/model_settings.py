"""Letta's ``model_settings``: an agent's model call settings in the per-provider shape
Letta 0.16.8 shows and takes (``OpenAIModelSettings``, ``AnthropicModelSettings``).

Engram keeps these settings in the agent's ``llm_config`` (one place the step reads), so
``model_settings`` is a view of it both ways: ``settings_view`` derives what the agent's
calls really use, and ``apply_settings`` writes a client's settings back into a config.
A setting Engram cannot honour for the agent's provider is refused, naming the field,
rather than stored and silently not acted on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engram.errors import InvalidInput
from engram.llm.anthropic_convert import DEFAULT_MAX_TOKENS, MIN_THINKING_BUDGET
from engram.llm.model_facts import max_output_tokens_for

FIELD = "model_settings"

ANTHROPIC = "anthropic"
OPENAI = "openai"

# Letta's provider types whose models Engram reaches through an OpenAI-compatible endpoint:
# settings in any of these shapes apply to an agent on such an endpoint.
OPENAI_WIRE_TYPES = frozenset(
    {"openai", "azure", "xai", "groq", "deepseek", "together", "openrouter", "sglang", "baseten"}
)

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
MAX_TOKENS = 10_000_000

# Fields of Letta's settings shapes Engram does not act on; accepted only with the value
# that means "off", so a round trip of a retrieved agent's settings still works.
_OFF_VALUES: dict[str, tuple[Any, ...]] = {
    "strict": (False, None),
    "verbosity": (None,),
    "effort": (None,),
    "tool_call_parser": (None,),
}


def wire_of(llm_config: Mapping[str, Any]) -> str:
    """Which API the agent's calls speak: ``anthropic`` or ``openai`` (every other
    endpoint is reached through an OpenAI-compatible one)."""
    return ANTHROPIC if llm_config.get("model_endpoint_type") == ANTHROPIC else OPENAI


def with_reasoning(llm_config: Mapping[str, Any], on: bool) -> dict[str, Any]:
    """Letta's agent-level ``reasoning`` switch written into the config: for Anthropic
    models extended thinking on (with the budget set, or Anthropic's minimum) or off; for
    OpenAI-compatible ones, off drops the ``reasoning_effort`` and on keeps it (a reasoning
    model reasons at its default effort without one)."""
    config = dict(llm_config)
    if wire_of(config) == ANTHROPIC:
        config["enable_reasoner"] = on
        if on and not config.get("max_reasoning_tokens"):
            config["max_reasoning_tokens"] = MIN_THINKING_BUDGET
    elif not on:
        config.pop("reasoning_effort", None)
    return config


def settings_view(llm_config: Mapping[str, Any]) -> dict[str, Any]:
    """The agent's effective settings in Letta's shape for its provider.

    ``max_output_tokens`` is what is sent as the reply budget: for Anthropic the value the
    call always carries, for OpenAI-compatible endpoints the agent's own (``null`` when
    none is set and the endpoint's default applies)."""
    common: dict[str, Any] = {
        "max_output_tokens": llm_config.get("max_tokens"),
        "parallel_tool_calls": bool(llm_config.get("parallel_tool_calls")),
        "temperature": llm_config.get("temperature"),
        "response_format": llm_config.get("response_format"),
    }
    if wire_of(llm_config) == ANTHROPIC:
        model = str(llm_config.get("model") or "")
        budget = llm_config.get("max_reasoning_tokens")
        enabled = bool(llm_config.get("enable_reasoner")) and bool(budget)
        return {
            **common,
            "provider_type": ANTHROPIC,
            "max_output_tokens": common["max_output_tokens"]
            or max_output_tokens_for(model)
            or DEFAULT_MAX_TOKENS,
            "thinking": {
                "type": "enabled" if enabled else "disabled",
                "budget_tokens": max(int(budget or 0), MIN_THINKING_BUDGET),
            },
            "effort": None,
            "strict": False,
        }
    return {
        **common,
        "provider_type": OPENAI,
        "reasoning": {"reasoning_effort": llm_config.get("reasoning_effort")},
        "strict": False,
    }


def apply_settings(
    llm_config: Mapping[str, Any], settings: Mapping[str, Any], field: str = FIELD
) -> dict[str, Any]:
    """``llm_config`` with the settings the client sent written in; only the fields sent
    change. Raises InvalidInput naming ``<field>.<name>`` for a value out of range or a
    setting the agent's provider cannot be given through Engram."""
    if not isinstance(settings, Mapping):
        raise InvalidInput(field, "must be an object of model settings")
    wire = wire_of(llm_config)
    _check_provider(wire, settings.get("provider_type"), field)
    config = dict(llm_config)
    for name, value in settings.items():
        if name == "provider_type":
            continue
        setter = _SETTERS.get(name)
        if setter is not None:
            setter(config, value, wire, f"{field}.{name}")
        elif name in _OFF_VALUES:
            if value not in _OFF_VALUES[name]:
                raise InvalidInput(f"{field}.{name}", "is not supported by Engram; leave it unset")
        elif value is not None:
            raise InvalidInput(
                f"{field}.{name}", f"is not a setting Engram can apply to a {wire} model"
            )
    return config


def _check_provider(wire: str, provider_type: Any, field: str) -> None:
    if provider_type is None:
        return
    fits = provider_type == ANTHROPIC if wire == ANTHROPIC else provider_type in OPENAI_WIRE_TYPES
    if not fits:
        raise InvalidInput(
            f"{field}.provider_type",
            f"'{provider_type}' settings do not fit the agent's model, which is reached "
            f"through the {wire} API; send provider_type '{wire}' or change the model",
        )


def _max_output_tokens(config: dict[str, Any], value: Any, wire: str, where: str) -> None:
    if value is None:
        config["max_tokens"] = None
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TOKENS:
        raise InvalidInput(where, f"must be a whole number from 1 to {MAX_TOKENS}")
    config["max_tokens"] = value


def _temperature(config: dict[str, Any], value: Any, wire: str, where: str) -> None:
    if value is None:
        config["temperature"] = None
        return
    top = 1.0 if wire == ANTHROPIC else 2.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= top:
        raise InvalidInput(where, f"must be a number from 0 to {top:g} for a {wire} model")
    config["temperature"] = float(value)


def _parallel_tool_calls(config: dict[str, Any], value: Any, wire: str, where: str) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(where, "must be true or false")
    config["parallel_tool_calls"] = bool(value)


def _reasoning(config: dict[str, Any], value: Any, wire: str, where: str) -> None:
    if value is None:
        return
    if wire == ANTHROPIC:
        raise InvalidInput(where, "Anthropic models take 'thinking', not 'reasoning'")
    if not isinstance(value, Mapping):
        raise InvalidInput(where, "must be an object with 'reasoning_effort'")
    effort = value.get("reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise InvalidInput(f"{where}.reasoning_effort", f"must be one of {list(REASONING_EFFORTS)}")
    config["reasoning_effort"] = effort


def _thinking(config: dict[str, Any], value: Any, wire: str, where: str) -> None:
    if value is None:
        return
    if wire != ANTHROPIC:
        raise InvalidInput(where, "only Anthropic models take 'thinking'; send 'reasoning'")
    if not isinstance(value, Mapping):
        raise InvalidInput(where, "must be an object with 'type' and 'budget_tokens'")
    kind = value.get("type", "enabled")
    if kind not in ("enabled", "disabled"):
        raise InvalidInput(f"{where}.type", "must be 'enabled' or 'disabled'")
    budget = value.get("budget_tokens", config.get("max_reasoning_tokens") or MIN_THINKING_BUDGET)
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise InvalidInput(f"{where}.budget_tokens", "must be a whole number")
    if not MIN_THINKING_BUDGET <= budget <= MAX_TOKENS:
        raise InvalidInput(
            f"{where}.budget_tokens", f"must be from {MIN_THINKING_BUDGET} to {MAX_TOKENS}"
        )
    config["enable_reasoner"] = kind == "enabled"
    config["max_reasoning_tokens"] = budget


def _response_format(config: dict[str, Any], value: Any, wire: str, where: str) -> None:
    config["response_format"] = check_response_format(value, wire, where)


def check_response_format(value: Any, wire: str, where: str) -> dict[str, Any] | None:
    """A response format as stored: ``null`` and ``{"type": "text"}`` both mean plain
    text; JSON formats only for models reached through an OpenAI-compatible API."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or value.get("type") not in RESPONSE_FORMATS:
        raise InvalidInput(where, f"must be an object whose 'type' is one of {RESPONSE_FORMATS}")
    if value["type"] == "text":
        return None
    if wire == ANTHROPIC:
        raise InvalidInput(
            where, "Engram sends Anthropic models no response format; only 'text' applies"
        )
    if value["type"] == "json_schema" and not isinstance(value.get("json_schema"), Mapping):
        raise InvalidInput(f"{where}.json_schema", "must be an object holding the JSON schema")
    return dict(value)


_SETTERS = {
    "max_output_tokens": _max_output_tokens,
    "temperature": _temperature,
    "parallel_tool_calls": _parallel_tool_calls,
    "reasoning": _reasoning,
    "thinking": _thinking,
    "response_format": _response_format,
}


# Letta's agent-level shortcuts for the same settings, by the settings field each sets.
SHORTCUTS = {
    "max_tokens": "max_output_tokens",
    "parallel_tool_calls": "parallel_tool_calls",
    "response_format": "response_format",
}


def apply_shortcuts(llm_config: Mapping[str, Any], sent: Mapping[str, Any]) -> dict[str, Any]:
    """``llm_config`` with the agent-level shortcuts sent (``max_tokens``,
    ``parallel_tool_calls``, ``response_format``) written in; an error names the shortcut."""
    config = dict(llm_config)
    wire = wire_of(config)
    for name, value in sent.items():
        _SETTERS[SHORTCUTS[name]](config, value, wire, name)
    return config
