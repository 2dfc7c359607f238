"""Per-request options of Letta's message routes through letta-client: ``enable_thinking``
switches the model's reasoning for the request, ``client_skills`` are listed in the
request's system prompt, and ``include_compaction_messages`` reports a fold of the window
during the turn as Letta's event and summary messages."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from letta_client import Letta, UnprocessableEntityError
from letta_client.types import AgentState

from tests.compat.conftest import AgentFactory, letta_client_for
from tests.fakes import FakeLLM, reply
from tests.support.backends import Backend
from tests.support.inprocess import InProcessServer

ANTHROPIC = "anthropic/gpt-4o-mini"
SKILLS = [
    {"name": "release-notes", "description": "Writes release notes", "location": "skills/rn.md"},
    {"name": "triage", "description": "Sorts bug reports", "location": "skills/triage/SKILL.md"},
]


@pytest.fixture(scope="module")
def anthropic_server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[InProcessServer]:
    """A server that also reaches the fake LLM through Anthropic's Messages API."""
    env = {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": fake_llm_server.url}
    server = InProcessServer(
        tmp_path_factory.mktemp("thinking-anthropic"),
        fake_llm_server.base_url,
        env,
        database_url=backend.database_url(),
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def claude(anthropic_server: InProcessServer, fake_llm: FakeLLM) -> Iterator[Letta]:
    with letta_client_for(anthropic_server) as sdk:
        yield sdk


def _send(client: Letta, agent_id: str, **options: Any) -> None:
    """A turn with Letta's deprecated ``enable_thinking`` among the options."""
    with warnings.catch_warnings(category=DeprecationWarning, action="ignore"):
        client.agents.messages.create(agent_id, input="Hi.", **options)


def _sent(fake_llm: FakeLLM) -> dict[str, Any]:
    return fake_llm.chat_requests[-1].json


def _system_text(body: dict[str, Any]) -> str:
    """The system prompt of a chat-completions or Anthropic request body."""
    if "system" in body:
        system = body["system"]
        return system if isinstance(system, str) else "".join(b["text"] for b in system)
    return str(body["messages"][0]["content"])


def test_enable_thinking_false_sends_no_reasoning_effort(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent(
        model_settings={"provider_type": "openai", "reasoning": {"reasoning_effort": "low"}}
    )

    fake_llm.script(reply.text("thought it through"))
    _send(client, agent.id)
    with_reasoning = _sent(fake_llm)
    fake_llm.script(reply.text("quick answer"))
    _send(client, agent.id, enable_thinking="false")
    without = _sent(fake_llm)

    assert with_reasoning["reasoning_effort"] == "low"
    assert "reasoning_effort" not in without
    effort = client.agents.retrieve(agent.id).api_model_settings.reasoning.reasoning_effort  # type: ignore[union-attr]
    assert effort == "low"


def test_enable_thinking_switches_anthropic_thinking_for_the_request(
    claude: Letta, fake_llm: FakeLLM
) -> None:
    thinking = claude.agents.create(
        model=ANTHROPIC,
        model_settings={
            "provider_type": "anthropic",
            "thinking": {"type": "enabled", "budget_tokens": 2048},
        },
    )
    plain = claude.agents.create(model=ANTHROPIC)

    fake_llm.script(reply.text("a"), reply.text("b"), reply.text("c"))
    _send(claude, thinking.id, enable_thinking="false")
    off = _sent(fake_llm)
    _send(claude, thinking.id)
    agent_default = _sent(fake_llm)
    _send(claude, plain.id, enable_thinking="true")
    on = _sent(fake_llm)

    assert "thinking" not in off
    assert agent_default["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert on["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_a_bad_enable_thinking_is_refused_naming_it(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    with pytest.raises(UnprocessableEntityError) as caught:
        _send(client, agent.id, enable_thinking="maybe")

    assert "enable_thinking" in str(caught.value)
    assert fake_llm.chat_requests == []


def test_client_skills_are_listed_in_the_requests_system_prompt(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    fake_llm.script(reply.text("I can write release notes."), reply.text("plain"))
    client.agents.messages.create(agent.id, input="What can you do?", client_skills=SKILLS)
    offered = _system_text(_sent(fake_llm))
    client.agents.messages.create(agent.id, input="And now?")
    later = _system_text(_sent(fake_llm))

    assert "<name>release-notes</name>" in offered
    assert "<location>skills/triage/SKILL.md</location>" in offered
    assert "Sorts bug reports" in offered
    assert "release-notes" not in later


def test_client_skills_show_beside_an_override_system(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()

    fake_llm.script(reply.text("ok"))
    list(
        client.agents.messages.create(
            agent.id,
            input="Hi.",
            client_skills=SKILLS[:1],
            override_system="Be brief.",
            streaming=True,
        )
    )

    system = _system_text(_sent(fake_llm))
    assert system.startswith("Be brief.")
    assert "<name>release-notes</name>" in system


@pytest.mark.parametrize(
    "skills",
    [
        [SKILLS[0], SKILLS[0]],
        [{"name": "no-location", "description": "x"}],
        [{"name": "", "description": "x", "location": "y"}],
    ],
)
def test_bad_client_skills_are_refused_naming_the_field(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory, skills: list[dict[str, Any]]
) -> None:
    agent = make_agent()

    with pytest.raises(UnprocessableEntityError) as caught:
        client.agents.messages.create(agent.id, input="Hi.", client_skills=skills)  # type: ignore[arg-type]

    assert "client_skills" in str(caught.value)
    assert fake_llm.chat_requests == []


def _small_agent(make_agent: AgentFactory) -> AgentState:
    """An agent whose window folds once a couple of long turns are in it."""
    return make_agent(
        include_base_tools=False,
        context_window_limit=6000,
        compaction_settings={
            "trigger_fraction": 0.12,
            "target_fraction": 0.05,
            "keep_last_user_turns": 0,
        },
    )


LONG = "All about my garden: " + "tomatoes and basil grow well here. " * 60


def _fill(client: Letta, fake_llm: FakeLLM, agent_id: str) -> None:
    fake_llm.script(reply.text("Nice garden."))
    client.agents.messages.create(agent_id, input=LONG)


def test_a_fold_during_the_turn_shows_as_event_and_summary_messages(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = _small_agent(make_agent)
    _fill(client, fake_llm, agent.id)

    fake_llm.script(reply.text("The user grows tomatoes."), reply.text("Still growing?"))
    answer = client.agents.messages.create(agent.id, input=LONG, include_compaction_messages=True)

    kinds = [m.message_type for m in answer.messages]
    assert kinds[:2] == ["event_message", "summary_message"]
    event, summary = answer.messages[:2]
    assert event.event_type == "compaction"  # type: ignore[union-attr]
    assert event.event_data["evicted_messages"] >= 1  # type: ignore[union-attr]
    assert summary.summary == "The user grows tomatoes."  # type: ignore[union-attr]
    assert kinds[-1] == "assistant_message"
    listed = client.agents.messages.list(agent.id).items
    assert not {"event_message", "summary_message"} & {m.message_type for m in listed}


def test_a_fold_is_not_reported_unless_asked(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = _small_agent(make_agent)
    _fill(client, fake_llm, agent.id)

    fake_llm.script(reply.text("The user grows tomatoes."), reply.text("Still growing?"))
    answer = client.agents.messages.create(agent.id, input=LONG)

    assert [m.message_type for m in answer.messages] == ["assistant_message"]
    context = client.get(f"/v1/agents/{agent.id}/context", cast_to=dict[str, Any])
    assert context["summary_memory"] == "The user grows tomatoes."  # the fold happened


def test_a_streamed_fold_is_reported_in_the_stream(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory, engram_server: InProcessServer
) -> None:
    agent = _small_agent(make_agent)
    _fill(client, fake_llm, agent.id)
    # letta-client 1.12.1's stream union has no event or summary message: a client reads
    # them with the SDK's default (lenient) parsing, as Letta's own clients do.
    lenient = letta_client_for(engram_server, _strict_response_validation=False)

    fake_llm.script(reply.text("The user grows tomatoes."), reply.text("Still growing?"))
    stream = lenient.agents.messages.create(
        agent.id, input=LONG, include_compaction_messages=True, streaming=True
    )
    kinds = [getattr(event, "message_type", None) for event in stream]

    assert kinds.index("event_message") < kinds.index("summary_message")
    assert kinds.index("summary_message") < kinds.index("assistant_message")
