"""Letta's per-request turn options: each is honoured for its request only (the agent does
not change), or refused with a 422 naming it before anything runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, error_fields, message_count
from tests.fakes import FakeLLM, reply
from tests.support.inprocess import InProcessServer

TURN_ROUTES = ["messages", "messages/stream"]


def send(api: httpx.Client, agent_id: str, route: str, **body: Any) -> dict[str, Any]:
    """One request on ``route``; its messages and stop reason, whatever the route."""
    response = api.post(f"/v1/agents/{agent_id}/{route}", json={"input": "hi", **body})
    assert response.status_code == 200, response.text
    if route == "messages":
        return dict(response.json())
    events = [
        json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: {")
    ]
    kinds = {"ping", "stop_reason", "usage_statistics"}
    return {
        "messages": [e for e in events if e.get("message_type") not in kinds],
        "stop_reason": next(e for e in events if e.get("message_type") == "stop_reason"),
    }


@pytest.mark.parametrize("route", TURN_ROUTES)
def test_override_model_serves_the_request_on_that_model_only(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, route: str
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("From the small one."), reply.text("From the agent's own."))

    asked = send(api, agent["id"], route, override_model="openai/fake-small")
    send(api, agent["id"], route)

    assert [r.model for r in fake_llm.chat_requests] == ["fake-small", "gpt-4o-mini"]
    assert asked["messages"][-1]["content"] == "From the small one."
    steps = api.get(f"/v1/runs/{asked['messages'][-1]['run_id']}/steps").json()
    assert [s["model_handle"] for s in steps] == ["openai/fake-small"]
    assert api.get(f"/v1/agents/{agent['id']}").json()["llm_config"]["model"] == "gpt-4o-mini"


@pytest.mark.parametrize("route", [*TURN_ROUTES, "messages/async"])
def test_an_unknown_override_model_is_refused_before_anything_runs(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, route: str
) -> None:
    agent = make_agent()
    before = message_count(api, agent["id"])

    response = api.post(
        f"/v1/agents/{agent['id']}/{route}",
        json={"input": "hi", "override_model": "openai/no-such-model"},
    )

    assert response.status_code == 422, response.text
    assert error_fields(response) == ["override_model"]
    assert message_count(api, agent["id"]) == before
    assert api.get("/v1/runs/", params={"agent_id": agent["id"]}).json() == []
    assert fake_llm.chat_requests == []


@pytest.mark.parametrize("route", TURN_ROUTES)
def test_override_system_replaces_the_system_prompt_for_the_request(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, route: str
) -> None:
    agent = make_agent(system="You are a careful librarian.")
    fake_llm.script(reply.text("Arr."), reply.text("Shh."))

    send(api, agent["id"], route, override_system="You are a pirate.")
    send(api, agent["id"], route)

    first, second = fake_llm.chat_requests
    assert first.system_text == "You are a pirate."
    assert "You are a careful librarian." in second.system_text
    assert "<memory_blocks>" in second.system_text
    assert api.get(f"/v1/agents/{agent['id']}").json()["system"] == "You are a careful librarian."


@pytest.mark.parametrize("route", TURN_ROUTES)
@pytest.mark.parametrize("stream_tokens", [False, True])
def test_include_return_message_types_filters_the_answer(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, route: str, stream_tokens: bool
) -> None:
    agent = make_agent()
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "Likes tea."}),
        reply.text("Noted."),
    )

    asked = send(
        api,
        agent["id"],
        route,
        include_return_message_types=["tool_return_message", "assistant_message"],
        stream_tokens=stream_tokens,
    )

    kinds = {m["message_type"] for m in asked["messages"]}
    assert kinds == {"tool_return_message", "assistant_message"}
    assert asked["stop_reason"]["stop_reason"] == "end_turn"
    # The history keeps everything; the run shows what the request asked for.
    history = api.get(f"/v1/agents/{agent['id']}/messages").json()
    assert "tool_call_message" in {m["message_type"] for m in history}
    run = api.get(f"/v1/runs/{asked['messages'][0]['run_id']}").json()
    assert run["request_config"]["include_return_message_types"] == [
        "tool_return_message",
        "assistant_message",
    ]


def test_an_unknown_message_type_is_refused_naming_the_field(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    response = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"input": "hi", "include_return_message_types": ["shouting_message"]},
    )

    assert response.status_code == 422, response.text
    assert "include_return_message_types" in response.text
    assert fake_llm.chat_requests == []


def test_use_assistant_message_false_shows_send_message_as_a_tool_call(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(agent_type="memgpt_v2_agent")
    said = {"message": "Hello there."}
    fake_llm.script(
        reply.tool_call("send_message", said, id="c_say"),
        reply.tool_call("send_message", said, id="c_say2"),
    )

    plain = send(api, agent["id"], "messages", use_assistant_message=False)
    usual = send(api, agent["id"], "messages")

    calls = [m for m in plain["messages"] if m["message_type"] == "tool_call_message"]
    assert [c["tool_call"]["name"] for c in calls] == ["send_message"]
    assert json.loads(calls[0]["tool_call"]["arguments"]) == said
    returns = [m for m in plain["messages"] if m["message_type"] == "tool_return_message"]
    assert [r["tool_call_id"] for r in returns] == ["c_say"]
    assert "assistant_message" not in {m["message_type"] for m in plain["messages"]}
    assert [
        m["content"] for m in usual["messages"] if m["message_type"] == "assistant_message"
    ] == ["Hello there."]


def test_max_steps_bounds_the_turn(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "One."}),
        reply.text("never reached"),
    )

    asked = send(api, agent["id"], "messages", max_steps=1)

    assert asked["stop_reason"]["stop_reason"] == "max_steps"
    assert len(fake_llm.chat_requests) == 1


@pytest.mark.parametrize("route", [*TURN_ROUTES, "messages/async"])
def test_return_token_ids_is_refused_naming_it(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, route: str
) -> None:
    agent = make_agent()

    response = api.post(
        f"/v1/agents/{agent['id']}/{route}", json={"input": "hi", "return_token_ids": True}
    )

    assert response.status_code == 422, response.text
    assert error_fields(response) == ["return_token_ids"]
    assert api.get("/v1/runs/", params={"agent_id": agent["id"]}).json() == []
    assert fake_llm.chat_requests == []


def test_logprobs_of_the_last_model_call_come_back(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "Likes tea."}),
        reply.text("Noted that down."),
    )

    asked = send(api, agent["id"], "messages", return_logprobs=True, top_logprobs=2)

    assert [r.json.get("top_logprobs") for r in fake_llm.chat_requests] == [2, 2]
    assert all(r.json.get("logprobs") is True for r in fake_llm.chat_requests)
    tokens = asked["logprobs"]["content"]
    assert "".join(t["token"] for t in tokens) == "Noted that down."
    assert tokens[0]["logprob"] == pytest.approx(-0.01)
    assert [len(t["top_logprobs"]) for t in tokens] == [2, 2, 2]


def test_without_return_logprobs_none_are_asked_for(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("Hi."), reply.text("Hi."))

    plain = send(api, agent["id"], "messages")
    bare = send(api, agent["id"], "messages", return_logprobs=True)

    assert plain["logprobs"] is None
    assert "logprobs" not in fake_llm.chat_requests[0].json
    assert "top_logprobs" not in fake_llm.chat_requests[1].json
    assert [t["top_logprobs"] for t in bare["logprobs"]["content"]] == [[]]


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("messages", {"top_logprobs": 2}, "top_logprobs"),
        ("messages", {"return_logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ("messages/stream", {"return_logprobs": True}, "return_logprobs"),
        ("messages", {"return_logprobs": True, "streaming": True}, "return_logprobs"),
        ("messages/async", {"return_logprobs": True}, "return_logprobs"),
    ],
)
def test_logprobs_where_they_cannot_come_back_are_refused(
    api: httpx.Client,
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    route: str,
    body: dict[str, Any],
    field: str,
) -> None:
    agent = make_agent()

    response = api.post(f"/v1/agents/{agent['id']}/{route}", json={"input": "hi", **body})

    assert response.status_code == 422, response.text
    assert error_fields(response) == [field]
    assert api.get("/v1/runs/", params={"agent_id": agent["id"]}).json() == []
    assert fake_llm.chat_requests == []


@pytest.fixture(scope="module")
def anthropic_server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    """A server that also reaches the fake LLM through Anthropic's Messages API."""
    env = {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": fake_llm_server.url}
    server = InProcessServer(
        tmp_path_factory.mktemp("options-anthropic"), fake_llm_server.base_url, env
    )
    server.start()
    yield server
    server.stop()


def test_logprobs_from_an_anthropic_model_are_refused(
    anthropic_server: InProcessServer, fake_llm: FakeLLM
) -> None:
    with anthropic_server.client() as api:
        created = api.post("/v1/agents/", json={"model": "anthropic/gpt-4o-mini"})
        assert created.status_code == 200, created.text

        response = api.post(
            f"/v1/agents/{created.json()['id']}/messages",
            json={"input": "hi", "return_logprobs": True},
        )

    assert response.status_code == 422, response.text
    assert error_fields(response) == ["return_logprobs"]
    assert "Anthropic" in response.text
    assert fake_llm.chat_requests == []


@pytest.mark.parametrize("route", TURN_ROUTES)
def test_a_callback_url_outside_a_background_run_is_refused(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, route: str
) -> None:
    agent = make_agent()

    response = api.post(
        f"/v1/agents/{agent['id']}/{route}",
        json={"input": "hi", "callback_url": "https://example.com/done"},
    )

    assert response.status_code == 422, response.text
    assert error_fields(response) == ["callback_url"]
    assert api.get("/v1/runs/", params={"agent_id": agent["id"]}).json() == []


@pytest.mark.parametrize("unset", [[], None])
def test_an_empty_or_null_option_is_no_option(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, unset: Any
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("Hello."))
    options = {
        "client_tools": unset,
        "override_model": None,
        "override_system": None,
        "top_logprobs": None,
        "return_logprobs": False,
        "callback_url": None,
    }

    asked = send(api, agent["id"], "messages", **options)

    assert asked["messages"][-1]["content"] == "Hello."
    assert fake_llm.chat_requests[0].model == "gpt-4o-mini"


def test_the_history_takes_the_same_display_options(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(agent_type="memgpt_v2_agent")
    fake_llm.script(reply.tool_call("send_message", {"message": "Hello."}, id="c_say"))
    send(api, agent["id"], "messages")
    path = f"/v1/agents/{agent['id']}/messages"

    usual = api.get(path, params={"order": "asc"}).json()
    plain = api.get(path, params={"order": "asc", "use_assistant_message": "false"}).json()
    only = api.get(
        path,
        params=[
            ("order", "asc"),
            ("include_return_message_types", "user_message"),
            ("include_return_message_types", "assistant_message"),
        ],
    ).json()
    bad = api.get(path, params={"include_return_message_types": "shouting_message"})

    assert "assistant_message" in {m["message_type"] for m in usual}
    said = [m for m in plain if m["message_type"] == "tool_call_message"]
    assert [m["tool_call"]["name"] for m in said] == ["send_message"]
    assert "assistant_message" not in {m["message_type"] for m in plain}
    assert {m["message_type"] for m in only} == {"user_message", "assistant_message"}
    assert bad.status_code == 422, bad.text
    assert "include_return_message_types" in bad.text
