"""Images in user messages through the SDK, as a Letta user sends them."""

from __future__ import annotations

import base64

import pytest
from letta_client import Letta, UnprocessableEntityError
from letta_client.types.agents import AssistantMessage, ImageContent, TextContent, UserMessage

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()


def test_an_image_is_sent_to_the_model_and_listed_with_the_message(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    fake_llm.script(reply.text("An otter."))

    answer = client.agents.messages.create(
        agent.id,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What animal is this?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                ],
            }
        ],
    )

    assert [m.content for m in answer.messages if isinstance(m, AssistantMessage)] == ["An otter."]
    (sent,) = fake_llm.chat_requests
    user = [m for m in sent.raw_messages if m["role"] == "user"][-1]
    assert user["content"][1] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{PNG}"},
    }
    listed = client.agents.messages.list(agent.id, order="asc").items
    (mine,) = [m for m in listed if isinstance(m, UserMessage) and not isinstance(m.content, str)]
    text, image = mine.content
    assert isinstance(text, TextContent) and text.text == "What animal is this?"
    assert isinstance(image, ImageContent)
    assert image.source.type == "base64"
    assert image.source.data == PNG


def _with_images(count: int) -> list[dict[str, object]]:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    return [
        {"role": "user", "content": [{"type": "text", "text": "Compare these."}] + [image] * count}
    ]


def test_images_count_toward_whether_a_message_fits_the_window(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(context_window_limit=8000, include_base_tools=False)
    before = client.agents.messages.list(agent.id).items

    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.messages.create(agent.id, messages=_with_images(12))

    assert "messages.0.content" in str(caught.value)
    assert "images included" in str(caught.value)
    assert client.agents.messages.list(agent.id).items == before
    assert fake_llm.chat_requests == []
    fake_llm.script(reply.text("Two otters."))
    answer = client.agents.messages.create(agent.id, messages=_with_images(2))
    assert [m.content for m in answer.messages if isinstance(m, AssistantMessage)] == [
        "Two otters."
    ]
