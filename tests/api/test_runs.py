"""Runs and steps: background runs polled to their end, cancellation between steps, and the
runs/steps API (filters, cursors, usage, shapes) as letta-client reads it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.api.conftest import MODEL, AgentFactory
from tests.api.test_streaming import kinds, parse_sse, wait_for_run
from tests.fakes import FakeLLM, reply
from tests.support.server import EngramServer

RUN_KEYS = {
    "id", "agent_id", "status", "stop_reason", "background", "created_at", "completed_at",
    "conversation_id", "base_template_id", "metadata", "request_config", "callback_url",
    "callback_sent_at", "callback_status_code", "callback_error", "ttft_ns", "total_duration_ns",
}  # fmt: skip
STEP_KEYS = {
    "id", "origin", "organization_id", "provider_id", "run_id", "agent_id", "provider_name",
    "provider_category", "model", "model_handle", "model_endpoint", "context_window_limit",
    "completion_tokens", "prompt_tokens", "total_tokens", "cached_input_tokens",
    "cache_write_tokens", "reasoning_tokens", "completion_tokens_details",
    "prompt_tokens_details", "stop_reason", "tags", "tid", "trace_id", "request_id", "messages",
    "feedback", "project_id", "error_type", "error_data", "status",
}  # fmt: skip
USER = [{"role": "user", "content": "remember: my dog is Rex"}]


@pytest.fixture
def agent(make_agent: AgentFactory) -> dict[str, Any]:
    return make_agent(memory_blocks=[{"label": "human", "value": "Name: Ada", "limit": 500}])


def memory_then_answer(**answer_options: Any) -> tuple[Any, Any]:
    return (
        reply.tool_call("core_memory_append", {"label": "human", "content": "Has a dog, Rex."}),
        reply.text("Noted: your dog is Rex.", **answer_options),
    )


def send(api: httpx.Client, agent_id: str) -> dict[str, Any]:
    response = api.post(f"/v1/agents/{agent_id}/messages", json={"messages": USER})
    assert response.status_code == 200, response.text
    return response.json()


def send_async(api: httpx.Client, agent_id: str) -> dict[str, Any]:
    response = api.post(f"/v1/agents/{agent_id}/messages/async", json={"messages": USER})
    assert response.status_code == 200, response.text
    return response.json()


def run_of(body: dict[str, Any]) -> str:
    return str(body["messages"][0]["run_id"])


def get_list(api: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


# --------------------------------------------------------------------------- background runs


def test_async_send_answers_a_created_run_at_once_that_polls_to_completed(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(*memory_then_answer(delay=0.5))

    run = send_async(api, agent["id"])

    assert set(run) >= RUN_KEYS
    assert run["status"] in ("created", "running") and run["completed_at"] is None
    assert (run["agent_id"], run["background"]) == (agent["id"], True)
    assert run["request_config"]["use_assistant_message"] is True
    finished = wait_for_run(api, run["id"])
    assert (finished["status"], finished["stop_reason"]) == ("completed", "end_turn")
    assert finished["total_duration_ns"] > 0 and finished["ttft_ns"] > 0
    messages = get_list(api, f"/v1/runs/{run['id']}/messages")
    assert [m["message_type"] for m in messages] == [
        "user_message",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
    ]
    assert messages[-1]["content"] == "Noted: your dog is Rex."
    assert api.get(f"/v1/agents/{agent['id']}").json()["last_stop_reason"] == "end_turn"


def test_async_send_reports_a_run_that_is_running_while_its_step_is_slow(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("Slow answer.", delay=1.0))

    run = send_async(api, agent["id"])
    fake_llm.wait_for_requests(1)

    assert api.get(f"/v1/runs/{run['id']}").json()["status"] == "running"
    active = get_list(api, "/v1/runs/", agent_id=agent["id"], active=True)
    assert [r["id"] for r in active] == [run["id"]]
    assert wait_for_run(api, run["id"])["status"] == "completed"


def test_async_send_whose_model_fails_ends_failed_with_the_error(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.error(400, "bad request from the fake"))

    run = wait_for_run(api, send_async(api, agent["id"])["id"])

    assert (run["status"], run["stop_reason"]) == ("failed", "llm_api_error")
    assert "bad request from the fake" in run["metadata"]["error"]


def test_async_send_checks_its_input_and_agent_before_recording_a_run(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    before = get_list(api, "/v1/runs/", limit=1000)
    missing = "agent-00000000-0000-4000-8000-000000000000"

    unknown = api.post(f"/v1/agents/{missing}/messages/async", json={"messages": USER})
    empty = api.post(f"/v1/agents/{agent['id']}/messages/async", json={})

    assert unknown.status_code == 404 and missing in unknown.json()["detail"]
    assert empty.status_code == 422 and "messages" in empty.json()["detail"]
    assert get_list(api, "/v1/runs/", limit=1000) == before


# --------------------------------------------------------------------------- cancellation


def test_cancel_between_steps_stops_the_run_with_no_further_model_calls(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Has a dog."}),
        reply.tool_call(
            "core_memory_append", {"label": "human", "content": "Named Rex."}, delay=1.0
        ),
        reply.text("never asked for"),
    )
    run = send_async(api, agent["id"])
    fake_llm.wait_for_requests(2)  # the second step's model call is under way

    response = api.post(f"/v1/agents/{agent['id']}/messages/cancel", json={})

    assert response.status_code == 200, response.text
    assert response.json() == {run["id"]: "cancelled"}
    finished = wait_for_run(api, run["id"])
    assert (finished["status"], finished["stop_reason"]) == ("cancelled", "cancelled")
    time.sleep(0.3)
    assert len(fake_llm.chat_requests) == 2
    # The step under way when the cancel came committed whole; none began after it.
    steps = get_list(api, f"/v1/runs/{run['id']}/steps")
    assert len(steps) == 2
    human = api.get(f"/v1/agents/{agent['id']}/core-memory/blocks/human").json()["value"]
    assert "Has a dog." in human and "Named Rex." in human
    assert api.get(f"/v1/agents/{agent['id']}").json()["last_stop_reason"] == "cancelled"


def test_cancelling_a_streamed_run_ends_its_stream_with_stop_reason_cancelled(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Has a dog."}),
        reply.text("An answer the run keeps, though cancelled.", delay=1.0),
    )
    body = {"messages": USER, "include_pings": True}
    events: list[Any] = []
    with api.stream("POST", f"/v1/agents/{agent['id']}/messages/stream", json=body) as response:
        for line in response.iter_lines():
            events += parse_sse([line])
            if kinds(events)[-1:] == ["tool_return_message"]:
                run_id = events[0]["run_id"]
                fake_llm.wait_for_requests(2, timeout=20)  # the second step's call is out
                cancel = api.post(
                    f"/v1/agents/{agent['id']}/messages/cancel", json={"run_ids": [run_id]}
                )
                assert cancel.json() == {run_id: "cancelled"}

    # The last step was already calling the model: it commits, the run stays cancelled.
    assert kinds(events)[-4:] == ["assistant_message", "stop_reason", "usage_statistics", "[DONE]"]
    assert events[-3] == {"message_type": "stop_reason", "stop_reason": "cancelled"}
    run = wait_for_run(api, events[0]["run_id"])
    assert (run["status"], run["stop_reason"]) == ("cancelled", "cancelled")


def test_cancel_leaves_finished_runs_as_they_are(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("Done."))
    run_id = run_of(send(api, agent["id"]))

    named = api.post(f"/v1/agents/{agent['id']}/messages/cancel", json={"run_ids": [run_id]})
    active = api.post(f"/v1/agents/{agent['id']}/messages/cancel")

    assert named.json() == {run_id: "completed"}
    assert active.status_code == 200 and active.json() == {}
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "completed"


def test_cancel_with_an_unknown_run_or_agent_is_a_404_and_cancels_nothing(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any], make_agent: AgentFactory
) -> None:
    fake_llm.script(reply.text("Slow.", delay=1.0))
    run = send_async(api, agent["id"])
    other = make_agent()
    missing_run = "run-00000000-0000-4000-8000-000000000000"

    unknown_run = api.post(
        f"/v1/agents/{agent['id']}/messages/cancel", json={"run_ids": [run["id"], missing_run]}
    )
    foreign_run = api.post(
        f"/v1/agents/{other['id']}/messages/cancel", json={"run_ids": [run["id"]]}
    )
    unknown_agent = api.post(
        "/v1/agents/agent-00000000-0000-4000-8000-000000000000/messages/cancel", json={}
    )
    bad_body = api.post(f"/v1/agents/{agent['id']}/messages/cancel", json={"run_ids": "x"})

    assert unknown_run.status_code == 404 and missing_run in unknown_run.json()["detail"]
    assert foreign_run.status_code == 404 and run["id"] in foreign_run.json()["detail"]
    assert unknown_agent.status_code == 404
    assert bad_body.status_code == 422
    assert wait_for_run(api, run["id"])["status"] == "completed"


# --------------------------------------------------------------------------- listing runs


def test_runs_list_filters_by_agent_status_background_and_stop_reason(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    first, second = make_agent(), make_agent()
    fake_llm.script(reply.text("one"), reply.error(400, "no"))
    done = run_of(send(api, first["id"]))
    failed = wait_for_run(api, send_async(api, first["id"])["id"])["id"]
    fake_llm.script(reply.text("three"))
    other = run_of(send(api, second["id"]))

    def ids(**params: Any) -> list[str]:
        return [run["id"] for run in get_list(api, "/v1/runs/", **params)]

    both = [first["id"], second["id"]]
    assert ids(agent_id=first["id"]) == [failed, done]  # newest first
    assert ids(agent_id=first["id"], order="asc") == [done, failed]
    assert ids(agent_id=first["id"], ascending=True) == [done, failed]
    assert ids(agent_ids=both, statuses=["completed"], order="asc") == [done, other]
    assert ids(agent_ids=both, statuses=["failed", "cancelled"]) == [failed]
    assert ids(agent_ids=both, background=True) == [failed]
    assert ids(agent_ids=both, background=False, order="asc") == [done, other]
    assert ids(agent_ids=both, stop_reason="llm_api_error") == [failed]
    assert ids(agent_ids=both, active=True) == []
    assert ids(agent_id=first["id"], conversation_id="conv-1") == []
    for run in get_list(api, "/v1/runs/", agent_ids=both):
        assert set(run) >= RUN_KEYS


def test_runs_list_pages_with_cursors(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("a"), reply.text("b"), reply.text("c"))
    runs = [run_of(send(api, agent["id"])) for _ in range(3)]

    def ids(**params: Any) -> list[str]:
        return [r["id"] for r in get_list(api, "/v1/runs/", agent_id=agent["id"], **params)]

    assert ids(order="asc", limit=2) == runs[:2]
    assert ids(order="asc", after=runs[1]) == runs[2:]
    assert ids(order="asc", before=runs[1]) == runs[:1]
    assert ids(order="desc", after=runs[1]) == runs[:1]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"statuses": ["finished"]}, "statuses"),
        ({"stop_reason": "tired"}, "stop_reason"),
        ({"order": "sideways"}, "order"),
        ({"limit": 0}, "limit"),
    ],
)
def test_runs_list_refuses_bad_filters_naming_the_field(
    api: httpx.Client, params: dict[str, Any], field: str
) -> None:
    response = api.get("/v1/runs/", params=params)
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])


def test_runs_list_with_an_unknown_cursor_is_a_404(api: httpx.Client) -> None:
    response = api.get("/v1/runs/", params={"after": "run-00000000-0000-4000-8000-000000000000"})
    assert response.status_code == 404


# --------------------------------------------------------------------------- one run


def test_run_usage_adds_up_its_steps_and_matches_the_send_response(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(*memory_then_answer())
    body = send(api, agent["id"])

    usage = api.get(f"/v1/runs/{run_of(body)}/usage").json()
    steps = get_list(api, f"/v1/runs/{run_of(body)}/steps")

    assert usage["prompt_tokens"] == body["usage"]["prompt_tokens"] > 0
    assert usage["completion_tokens"] == body["usage"]["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] == sum(step["prompt_tokens"] for step in steps)
    assert usage["completion_tokens"] == sum(step["completion_tokens"] for step in steps)


def test_run_steps_show_each_model_call_in_letta_step_shape(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(*memory_then_answer())
    body = send(api, agent["id"])
    run_id = run_of(body)

    steps = get_list(api, f"/v1/runs/{run_id}/steps")

    assert len(steps) == 2
    for step in steps:
        assert set(step) >= STEP_KEYS
        assert (step["run_id"], step["agent_id"], step["status"]) == (
            run_id,
            agent["id"],
            "success",
        )
        assert step["total_tokens"] == step["prompt_tokens"] + step["completion_tokens"]
    # Only the step that ended the turn has a stop reason.
    assert [step["stop_reason"] for step in steps] == [None, "end_turn"]
    assert [s["id"] for s in get_list(api, f"/v1/runs/{run_id}/steps", order="desc")] == [
        steps[1]["id"],
        steps[0]["id"],
    ]
    assert api.get(f"/v1/steps/{steps[0]['id']}").json() == steps[0]
    first = get_list(api, f"/v1/steps/{steps[0]['id']}/messages")
    assert [m["message_type"] for m in first] == [
        "user_message",
        "tool_call_message",
        "tool_return_message",
    ]
    second = get_list(api, f"/v1/steps/{steps[1]['id']}/messages")
    assert [m["message_type"] for m in second] == ["assistant_message"]
    assert {m["step_id"] for m in first} == {steps[0]["id"]}


def test_run_messages_page_with_cursors(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(*memory_then_answer())
    run_id = run_of(send(api, agent["id"]))
    everything = get_list(api, f"/v1/runs/{run_id}/messages")

    after_first = get_list(api, f"/v1/runs/{run_id}/messages", after=everything[0]["id"])
    newest = get_list(api, f"/v1/runs/{run_id}/messages", order="desc", limit=1)

    assert after_first == everything[1:]
    assert newest == everything[-1:]


def test_steps_list_filters_by_agent_model_and_dates(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    first, second = make_agent(), make_agent()
    fake_llm.script(*memory_then_answer(), reply.text("other"))
    send(api, first["id"])
    send(api, second["id"])

    mine = get_list(api, "/v1/steps/", agent_id=first["id"])
    theirs = get_list(api, "/v1/steps/", agent_id=second["id"], model="gpt-4o-mini")

    assert len(mine) == 2 and mine[0]["created_at"] > mine[1]["created_at"]  # newest first
    assert len(theirs) == 1 and theirs[0]["agent_id"] == second["id"]
    assert get_list(api, "/v1/steps/", agent_id=first["id"], model="no-such-model") == []
    assert get_list(api, "/v1/steps/", agent_id=first["id"], start_date="2999-01-01") == []
    assert len(get_list(api, "/v1/steps/", agent_id=first["id"], end_date="2999-01-01")) == 2
    assert get_list(api, "/v1/steps/", agent_id=first["id"], has_feedback=True) == []
    bad = api.get("/v1/steps/", params={"start_date": "yesterday"})
    assert bad.status_code == 422 and "start_date" in bad.json()["detail"]


def test_unknown_runs_and_steps_are_404s_naming_the_id(api: httpx.Client) -> None:
    run_id = "run-00000000-0000-4000-8000-000000000000"
    step_id = "step-00000000-0000-4000-8000-000000000000"
    for path in (
        f"/v1/runs/{run_id}",
        f"/v1/runs/{run_id}/messages",
        f"/v1/runs/{run_id}/steps",
        f"/v1/runs/{run_id}/usage",
        f"/v1/steps/{step_id}",
        f"/v1/steps/{step_id}/messages",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert run_id in response.json()["detail"] or step_id in response.json()["detail"]
    assert api.delete(f"/v1/runs/{run_id}").status_code == 404


def test_deleting_a_run_forgets_it_and_its_steps_but_keeps_the_history(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(*memory_then_answer())
    run_id = run_of(send(api, agent["id"]))
    step_ids = [step["id"] for step in get_list(api, f"/v1/runs/{run_id}/steps")]
    history = get_list(api, f"/v1/agents/{agent['id']}/messages")

    response = api.delete(f"/v1/runs/{run_id}")

    assert response.status_code == 200 and response.json()["id"] == run_id
    assert api.get(f"/v1/runs/{run_id}").status_code == 404
    assert all(api.get(f"/v1/steps/{step_id}").status_code == 404 for step_id in step_ids)
    assert get_list(api, f"/v1/agents/{agent['id']}/messages") == history


def test_deleting_a_run_still_going_is_a_409_and_leaves_it_running(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("Slow.", delay=1.0))
    run = send_async(api, agent["id"])
    fake_llm.wait_for_requests(1)

    response = api.delete(f"/v1/runs/{run['id']}")

    assert response.status_code == 409 and "cancel" in response.json()["detail"]
    assert wait_for_run(api, run["id"])["status"] == "completed"


# --------------------------------------------------------------------------- the window


def test_reset_messages_empties_the_window_the_next_step_sees(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("First answer."), reply.text("Second answer."))
    api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": "first question"}]},
    )

    reset = api.patch(f"/v1/agents/{agent['id']}/reset-messages", json={})
    api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": "second question"}]},
    )

    assert reset.status_code == 200, reset.text
    prompt = fake_llm.chat_requests[-1]
    assert prompt.user_texts[-1] == "second question"
    assert "first question" not in prompt.all_text and "First answer." not in prompt.all_text
    # Reset only moves the window: recall still holds every message.
    history = get_list(api, f"/v1/agents/{agent['id']}/messages", order="asc")
    assert [m.get("content") for m in history[-4:]] == [
        "first question",
        "First answer.",
        "second question",
        "Second answer.",
    ]


# --------------------------------------------------------------------------- shutdown


@pytest.mark.slow
def test_stopping_the_server_mid_run_records_the_run_as_cancelled(
    fresh_server: EngramServer, fake_llm: FakeLLM
) -> None:
    fresh_server.start()
    with fresh_server.client() as client:
        agent = client.post("/v1/agents/", json={"model": MODEL}).json()
        fake_llm.script(reply.text("Too slow to finish.", delay=5.0))
        run = send_async(client, agent["id"])
        fake_llm.wait_for_requests(1)

    fresh_server.stop()  # SIGTERM: a graceful shutdown
    fresh_server.start()

    with fresh_server.client() as client:
        stopped = client.get(f"/v1/runs/{run['id']}").json()
        assert (stopped["status"], stopped["stop_reason"]) == ("cancelled", "cancelled")
        assert stopped["completed_at"] is not None
        assert get_list(client, f"/v1/runs/{run['id']}/steps") == []
