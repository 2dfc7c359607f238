"""Images in user messages (Letta's ``ImageContent``, by URL or as base64): stored with the
message, sent to OpenAI-compatible and Anthropic models in their own wire formats, shown
in the history and agent files, counted in the context window; a model that reads text
only gets a clear 422 before anything is stored."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, detail_text, error_fields, message_count
from tests.api.test_agent_files import export, imported_id
from tests.fakes import FakeLLM, reply
from tests.support.inprocess import InProcessServer

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()
BASE64_IMAGE = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
}
URL_IMAGE = {"type": "image", "source": {"type": "url", "url": "https://example.com/otter.jpg"}}
ASK = {"type": "text", "text": "What animal is this?"}


def user_content(sent: Any) -> Any:
    """The content of the last user message of a request, in its own wire format."""
    (last,) = [m for m in sent.raw_messages if m["role"] == "user"][-1:]
    return last["content"]


def history_users(api: httpx.Client, agent_id: str) -> list[dict[str, Any]]:
    listing = api.get(f"/v1/agents/{agent_id}/messages", params={"order": "asc"}).json()
    return [m for m in listing if m["message_type"] == "user_message"]


def test_an_image_reaches_an_openai_model_and_stays_with_the_message(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("An otter."), reply.text("Still an otter."))

    response = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": [ASK, BASE64_IMAGE, URL_IMAGE]}]},
    )

    assert response.status_code == 200, response.text
    assert user_content(fake_llm.chat_requests[0]) == [
        {"type": "text", "text": "What animal is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/otter.jpg"}},
    ]
    (kept,) = history_users(api, agent["id"])
    assert kept["content"] == [ASK, BASE64_IMAGE, URL_IMAGE]

    # The next turn sends the image again, as part of the history.
    api.post(f"/v1/agents/{agent['id']}/messages", json={"input": "And now?"})
    contents = [m["content"] for m in fake_llm.chat_requests[1].raw_messages if m["role"] == "user"]
    assert any(isinstance(c, list) and len(c) == 3 for c in contents)


@pytest.mark.parametrize("route", ["messages", "messages/stream", "messages/async"])
def test_an_image_in_the_input_list_is_taken_on_every_route(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, route: str
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("An otter."))

    response = api.post(f"/v1/agents/{agent['id']}/{route}", json={"input": [ASK, URL_IMAGE]})

    assert response.status_code == 200, response.text
    if route == "messages/async":
        for _ in range(600):
            run = api.get(f"/v1/runs/{response.json()['id']}").json()
            if run["status"] not in ("created", "running"):
                break

            time.sleep(0.05)
    assert user_content(fake_llm.chat_requests[0])[1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/otter.jpg"},
    }
    (kept,) = history_users(api, agent["id"])
    assert kept["content"] == [ASK, URL_IMAGE]


def test_an_image_is_counted_in_the_context_window(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    with_image, text_only = make_agent(), make_agent()
    fake_llm.script(reply.text("Otter."), reply.text("Otter."))

    for agent, content in ((with_image, [ASK, BASE64_IMAGE]), (text_only, [ASK])):
        sent = api.post(
            f"/v1/agents/{agent['id']}/messages",
            json={"messages": [{"role": "user", "content": content}]},
        )
        assert sent.status_code == 200, sent.text

    def message_tokens(agent: dict[str, Any]) -> int:
        return int(api.get(f"/v1/agents/{agent['id']}/context").json()["num_tokens_messages"])

    # An image at the default detail counts 765 tokens, as OpenAI prices one.
    assert message_tokens(with_image) - message_tokens(text_only) == 765


def test_a_model_that_reads_text_only_is_refused_before_anything_is_stored(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        llm_config={
            "model": "gpt-3.5-turbo",
            "model_endpoint_type": "openai",
            "provider_name": "openai",
            "context_window": 16_000,
        }
    )
    before = message_count(api, agent["id"])

    response = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": [ASK, URL_IMAGE]}]},
    )

    assert response.status_code == 422, response.text
    assert error_fields(response) == ["messages.0.content"]
    assert "does not read images" in response.text
    assert message_count(api, agent["id"]) == before
    assert api.get("/v1/runs/", params={"agent_id": agent["id"]}).json() == []
    assert fake_llm.chat_requests == []


@pytest.mark.parametrize(
    ("part", "where"),
    [
        (
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "%%%"},
            },
            "data",
        ),
        (
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/tiff", "data": PNG},
            },
            "media_type",
        ),
        ({"type": "image", "source": {"type": "url", "url": "file:///etc/passwd"}}, "url"),
        ({"type": "image", "source": {"type": "letta", "file_id": "file-1"}}, "source"),
    ],
)
def test_a_bad_image_is_refused_naming_the_field(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory, part: Any, where: str
) -> None:
    agent = make_agent()
    before = message_count(api, agent["id"])

    response = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": [ASK, part]}]},
    )

    assert response.status_code == 422, response.text
    assert where in detail_text(response)
    assert message_count(api, agent["id"]) == before
    assert fake_llm.chat_requests == []


def test_an_image_outside_a_user_message_is_refused(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    response = api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "system", "content": [ASK, URL_IMAGE]}]},
    )

    assert response.status_code == 422, response.text
    assert error_fields(response) == ["messages.0.content"]
    assert fake_llm.chat_requests == []


def test_an_image_travels_in_the_agent_file(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("An otter."), reply.text("Yes, the otter."))
    api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": [ASK, BASE64_IMAGE]}]},
    )

    document = export(api, agent["id"])
    (user,) = [
        m
        for m in document["agents"][0]["messages"]
        if m["role"] == "user" and isinstance(m["content"], list) and len(m["content"]) == 2
    ]
    assert user["content"] == [ASK, BASE64_IMAGE]
    copy = imported_id(api, document)

    (kept,) = [m for m in history_users(api, copy) if isinstance(m["content"], list)]
    assert kept["content"] == [ASK, BASE64_IMAGE]
    api.post(f"/v1/agents/{copy}/messages", json={"input": "Was it an otter?"})
    sent = fake_llm.chat_requests[-1]
    assert any(
        isinstance(m["content"], list) and m["content"][1]["type"] == "image_url"
        for m in sent.raw_messages
        if m["role"] == "user"
    )


@pytest.fixture(scope="module")
def anthropic_server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    """A server that also reaches the fake LLM through Anthropic's Messages API."""
    env = {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": fake_llm_server.url}
    server = InProcessServer(
        tmp_path_factory.mktemp("images-anthropic"), fake_llm_server.base_url, env
    )
    server.start()
    yield server
    server.stop()


def test_an_image_reaches_an_anthropic_model_as_an_image_block(
    anthropic_server: InProcessServer, fake_llm: FakeLLM
) -> None:
    fake_llm.script(reply.text("An otter."))
    with anthropic_server.client() as api:
        created = api.post("/v1/agents/", json={"model": "anthropic/gpt-4o-mini"})
        assert created.status_code == 200, created.text
        response = api.post(
            f"/v1/agents/{created.json()['id']}/messages",
            json={"messages": [{"role": "user", "content": [ASK, BASE64_IMAGE, URL_IMAGE]}]},
        )

    assert response.status_code == 200, response.text
    sent = fake_llm.chat_requests[-1]
    assert sent.wire == "anthropic"
    assert user_content(sent) == [
        {"type": "text", "text": "What animal is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/otter.jpg"}},
    ]


def test_a_summary_hears_that_images_were_shared(
    api: httpx.Client, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("An otter."), reply.text("Fine."))
    api.post(
        f"/v1/agents/{agent['id']}/messages",
        json={"messages": [{"role": "user", "content": [ASK, URL_IMAGE]}]},
    )
    api.post(f"/v1/agents/{agent['id']}/messages", json={"input": "Thanks."})
    fake_llm.script(reply.text("The user showed an otter picture."))

    folded = api.post(f"/v1/agents/{agent['id']}/summarize")

    assert folded.status_code == 200, folded.text
    asked = fake_llm.chat_requests[-1].all_text
    assert "What animal is this? [1 image(s) attached]" in asked
