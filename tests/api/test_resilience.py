"""The agent loop against a provider that misbehaves: rate limits, outages, timeouts,
prompts it calls too long, broken streams, and a model that keeps calling tools wrongly.

Every failure ends the run cleanly, and a failed step leaves the agent as it was. Each
test runs on both wire formats: the server reaches the same fake LLM once through the
``openai`` SDK and once through the ``anthropic`` SDK (Messages API)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, send_input
from tests.fakes import FakeLLM, reply
from tests.fakes.replies import FakeRequest
from tests.support.backends import Backend
from tests.support.inprocess import InProcessServer

HANDLES = {"openai": "openai/gpt-4o-mini", "anthropic": "anthropic/gpt-4o-mini"}


def both_wires_env(fake: FakeLLM) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": fake.url}


@pytest.fixture(scope="module")
def server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Any:
    engram = InProcessServer(
        tmp_path_factory.mktemp("resilience"),
        fake_llm_server.base_url,
        both_wires_env(fake_llm_server),
        database_url=backend.database_url(),
    )
    engram.start()
    yield engram
    engram.stop()


@pytest.fixture(params=list(HANDLES))
def wire(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def api(server: InProcessServer, fake_llm: FakeLLM) -> Any:
    with server.client() as client:
        yield client


@pytest.fixture
def make_agent(api: httpx.Client, wire: str) -> AgentFactory:
    def factory(**fields: Any) -> dict[str, Any]:
        response = api.post("/v1/agents/", json={"model": HANDLES[wire], **fields})
        assert response.status_code == 200, response.text
        return response.json()

    return factory


def snapshot(api: httpx.Client, agent_id: str) -> dict[str, Any]:
    """What a failed step must not change: history, memory blocks, passages."""
    return {
        "messages": api.get(
            f"/v1/agents/{agent_id}/messages", params={"limit": 1000, "order": "asc"}
        ).json(),
        "blocks": api.get(f"/v1/agents/{agent_id}/core-memory/blocks").json(),
        "passages": api.get(f"/v1/agents/{agent_id}/archival-memory").json(),
    }


def stop_reason(answer: dict[str, Any]) -> str:
    return answer["stop_reason"]["stop_reason"]


def send_failing(api: httpx.Client, agent_id: str, text: str, status: int = 502) -> dict[str, Any]:
    """A turn that failed: answered with an error status, the error, the run and its stop
    reason (docs/api.md); the run is recorded failed with the same error."""
    response = api.post(f"/v1/agents/{agent_id}/messages", json={"input": text})
    assert response.status_code == status, response.text
    answer = response.json()
    run = api.get(f"/v1/runs/{answer['run_id']}").json()
    assert (run["status"], run["stop_reason"]) == ("failed", stop_reason(answer))
    assert run["metadata"]["error"] == answer["detail"] == answer["error"]["detail"]
    return answer


def run_of(api: httpx.Client, agent_id: str) -> dict[str, Any]:
    runs = api.get("/v1/runs/", params={"agent_id": agent_id, "limit": 1}).json()
    return runs[0]


def test_rate_limit_is_retried_after_the_retry_after_delay(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.error(429, "Rate limit reached", retry_after=1), reply.text("Hello!"))

    started = time.monotonic()
    answer = send_input(api, agent["id"], "hi")

    assert stop_reason(answer) == "end_turn"
    assert answer["messages"][-1]["content"] == "Hello!"
    assert len(fake_llm.chat_requests) == 2
    assert time.monotonic() - started >= 0.9


def test_server_errors_and_overload_are_retried(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(
        reply.error(503, "Service unavailable", retry_after=0.1),
        reply.error(502, "Bad gateway", retry_after=0.1),
        reply.text("Made it."),
    )

    answer = send_input(api, agent["id"], "hi")

    assert stop_reason(answer) == "end_turn"
    assert len(fake_llm.chat_requests) == 3


def test_a_provider_that_stays_down_ends_the_run_and_stores_nothing(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=[{"label": "human", "value": "Name: Ada", "limit": 500}])
    before = snapshot(api, agent["id"])
    down = reply.error(500, "The upstream model is unavailable", retry_after=0.1)
    fake_llm.fallback = lambda request: down

    answer = send_failing(api, agent["id"], "Remember that I like tea.")

    assert stop_reason(answer) == "llm_api_error"
    assert len(fake_llm.chat_requests) == 3  # the call and its two retries
    run = run_of(api, agent["id"])
    assert run["status"] == "failed"
    assert "500" in run["metadata"]["error"] or "500" in str(run)
    assert snapshot(api, agent["id"]) == before


def test_a_failure_mid_turn_keeps_the_committed_steps_only(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(memory_blocks=[{"label": "human", "value": "", "limit": 500}])
    down = reply.error(500, "The upstream model is unavailable", retry_after=0.1)
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Likes tea."}),
        down,
        down,
        down,
    )

    answer = send_failing(api, agent["id"], "I like tea.")

    assert stop_reason(answer) == "llm_api_error"
    after = snapshot(api, agent["id"])
    # The first step (the edit and its tool result) committed; the failed second left nothing.
    assert after["blocks"][0]["value"] == "Likes tea."
    kinds = [m["message_type"] for m in after["messages"]]
    assert kinds == ["user_message", "tool_call_message", "tool_return_message"]


def test_a_client_error_is_not_retried(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.error(400, "Unsupported parameter: 'temperature'"))

    answer = send_failing(api, agent["id"], "hi")

    assert stop_reason(answer) == "llm_api_error"
    assert len(fake_llm.chat_requests) == 1


def _is_summarizer(request: FakeRequest) -> bool:
    return "running summary" in request.system_text


def _overflow() -> Any:
    return reply.error(
        400,
        "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 9001 tokens.",
        code="context_length_exceeded",
        type="invalid_request_error",
    )


def test_a_prompt_the_provider_calls_too_long_is_folded_and_retried_once(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(compaction_settings={"keep_last_user_turns": 1})
    fake_llm.fallback = lambda request: reply.text("Noted.")
    for turn in range(4):
        send_input(api, agent["id"], f"Fact number {turn}: the sky was clear.")
    fake_llm.reset()
    fake_llm.when(_is_summarizer, reply.text("SUMMARY: four facts about the sky."))
    fake_llm.script(_overflow(), reply.text("All good."))

    answer = send_input(api, agent["id"], "What did I tell you?")

    assert stop_reason(answer) == "end_turn"
    assert answer["messages"][-1]["content"] == "All good."
    calls = fake_llm.chat_requests
    assert [_is_summarizer(r) for r in calls] == [False, True, False]
    # The retry went out with a smaller prompt: the oldest turns folded into the summary.
    assert len(calls[2].messages) < len(calls[0].messages)
    context = api.get(f"/v1/agents/{agent['id']}/context").json()
    assert context["summary_memory"].startswith("SUMMARY")


def test_a_prompt_still_too_long_after_folding_ends_the_run_cleanly(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.fallback = lambda request: reply.text("Noted.")
    send_input(api, agent["id"], "An earlier message.")
    messages_before = snapshot(api, agent["id"])["messages"]
    fake_llm.reset()
    fake_llm.when(_is_summarizer, reply.text("SUMMARY."))
    fake_llm.fallback = lambda request: _overflow()

    answer = send_failing(api, agent["id"], "And now?", status=400)

    assert stop_reason(answer) == "context_window_overflow_in_system_prompt"
    assert [m["id"] for m in snapshot(api, agent["id"])["messages"]] == [
        m["id"] for m in messages_before
    ]
    assert run_of(api, agent["id"])["status"] == "failed"


def test_malformed_tool_calls_are_fed_back_then_the_run_stops_with_error(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(
        reply.tool_call("no_such_tool", {}),
        reply.raw_arguments("{not json", name="archival_memory_insert"),
        reply.tool_call("archival_memory_insert", {}),  # missing "content"
        reply.tool_call("no_such_tool", {}),
        reply.text("never reached"),
    )

    answer = send_failing(api, agent["id"], "save something")

    assert stop_reason(answer) == "error"
    # Three errors went back to the model; the fourth malformed call ended the run.
    assert len(fake_llm.chat_requests) == 4
    errors = fake_llm.chat_requests[-1].tool_results
    assert len(errors) == 3 and all(e.startswith("Error:") for e in errors)
    run = run_of(api, agent["id"])
    assert run["stop_reason"] == "error"
    assert api.get(f"/v1/agents/{agent['id']}/archival-memory").json() == []


def test_a_tool_error_the_model_corrects_does_not_count_against_it(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(
        reply.tool_call("no_such_tool", {}),
        reply.tool_call("archival_memory_insert", {"content": "Tea, not coffee."}),
        reply.text("Saved."),
    )

    answer = send_input(api, agent["id"], "remember: tea")

    assert stop_reason(answer) == "end_turn"
    assert len(api.get(f"/v1/agents/{agent['id']}/archival-memory").json()) == 1


def test_a_slow_provider_times_out_is_retried_and_then_fails_cleanly(
    fake_llm: FakeLLM, tmp_path: Path, wire: str, backend: Backend
) -> None:
    server = InProcessServer(
        tmp_path / "data",
        fake_llm.base_url,
        {
            "ENGRAM_LLM_TIMEOUT_SECONDS": "0.5",
            "ENGRAM_LLM_MAX_RETRIES": "1",
            **both_wires_env(fake_llm),
        },
        database_url=backend.database_url(),
    )
    server.start()
    try:
        with server.client() as client:
            agent = client.post("/v1/agents/", json={"model": HANDLES[wire]}).json()
            fake_llm.fallback = lambda request: reply.text("too late", delay=2.0)

            started = time.monotonic()
            answer = send_failing(client, agent["id"], "hi")

            assert stop_reason(answer) == "llm_api_error"
            assert len(fake_llm.chat_requests) == 2  # the call and one retry
            assert time.monotonic() - started < 5
            assert client.get(f"/v1/agents/{agent['id']}/messages").json() == []
            assert "timed out" in str(run_of(client, agent["id"])).lower()
    finally:
        server.stop()


def test_a_stream_cut_off_midway_ends_the_run_and_stores_nothing(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    before = snapshot(api, agent["id"])
    cut = reply.truncated_stream("The answer is forty")
    fake_llm.fallback = lambda request: cut

    with api.stream(
        "POST",
        f"/v1/agents/{agent['id']}/messages/stream",
        json={"input": "What is the answer?", "stream_tokens": True},
    ) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines() if line.startswith("data: ")]

    stops = [e for e in events if '"stop_reason"' in e and "message_type" in e]
    assert stops and "llm_api_error" in stops[-1]
    assert snapshot(api, agent["id"]) == before


def test_a_body_that_is_not_json_ends_the_run_and_stores_nothing(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    before = snapshot(api, agent["id"])
    broken = reply.broken_json()
    fake_llm.fallback = lambda request: broken

    answer = send_failing(api, agent["id"], "hi")

    assert stop_reason(answer) == "llm_api_error"
    assert snapshot(api, agent["id"]) == before
