"""Helpers the REST tests share: one way to send a message, read a history, and fail a
test on a server error, instead of a copy of each in every module that needs it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator
from typing import Any

import httpx
import pytest

ResponseHook = Callable[[httpx.Response], None]


def send(api: httpx.Client, agent_id: str, text: str, **options: Any) -> dict[str, Any]:
    """One user message to the agent (``options`` join the request body); the whole
    response body of a turn that must succeed."""
    response = api.post(
        f"/v1/agents/{agent_id}/messages",
        json={"messages": [{"role": "user", "content": text}], **options},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def history(api: httpx.Client, agent_id: str, **params: Any) -> list[dict[str, Any]]:
    """The agent's messages as the list endpoint answers ``params``, verbatim (its own
    defaults apply to what is not given: newest first, one page)."""
    response = api.get(f"/v1/agents/{agent_id}/messages", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def conversation(
    api: httpx.Client, agent_id: str, *, skip: Collection[str] = ()
) -> list[dict[str, Any]]:
    """The agent's whole history as it reads, oldest first, without the message types
    in ``skip`` (``{"system_message"}``...)."""
    messages = history(api, agent_id, order="asc", limit=1000)
    return [message for message in messages if message["message_type"] not in skip]


@contextlib.contextmanager
def failing_on_server_errors(
    is_error: Callable[[int], bool] = lambda status: status == 500,
) -> Iterator[ResponseHook]:
    """A response hook for an HTTP client that records each answer whose status
    ``is_error``; when the block ends, the test fails listing them. A 500 is never the
    right answer to a client, whatever it sent, so a test that got one should say so even
    if it did not look at that response."""
    seen: list[str] = []

    def record(response: httpx.Response) -> None:
        if is_error(response.status_code):
            response.read()
            seen.append(
                f"{response.request.method} {response.request.url} -> "
                f"{response.status_code}: {response.text[:500]}"
            )

    yield record
    if seen:
        pytest.fail("the server answered with an error:\n" + "\n".join(seen))
