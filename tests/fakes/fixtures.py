"""Pytest fixtures for the fake LLM; import them into a conftest.

``fake_llm_server`` is session-scoped so a session-scoped engram subprocess
can be pointed at one stable ``base_url``; ``fake_llm`` hands the same server
to each test freshly reset, and fails the test if a scripted handler raised.

    # conftest.py
    from tests.fakes.fixtures import fake_llm, fake_llm_server  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_llm import FakeLLM, FakeLLMHandlerError


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLM]:
    """One fake LLM for the whole session (use its ``base_url`` for subprocesses)."""
    with FakeLLM() as fake:
        yield fake


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLM) -> Iterator[FakeLLM]:
    """The session fake, reset before and after the test."""
    fake_llm_server.reset()
    yield fake_llm_server
    errors = fake_llm_server.errors
    fake_llm_server.reset()
    if errors:
        raise FakeLLMHandlerError(f"fake LLM handler/predicate raised: {errors[0]!r}") from errors[
            0
        ]
