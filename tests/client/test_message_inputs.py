"""Message inputs through ``engram.Engram``, as through the REST API: client tools, the
per-request options, images, and the history's display options."""

from __future__ import annotations

import pytest

from engram import Engram
from engram.errors import InvalidInput
from tests.client.shapes import new_agent
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply

CLIPBOARD = {"name": "read_clipboard", "description": "The clipboard's text."}
URL_IMAGE = {"type": "image", "source": {"type": "url", "url": "https://example.com/otter.jpg"}}


def test_a_client_tool_waits_for_the_clients_result(
    engram_client: Engram, fake_llm: FakeLLM
) -> None:
    agent_id = new_agent(engram_client)
    fake_llm.script(reply.tool_call("read_clipboard", {}, id="c_clip"), reply.text("It says hi."))

    asked = engram_client.agents.messages.create(
        agent_id, input="What is on my clipboard?", client_tools=[CLIPBOARD]
    )
    done = engram_client.agents.messages.create(
        agent_id,
        messages=[
            {
                "type": "tool_return",
                "tool_returns": [
                    {
                        "type": "tool",
                        "tool_call_id": "c_clip",
                        "tool_return": "hi",
                        "status": "success",
                    }
                ],
            }
        ],
    )

    assert asked.stop_reason.stop_reason == "requires_approval"
    assert done.stop_reason.stop_reason == "end_turn"
    assert fake_llm.chat_requests[-1].tool_results[-1] == "hi"


def test_options_and_images_hold_for_the_request(engram_client: Engram, fake_llm: FakeLLM) -> None:
    agent_id = new_agent(engram_client)
    fake_llm.script(reply.text("An otter."))

    answer = engram_client.agents.messages.create(
        agent_id,
        input=[{"type": "text", "text": "What is it?"}, URL_IMAGE],
        override_system="Name animals.",
        include_return_message_types=["assistant_message"],
        return_logprobs=True,
    )

    (sent,) = fake_llm.chat_requests
    assert sent.system_text == "Name animals."
    assert sent.raw_messages[-1]["content"][1]["type"] == "image_url"
    assert [m.message_type for m in answer.messages] == ["assistant_message"]
    assert answer.logprobs is not None
    history = engram_client.agents.messages.list(
        agent_id, include_return_message_types=["user_message"], order="asc"
    )
    assert history[-1].model_dump()["content"][1]["source"]["url"] == URL_IMAGE["source"]["url"]


def test_a_bad_option_is_refused_naming_it(engram_client: Engram, fake_llm: FakeLLM) -> None:
    agent_id = new_agent(engram_client)

    with pytest.raises(InvalidInput) as caught:
        engram_client.agents.messages.create(agent_id, input="hi", override_model="openai/nope")

    assert caught.value.field == "override_model"
    assert fake_llm.chat_requests == []
