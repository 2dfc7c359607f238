"""A plain request's run through letta-client: listed and cancelled while it runs, and a
failed model call raised to the caller with the run and the error, not sent again."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from letta_client import APIStatusError, Letta
from letta_client.types import AgentState

from tests.compat.conftest import AgentFactory, letta_client_for
from tests.fakes import FakeLLM, reply
from tests.support.server import EngramServer


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent()


def test_a_plain_request_is_listed_running_and_cancelled_through_the_sdk(
    client: Letta, engram_server: EngramServer, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "my dog is Rex"}, delay=1.0),
        reply.text("never asked for"),
    )
    answers: list[Any] = []

    def send() -> None:
        with letta_client_for(engram_server) as other:
            answers.append(other.agents.messages.create(agent.id, input="remember my dog"))

    sender = threading.Thread(target=send)
    sender.start()
    fake_llm.wait_for_requests(1)
    deadline = time.monotonic() + 10
    while not (running := client.runs.list(agent_id=agent.id, active=True).items):
        assert time.monotonic() < deadline, "the request's run never listed as active"
        time.sleep(0.02)

    cancelled = client.agents.messages.cancel(agent.id)
    sender.join(30)

    assert [(run.status, run.background) for run in running] == [("running", False)]
    assert cancelled == {running[0].id: "cancelled"}
    [answer] = answers
    assert answer.stop_reason.stop_reason == "cancelled"
    assert {message.run_id for message in answer.messages} == {running[0].id}
    assert client.runs.retrieve(running[0].id).status == "cancelled"
    assert len(fake_llm.chat_requests) == 1


def test_a_failed_model_call_raises_with_the_run_and_is_not_retried(
    counted_client: tuple[Letta, list[str]], fake_llm: FakeLLM, agent: AgentState
) -> None:
    sdk, sent = counted_client
    fake_llm.script(reply.error(400, "The model refused the request"))

    with pytest.raises(APIStatusError) as caught:
        sdk.agents.messages.create(agent.id, input="hello")

    assert caught.value.status_code == 502
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["error"]["type"] == "llm_error"
    assert "The model refused the request" in body["error"]["detail"]
    assert body["stop_reason"] == {"message_type": "stop_reason", "stop_reason": "llm_api_error"}
    assert sent == [f"POST /v1/agents/{agent.id}/messages"]
    assert len(fake_llm.chat_requests) == 1
    run = sdk.runs.retrieve(body["run_id"])
    assert (run.status, run.stop_reason) == ("failed", "llm_api_error")
    assert run.metadata is not None and run.metadata["error"] == body["detail"]
