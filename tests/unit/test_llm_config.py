"""The typed view of an agent's ``llm_config``: the fields the step acts on, read one way."""

from __future__ import annotations

from engram.llm.config import DEFAULT_CONTEXT_WINDOW, LLMConfig


def test_a_stored_config_reads_as_its_fields() -> None:
    config = LLMConfig.from_json(
        {
            "model": "gpt-4o-mini",
            "handle": "openai/gpt-4o-mini",
            "provider_name": "openai",
            "context_window": 128000,
            "temperature": 0.7,
            "max_tokens": 4096,
            "put_inner_thoughts_in_kwargs": False,  # kept in the column, not in the view
        }
    )
    assert config == LLMConfig(
        model="gpt-4o-mini",
        handle="openai/gpt-4o-mini",
        provider_name="openai",
        context_window=128000,
        temperature=0.7,
        max_tokens=4096,
    )


def test_absent_fields_mean_what_they_always_meant() -> None:
    config = LLMConfig.from_json({"model": "m", "context_window": None, "max_tokens": None})
    assert config.context_window == DEFAULT_CONTEXT_WINDOW
    assert (config.temperature, config.max_tokens, config.handle) == (None, None, None)
    assert config.reasoning_budget is None


def test_a_reasoning_budget_needs_the_reasoner_on_and_a_token_count() -> None:
    on = {"model": "claude", "enable_reasoner": True, "max_reasoning_tokens": 2048}
    assert LLMConfig.from_json(on).reasoning_budget == 2048
    assert LLMConfig.from_json({**on, "enable_reasoner": False}).reasoning_budget is None
    assert LLMConfig.from_json({**on, "max_reasoning_tokens": 0}).reasoning_budget is None
