"""Background runs, cancellation, and run and step records through letta-client."""

from __future__ import annotations

import time

import pytest
from letta_client import Letta, NotFoundError
from letta_client.types import AgentState
from letta_client.types.agents import AssistantMessage, Run, UserMessage

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply

FINISHED = {"completed", "failed", "cancelled"}


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent()


def wait_for_run(client: Letta, run_id: str, timeout: float = 15.0) -> Run:
    """Poll the run as a Letta user would until it finishes."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.runs.retrieve(run_id)
        if run.status in FINISHED:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {run.status} after {timeout}s")
        time.sleep(0.05)


def finished_run(client: Letta, fake_llm: FakeLLM, agent_id: str) -> Run:
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "my dog is Rex"}),
        reply.text("Saved."),
    )
    run = client.agents.messages.create_async(agent_id, input="remember: my dog is Rex")
    return wait_for_run(client, run.id)


def test_create_async_answers_a_run_at_once_that_completes_in_the_background(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.script(reply.text("Done thinking.", delay=0.3))

    run = client.agents.messages.create_async(agent.id, input="think about it")
    finished = wait_for_run(client, run.id)

    assert run.id.startswith("run-")
    assert run.agent_id == agent.id
    assert run.status in {"created", "running"}
    assert finished.status == "completed"
    assert finished.stop_reason == "end_turn"
    assert finished.completed_at is not None
    answers = [m for m in client.runs.messages.list(run.id) if isinstance(m, AssistantMessage)]
    assert [m.content for m in answers] == ["Done thinking."]


def test_cancel_stops_the_agents_active_run(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    fake_llm.script(reply.text("too late", delay=2.0))
    run = client.agents.messages.create_async(agent.id, input="take your time")

    cancelled = client.agents.messages.cancel(agent.id)

    assert cancelled == {run.id: "cancelled"}
    assert wait_for_run(client, run.id).status == "cancelled"


def test_cancel_named_runs_only(client: Letta, fake_llm: FakeLLM, agent: AgentState) -> None:
    fake_llm.script(reply.text("slow", delay=2.0))
    run = client.agents.messages.create_async(agent.id, input="take your time")

    cancelled = client.agents.messages.cancel(agent.id, run_ids=[run.id])

    assert cancelled == {run.id: "cancelled"}
    assert wait_for_run(client, run.id).status == "cancelled"


def test_runs_list_filters_by_agent_newest_first(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    other = make_agent()
    first = finished_run(client, fake_llm, agent.id)
    second = finished_run(client, fake_llm, agent.id)
    finished_run(client, fake_llm, other.id)

    listed = client.runs.list(agent_id=agent.id).items

    assert [run.id for run in listed] == [second.id, first.id]


def test_run_messages_steps_and_usage_describe_what_the_run_did(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    run = finished_run(client, fake_llm, agent.id)

    messages = list(client.runs.messages.list(run.id))
    steps = list(client.runs.steps.list(run.id))
    usage = client.runs.usage.retrieve(run.id)

    assert isinstance(messages[0], UserMessage)
    assert isinstance(messages[-1], AssistantMessage) and messages[-1].content == "Saved."
    assert {m.run_id for m in messages} == {run.id}
    assert len(steps) == 2
    assert all(step.run_id == run.id and step.agent_id == agent.id for step in steps)
    assert {m.step_id for m in messages[1:]} <= {step.id for step in steps}
    assert usage.total_tokens == sum(step.total_tokens or 0 for step in steps) > 0
    assert usage.prompt_tokens + usage.completion_tokens == usage.total_tokens


def test_steps_retrieve_returns_the_step(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    run = finished_run(client, fake_llm, agent.id)
    listed = client.runs.steps.list(run.id).items[0]

    step = client.steps.retrieve(listed.id)

    assert step.id == listed.id
    assert step.run_id == run.id
    assert step.model == "gpt-4o-mini"
    assert step.total_tokens == listed.total_tokens


def test_unknown_run_raises_not_found_naming_it(client: Letta) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.runs.retrieve("run-00000000-0000-0000-0000-000000000000")

    assert "run-00000000-0000-0000-0000-000000000000" in str(caught.value)


def test_steps_list_filters_by_agent_and_step_messages_belong_to_the_step(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    run = finished_run(client, fake_llm, agent.id)
    run_steps = client.runs.steps.list(run.id).items

    listed = client.steps.list(agent_id=agent.id, order="asc").items
    last_step_messages = list(client.steps.messages.list(run_steps[-1].id))

    assert [s.id for s in listed] == [s.id for s in run_steps]
    assert last_step_messages
    assert {m.step_id for m in last_step_messages} == {run_steps[-1].id}
    assert isinstance(last_step_messages[-1], AssistantMessage)
