"""A plain (non-streaming) request's run exists from the start: it lists as active while the
turn waits or runs, ``/messages/cancel`` stops it, and a failed model call answers with the
run, its stop reason and the error."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory
from tests.fakes import FakeLLM, reply

USER = [{"role": "user", "content": "remember: my dog is Rex"}]


class Sent:
    """A message sent on another thread; ``answer()`` waits for its response."""

    def __init__(self, api: httpx.Client, agent_id: str, text: str = "hello") -> None:
        self._response: httpx.Response | None = None
        body = {"messages": [{"role": "user", "content": text}]}

        def send() -> None:
            self._response = api.post(f"/v1/agents/{agent_id}/messages", json=body)

        self._thread = threading.Thread(target=send)
        self._thread.start()

    def answer(self) -> httpx.Response:
        self._thread.join(30)
        assert self._response is not None
        return self._response


def active_runs(api: httpx.Client, agent_id: str) -> list[dict[str, Any]]:
    response = api.get("/v1/runs/", params={"agent_id": agent_id, "active": True})
    assert response.status_code == 200, response.text
    return list(response.json())


def wait_for_active(api: httpx.Client, agent_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        runs = active_runs(api, agent_id)
        if len(runs) >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.02)


@pytest.fixture
def agent(make_agent: AgentFactory) -> dict[str, Any]:
    return make_agent(memory_blocks=[{"label": "human", "value": "Name: Ada", "limit": 500}])


def test_a_plain_request_lists_its_run_as_running_while_the_model_answers(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("A slow answer.", delay=1.5))

    sent = Sent(api, agent["id"])
    fake_llm.wait_for_requests(1)
    listed = api.get("/v1/runs/", params={"agent_id": agent["id"]}).json()
    everyone = api.get("/v1/runs/", params={"limit": 1000}).json()
    answer = sent.answer()

    assert answer.status_code == 200, answer.text
    run_id = answer.json()["messages"][0]["run_id"]
    assert [(r["id"], r["status"], r["background"]) for r in listed] == [(run_id, "running", False)]
    assert listed[0]["completed_at"] is None
    assert listed[0]["request_config"]["use_assistant_message"] is True
    assert run_id in {r["id"] for r in everyone if r["status"] == "running"}
    done = api.get(f"/v1/runs/{run_id}").json()
    assert (done["status"], done["stop_reason"]) == ("completed", "end_turn")


def test_cancel_stops_a_plain_request_after_the_step_under_way(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Has a dog."}, delay=1),
        reply.text("never asked for"),
    )
    sent = Sent(api, agent["id"], "remember my dog, then answer")
    fake_llm.wait_for_requests(1)
    [run] = wait_for_active(api, agent["id"], 1)

    cancelled = api.post(f"/v1/agents/{agent['id']}/messages/cancel", json={})
    answer = sent.answer()

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() == {run["id"]: "cancelled"}
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["stop_reason"] == {"message_type": "stop_reason", "stop_reason": "cancelled"}
    # The step already calling the model committed whole; none began after the cancel.
    assert [m["message_type"] for m in body["messages"]] == [
        "tool_call_message",
        "tool_return_message",
    ]
    assert {m["run_id"] for m in body["messages"]} == {run["id"]}
    time.sleep(0.2)
    assert len(fake_llm.chat_requests) == 1
    stopped = api.get(f"/v1/runs/{run['id']}").json()
    assert (stopped["status"], stopped["stop_reason"]) == ("cancelled", "cancelled")
    assert stopped["completed_at"] is not None
    assert api.get(f"/v1/agents/{agent['id']}").json()["last_stop_reason"] == "cancelled"


def test_a_request_cancelled_while_it_waits_for_a_busy_agent_never_runs(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("First answer.", delay=1.5), reply.text("never asked for"))
    first = Sent(api, agent["id"], "first")
    fake_llm.wait_for_requests(1)
    second = Sent(api, agent["id"], "second")
    runs = wait_for_active(api, agent["id"], 2)
    waiting = next(r for r in runs if r["status"] == "created")

    cancelled = api.post(
        f"/v1/agents/{agent['id']}/messages/cancel", json={"run_ids": [waiting["id"]]}
    )

    assert cancelled.json() == {waiting["id"]: "cancelled"}
    assert first.answer().status_code == 200
    answer = second.answer()
    assert answer.status_code == 200, answer.text
    assert answer.json()["stop_reason"]["stop_reason"] == "cancelled"
    assert answer.json()["messages"] == []
    assert len(fake_llm.chat_requests) == 1
    history = api.get(f"/v1/agents/{agent['id']}/messages", params={"order": "asc"}).json()
    assert [m.get("content") for m in history if m["message_type"] == "user_message"] == ["first"]
    assert api.get(f"/v1/runs/{waiting['id']}").json()["status"] == "cancelled"


def test_a_busy_agent_refused_at_once_records_no_run(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("Slow.", delay=1.0))
    first = Sent(api, agent["id"])
    fake_llm.wait_for_requests(1)

    refused = api.post(
        f"/v1/agents/{agent['id']}/messages",
        params={"if_busy": "reject"},
        json={"messages": USER},
    )

    assert refused.status_code == 409, refused.text
    assert first.answer().status_code == 200
    assert len(api.get("/v1/runs/", params={"agent_id": agent["id"]}).json()) == 1


def test_an_unknown_agent_or_empty_request_records_no_run(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    before = api.get("/v1/runs/", params={"limit": 1000}).json()
    missing = "agent-00000000-0000-4000-8000-000000000000"

    unknown = api.post(f"/v1/agents/{missing}/messages", json={"messages": USER})
    empty = api.post(f"/v1/agents/{agent['id']}/messages", json={})

    assert unknown.status_code == 404 and missing in unknown.json()["detail"]
    assert empty.status_code == 422
    assert api.get("/v1/runs/", params={"limit": 1000}).json() == before


def test_a_failed_model_call_answers_with_the_run_its_stop_reason_and_the_error(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.error(400, "The model refused the request", should_retry=False))

    response = api.post(f"/v1/agents/{agent['id']}/messages", json={"messages": USER})

    assert response.status_code == 502, response.text
    assert response.headers["x-should-retry"] == "false"
    body = response.json()
    assert body["error"]["type"] == "llm_error"
    assert "The model refused the request" in body["error"]["detail"]
    assert body["detail"] == body["error"]["detail"]
    assert body["stop_reason"] == {"message_type": "stop_reason", "stop_reason": "llm_api_error"}
    assert body["messages"] == [] and body["usage"]["step_count"] == 0
    run = api.get(f"/v1/runs/{body['run_id']}").json()
    assert (run["agent_id"], run["status"], run["stop_reason"]) == (
        agent["id"],
        "failed",
        "llm_api_error",
    )
    assert run["metadata"]["error"] == body["detail"]
    assert run["completed_at"] is not None
