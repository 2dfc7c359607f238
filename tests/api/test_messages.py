"""The step loop over HTTP: the model's tool calls run, their results go back to the model,
errors never end the run, and what the user sees (responses, history, memory) is right."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, core_memory, message_count
from tests.fakes import FakeLLM, Reply, reply
from tests.helpers import history, send

LETTA_MESSAGE_BASE = {
    "id", "date", "name", "message_type", "otid", "sender_id", "step_id", "is_err", "seq_id",
    "run_id",
}  # fmt: skip


def send_failing(api: httpx.Client, agent_id: str, text: str) -> dict[str, Any]:
    """A turn whose model call fails: a 502 with Letta's error object, the run and what the
    turn committed before it failed, never retried by the client."""
    response = api.post(
        f"/v1/agents/{agent_id}/messages", json={"messages": [{"role": "user", "content": text}]}
    )
    assert response.status_code == 502, response.text
    assert response.headers["x-should-retry"] == "false"
    body = response.json()
    assert body["error"]["type"] == "llm_error" and body["error"]["detail"] == body["detail"]
    run = api.get(f"/v1/runs/{body['run_id']}").json()
    assert (run["status"], run["stop_reason"]) == ("failed", "llm_api_error")
    assert run["metadata"]["error"] == body["detail"]
    return body


def types(body: dict[str, Any]) -> list[str]:
    return [message["message_type"] for message in body["messages"]]


def of_type(body: dict[str, Any], message_type: str) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["message_type"] == message_type]


@pytest.fixture
def agent(make_agent: AgentFactory) -> dict[str, Any]:
    return make_agent(
        memory_blocks=[
            {"label": "persona", "value": "I am a helpful test agent."},
            {"label": "human", "value": "Name: Ada", "limit": 200},
        ]
    )


# --------------------------------------------------------------------------- a tool, then an answer


def test_tool_call_then_answer_returns_call_result_and_answer(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Likes green tea."}),
        reply.text("Noted, you like green tea."),
    )

    body = send(api, agent["id"], "I like green tea.")

    assert types(body) == ["tool_call_message", "tool_return_message", "assistant_message"]
    call, result, answer = body["messages"]
    for message in body["messages"]:
        assert set(message) >= LETTA_MESSAGE_BASE
        assert message["run_id"] and message["run_id"].startswith("run-")
    assert call["tool_call"]["name"] == "core_memory_append"
    assert json.loads(call["tool_call"]["arguments"]) == {
        "label": "human",
        "content": "Likes green tea.",
    }
    assert result["status"] == "success"
    assert result["tool_call_id"] == call["tool_call"]["tool_call_id"]
    assert answer["content"] == "Noted, you like green tea."
    assert body["stop_reason"] == {"message_type": "stop_reason", "stop_reason": "end_turn"}
    usage = body["usage"]
    assert usage["message_type"] == "usage_statistics"
    assert usage["step_count"] == 2
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_tool_call_changes_the_block_and_the_model_sees_the_change(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Likes green tea."}),
        reply.text("Noted."),
    )

    send(api, agent["id"], "I like green tea.")

    assert core_memory(api, agent["id"])["human"] == "Name: Ada\nLikes green tea."
    first, second = fake_llm.chat_requests
    assert "Likes green tea." not in first.system_text
    assert "Likes green tea." in second.system_text
    assert second.last_role == "tool"
    assert "core_memory_append" in first.tool_names


def test_user_message_and_whole_exchange_are_stored_in_order(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "x"}),
        reply.text("Done."),
    )

    body = send(api, agent["id"], "please remember x")

    stored = history(api, agent["id"], order="asc")
    assert [m["message_type"] for m in stored] == [
        "user_message",
        "tool_call_message",
        "tool_return_message",
        "assistant_message",
    ]
    assert stored[0]["content"] == "please remember x"
    assert [m["id"] for m in stored[1:]] == [m["id"] for m in body["messages"]]


def test_run_of_a_turn_is_completed_with_its_steps(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "x"}),
        reply.text("Done."),
    )
    body = send(api, agent["id"], "remember x")
    run_id = body["messages"][0]["run_id"]

    run = api.get(f"/v1/runs/{run_id}").json()
    steps = api.get(f"/v1/runs/{run_id}/steps").json()

    assert run["status"] == "completed"
    assert run["stop_reason"] == "end_turn"
    assert run["agent_id"] == agent["id"]
    assert len(steps) == 2
    agent_now = api.get(f"/v1/agents/{agent['id']}").json()
    assert agent_now["last_stop_reason"] == "end_turn"


def test_input_shortcut_and_content_parts_are_accepted(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("first"), reply.text("second"))

    by_input = api.post(f"/v1/agents/{agent['id']}/messages", json={"input": "hello there"})
    by_parts = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": [{"type": "text", "text": "in parts"}]}]},
    )

    assert by_input.status_code == 200 and by_parts.status_code == 200
    assert fake_llm.chat_requests[0].last_user_text == "hello there"
    assert fake_llm.chat_requests[1].last_user_text == "in parts"


def test_plain_answer_is_one_step(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("Just an answer."))

    body = send(api, agent["id"], "hi")

    assert types(body) == ["assistant_message"]
    assert body["messages"][0]["content"] == "Just an answer."
    assert body["usage"]["step_count"] == 1
    assert len(fake_llm.chat_requests) == 1


def test_reasoning_is_returned_as_a_reasoning_message(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("Answer.", reasoning="Let me think."))

    body = send(api, agent["id"], "hi")

    assert types(body) == ["reasoning_message", "assistant_message"]
    assert body["messages"][0]["reasoning"] == "Let me think."


# --------------------------------------------------------------------------- tool errors


TOOL_ERRORS: list[tuple[str, Reply, str]] = [
    ("unknown-tool", reply.tool_call("teleport", {"where": "mars"}), "teleport"),
    (
        "invalid-json",
        reply.raw_arguments('{"label": "human", "content": ', name="core_memory_append"),
        "JSON",
    ),
    (
        "missing-argument",
        reply.tool_call("core_memory_append", {"label": "human"}),
        "content",
    ),
    (
        "over-limit",
        reply.tool_call("core_memory_append", {"label": "human", "content": "x" * 300}),
        "200",
    ),
    (
        "read-only",
        reply.tool_call("core_memory_append", {"label": "rules", "content": "break them"}),
        "read-only",
    ),
    (
        "unknown-label",
        reply.tool_call("core_memory_append", {"label": "nope", "content": "x"}),
        "nope",
    ),
    (
        "unexpected-argument",
        reply.tool_call("core_memory_append", {"label": "human", "content": "x", "colour": 1}),
        "colour",
    ),
    (
        "replace-missing-text",
        reply.tool_call(
            "memory_replace", {"label": "human", "old_str": "Grace", "new_str": "Lovelace"}
        ),
        "does not appear",
    ),
]


@pytest.mark.parametrize(
    ("failing_call", "mentioned"),
    [(call, mentioned) for _, call, mentioned in TOOL_ERRORS],
    ids=[name for name, _, _ in TOOL_ERRORS],
)
def test_tool_error_goes_back_to_the_model_and_the_run_continues(
    api: httpx.Client,
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    failing_call: Reply,
    mentioned: str,
) -> None:
    agent = make_agent(
        memory_blocks=[
            {"label": "human", "value": "Name: Ada", "limit": 200},
            {"label": "rules", "value": "Be kind.", "read_only": True},
        ]
    )
    fake_llm.script(failing_call, reply.text("Sorry, that did not work; carrying on."))

    body = send(api, agent["id"], "do the thing")

    assert types(body) == ["tool_call_message", "tool_return_message", "assistant_message"]
    returned = body["messages"][1]
    assert returned["status"] == "error"
    assert mentioned in returned["tool_return"]
    assert body["messages"][2]["content"] == "Sorry, that did not work; carrying on."
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    assert body["usage"]["step_count"] == 2
    second = fake_llm.chat_requests[1]
    assert second.last_role == "tool"
    assert second.tool_results[-1] == returned["tool_return"]
    assert core_memory(api, agent["id"]) == {"human": "Name: Ada", "rules": "Be kind."}
    stored = history(api, agent["id"], order="asc")
    assert [m["message_type"] for m in stored][-2:] == ["tool_return_message", "assistant_message"]
    assert stored[-2]["status"] == "error"


def test_one_failing_call_among_parallel_calls_does_not_undo_the_other(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_calls(
            [
                ("core_memory_append", {"label": "human", "content": "Likes jazz."}),
                ("teleport", {}),
            ]
        ),
        reply.text("One of two worked."),
    )

    body = send(api, agent["id"], "two things")

    returns = of_type(body, "tool_return_message")
    assert [r["status"] for r in returns] == ["success", "error"]
    assert core_memory(api, agent["id"])["human"] == "Name: Ada\nLikes jazz."
    assert len(fake_llm.chat_requests[1].tool_results) == 2
    assert body["stop_reason"]["stop_reason"] == "end_turn"


# --------------------------------------------------------------------------- memgpt_v2_agent


@pytest.fixture
def v2_agent(make_agent: AgentFactory) -> dict[str, Any]:
    return make_agent(
        agent_type="memgpt_v2_agent",
        memory_blocks=[{"label": "human", "value": "Name: Ada", "limit": 200}],
    )


def test_memgpt_v2_answer_via_send_message_is_an_assistant_message(
    api: httpx.Client, fake_llm: FakeLLM, v2_agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.tool_call("send_message", {"message": "Hello from v2!"}))

    body = send(api, v2_agent["id"], "hi")

    assert types(body) == ["assistant_message"]
    assert body["messages"][0]["content"] == "Hello from v2!"
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    assert body["usage"]["step_count"] == 1
    assert len(fake_llm.chat_requests) == 1
    request = fake_llm.chat_requests[0]
    assert "send_message" in request.tool_names
    append_schema = request.tool_schema("core_memory_append") or {}
    assert "request_heartbeat" in append_schema.get("properties", {})


def test_memgpt_v2_heartbeat_on_a_memory_tool_chains_another_step(
    api: httpx.Client, fake_llm: FakeLLM, v2_agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call(
            "core_memory_append",
            {"label": "human", "content": "Plays chess.", "request_heartbeat": True},
        ),
        reply.tool_call("send_message", {"message": "I'll remember you play chess."}),
    )

    body = send(api, v2_agent["id"], "I play chess")

    assert types(body) == ["tool_call_message", "tool_return_message", "assistant_message"]
    assert body["messages"][1]["status"] == "success"
    assert body["messages"][2]["content"] == "I'll remember you play chess."
    assert body["usage"]["step_count"] == 2
    assert len(fake_llm.chat_requests) == 2
    assert core_memory(api, v2_agent["id"])["human"] == "Name: Ada\nPlays chess."


def test_memgpt_v2_memory_tool_without_heartbeat_ends_the_turn(
    api: httpx.Client, fake_llm: FakeLLM, v2_agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call(
            "core_memory_append",
            {"label": "human", "content": "Plays go.", "request_heartbeat": False},
        ),
        reply.tool_call("send_message", {"message": "should never be asked for"}),
    )

    body = send(api, v2_agent["id"], "I play go")

    assert types(body) == ["tool_call_message", "tool_return_message"]
    assert body["usage"]["step_count"] == 1
    assert len(fake_llm.chat_requests) == 1
    assert core_memory(api, v2_agent["id"])["human"] == "Name: Ada\nPlays go."


def test_memgpt_v2_failed_tool_gets_another_step_without_asking(
    api: httpx.Client, fake_llm: FakeLLM, v2_agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "missing", "content": "x"}),
        reply.tool_call("send_message", {"message": "Recovered."}),
    )

    body = send(api, v2_agent["id"], "go")

    assert types(body) == ["tool_call_message", "tool_return_message", "assistant_message"]
    assert body["messages"][1]["status"] == "error"
    assert body["messages"][2]["content"] == "Recovered."
    assert "missing" in fake_llm.chat_requests[1].tool_results[-1]


def test_memgpt_v2_send_message_history_reads_as_an_assistant_message(
    api: httpx.Client, fake_llm: FakeLLM, v2_agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.tool_call("send_message", {"message": "Stored answer."}))
    send(api, v2_agent["id"], "hi")

    stored = history(api, v2_agent["id"], order="asc")

    assert [m["message_type"] for m in stored] == ["user_message", "assistant_message"]
    assert stored[1]["content"] == "Stored answer."


def test_memgpt_v2_plain_text_answer_ends_the_turn_as_an_assistant_message(
    api: httpx.Client, fake_llm: FakeLLM, v2_agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("No tool needed."))

    body = send(api, v2_agent["id"], "hi")

    assert types(body) == ["assistant_message"]
    assert body["messages"][0]["content"] == "No tool needed."
    assert body["stop_reason"]["stop_reason"] == "end_turn"


def test_memgpt_v2_send_message_without_its_message_shows_an_error_the_model_can_fix(
    api: httpx.Client, fake_llm: FakeLLM, v2_agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("send_message", {}),
        reply.tool_call("send_message", {"message": "Fixed it."}),
    )

    body = send(api, v2_agent["id"], "hi")

    assert types(body) == ["tool_call_message", "tool_return_message", "assistant_message"]
    assert body["messages"][1]["status"] == "error"
    assert body["messages"][-1]["content"] == "Fixed it."
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    assert "message" in fake_llm.chat_requests[1].tool_results[-1]
    assert len(fake_llm.chat_requests) == 2


# --------------------------------------------------------------------------- max_steps


def test_max_steps_stops_the_loop_with_stop_reason_max_steps(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("conversation_search", {"query": "one"}),
        reply.tool_call("conversation_search", {"query": "two"}),
        reply.tool_call("conversation_search", {"query": "three"}),
    )

    body = send(api, agent["id"], "search a lot", max_steps=2)

    assert body["stop_reason"]["stop_reason"] == "max_steps"
    assert body["usage"]["step_count"] == 2
    assert len(fake_llm.chat_requests) == 2
    assert types(body) == ["tool_call_message", "tool_return_message"] * 2
    assert api.get(f"/v1/agents/{agent['id']}").json()["last_stop_reason"] == "max_steps"


def test_a_turn_that_ends_on_its_last_allowed_step_is_end_turn(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.text("Done in one."))

    body = send(api, agent["id"], "quick", max_steps=1)

    assert body["stop_reason"]["stop_reason"] == "end_turn"


def test_agent_answers_normally_after_a_max_steps_stop(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.tool_call("conversation_search", {"query": "one"}))
    send(api, agent["id"], "search", max_steps=1)
    fake_llm.script(reply.text("Back to normal."))

    body = send(api, agent["id"], "hello again")

    assert body["stop_reason"]["stop_reason"] == "end_turn"
    assert body["messages"][-1]["content"] == "Back to normal."


# --------------------------------------------------------------------------- provider failure


def test_provider_failure_stops_with_llm_api_error_and_stores_nothing(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    before = message_count(api, agent["id"])
    fake_llm.script(reply.error(500, "the model is on fire", should_retry=False))

    body = send_failing(api, agent["id"], "are you there?")

    assert body["stop_reason"]["stop_reason"] == "llm_api_error"
    assert "the model is on fire" in body["detail"]
    assert body["messages"] == []
    assert message_count(api, agent["id"]) == before
    assert len(fake_llm.chat_requests) == 1
    assert api.get(f"/v1/agents/{agent['id']}").json()["last_stop_reason"] == "llm_api_error"


def test_provider_failure_after_the_sdk_retries_stops_with_llm_api_error(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    before = message_count(api, agent["id"])
    fake_llm.script(*[reply.error(500, "still broken", retry_after=0.01) for _ in range(3)])

    body = send_failing(api, agent["id"], "hello?")

    assert body["stop_reason"]["stop_reason"] == "llm_api_error"
    assert len(fake_llm.chat_requests) == 3
    assert message_count(api, agent["id"]) == before


def test_provider_failure_mid_turn_keeps_the_committed_steps(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "human", "content": "Kept."}),
        reply.error(400, "bad request on step two"),
    )

    body = send_failing(api, agent["id"], "remember and answer")

    assert body["stop_reason"]["stop_reason"] == "llm_api_error"
    assert "bad request on step two" in body["detail"]
    assert types(body) == ["tool_call_message", "tool_return_message"]
    assert {m["run_id"] for m in body["messages"]} == {body["run_id"]}
    assert core_memory(api, agent["id"])["human"] == "Name: Ada\nKept."
    stored = [m["message_type"] for m in history(api, agent["id"], order="asc")]
    assert stored == ["user_message", "tool_call_message", "tool_return_message"]


def test_agent_recovers_after_a_provider_failure(
    api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]
) -> None:
    fake_llm.script(reply.error(503, "overloaded", should_retry=False), reply.text("I'm back."))

    failed = send_failing(api, agent["id"], "first try")
    body = send(api, agent["id"], "second try")

    assert failed["stop_reason"]["stop_reason"] == "llm_api_error"
    assert body["stop_reason"]["stop_reason"] == "end_turn"
    assert body["messages"][-1]["content"] == "I'm back."
    assert fake_llm.chat_requests[1].user_texts == ["second try"]


# --------------------------------------------------------------------------- listing history


@pytest.fixture
def chatted(api: httpx.Client, fake_llm: FakeLLM, agent: dict[str, Any]) -> list[str]:
    """Three exchanges; returns the six stored message ids oldest first."""
    fake_llm.script(reply.text("answer one"), reply.text("answer two"), reply.text("answer three"))
    for text in ("question one", "question two", "question three"):
        send(api, agent["id"], text)
    stored = history(api, agent["id"], order="asc")
    assert [m["message_type"] for m in stored] == ["user_message", "assistant_message"] * 3
    return [m["id"] for m in stored]


def test_history_ascending_reads_like_the_conversation(
    api: httpx.Client, agent: dict[str, Any], chatted: list[str]
) -> None:
    stored = history(api, agent["id"], order="asc")

    assert [m.get("content") for m in stored] == [
        "question one",
        "answer one",
        "question two",
        "answer two",
        "question three",
        "answer three",
    ]


def test_history_defaults_to_newest_first(
    api: httpx.Client, agent: dict[str, Any], chatted: list[str]
) -> None:
    assert [m["id"] for m in history(api, agent["id"])] == chatted[::-1]
    assert [m["id"] for m in history(api, agent["id"], order="desc")] == chatted[::-1]


def test_history_limit_takes_from_the_front_of_the_order(
    api: httpx.Client, agent: dict[str, Any], chatted: list[str]
) -> None:
    assert [m["id"] for m in history(api, agent["id"], order="asc", limit=2)] == chatted[:2]
    assert [m["id"] for m in history(api, agent["id"], order="desc", limit=2)] == chatted[:-3:-1]


def test_history_after_cursor_gives_newer_messages(
    api: httpx.Client, agent: dict[str, Any], chatted: list[str]
) -> None:
    page = history(api, agent["id"], order="asc", after=chatted[1], limit=2)

    assert [m["id"] for m in page] == chatted[2:4]


def test_history_after_cursor_in_newest_first_order_gives_older_messages(
    api: httpx.Client, agent: dict[str, Any], chatted: list[str]
) -> None:
    # Cursors follow the listing's order: after a message, newest first, means older.
    page = history(api, agent["id"], order="desc", after=chatted[4], limit=3)

    assert [m["id"] for m in page] == [chatted[3], chatted[2], chatted[1]]


def test_history_before_cursor_in_newest_first_order_gives_newer_messages(
    api: httpx.Client, agent: dict[str, Any], chatted: list[str]
) -> None:
    page = history(api, agent["id"], order="desc", before=chatted[1])

    assert [m["id"] for m in page] == chatted[:1:-1]


def test_history_between_two_cursors(
    api: httpx.Client, agent: dict[str, Any], chatted: list[str]
) -> None:
    page = history(api, agent["id"], order="asc", after=chatted[0], before=chatted[5])

    assert [m["id"] for m in page] == chatted[1:5]


def test_paging_backwards_through_history_visits_every_message_once(
    api: httpx.Client, agent: dict[str, Any], chatted: list[str]
) -> None:
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"order": "desc", "limit": 4}
        if after:
            params["after"] = after
        page = history(api, agent["id"], **params)
        if not page:
            break
        seen.extend(m["id"] for m in page)
        after = page[-1]["id"]

    assert seen == chatted[::-1]
