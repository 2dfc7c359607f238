"""The in-process test servers read their settings from their own environment mapping,
never from the test process's, and servers given process variables stay processes."""

from __future__ import annotations

import pytest

from engram.config import Settings
from tests.support.inprocess import settings_from
from tests.support.server import needs_a_process


def test_settings_come_from_the_mapping_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGRAM_MAX_MESSAGE_CHARS", "7")
    monkeypatch.setenv("ENGRAM_API_KEY", "from-the-test-process")
    settings = settings_from(
        {"ENGRAM_MAX_MESSAGE_CHARS": "5", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    )
    assert isinstance(settings, Settings)
    assert settings.max_message_chars == 5
    assert settings.api_key is None
    assert settings.openai_base_url == "http://127.0.0.1:9/v1"


def test_settings_are_validated_as_the_server_validates_them() -> None:
    with pytest.raises(ValueError, match="ENGRAM_TOOL_TMP_MB"):
        settings_from({"ENGRAM_TOOL_MEMORY_MB": "100", "ENGRAM_TOOL_TMP_MB": "64"})


@pytest.mark.parametrize(
    ("extra_env", "process"),
    [
        (None, False),
        ({"ENGRAM_API_KEY": "k", "ANTHROPIC_BASE_URL": "u", "ANTHROPIC_API_KEY": "k"}, False),
        ({"PATH": "/nowhere"}, True),
    ],
)
def test_only_process_variables_need_a_process(
    extra_env: dict[str, str] | None, process: bool
) -> None:
    assert needs_a_process(extra_env) is process
