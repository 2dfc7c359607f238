"""Step feedback, metrics and traces through letta-client, as a Letta user reads them."""

from __future__ import annotations

import pytest
from letta_client import Letta, NotFoundError
from letta_client.types import AgentState

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent()


def two_step_run(client: Letta, fake_llm: FakeLLM, agent_id: str) -> str:
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "my dog is Rex"}),
        reply.text("Saved.", delay=0.2),
    )
    response = client.agents.messages.create(agent_id, input="remember: my dog is Rex")
    run_id = response.messages[0].run_id
    assert run_id is not None
    return run_id


def test_feedback_through_the_sdk_is_stored_and_filters_steps(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    run_id = two_step_run(client, fake_llm, agent.id)
    first, second = client.runs.steps.list(run_id)

    step = client.steps.feedback.create(first.id, feedback="positive", tags=["helpful"])

    assert (step.feedback, step.tags) == ("positive", ["helpful"])
    assert [s.id for s in client.steps.list(agent_id=agent.id, feedback="positive")] == [first.id]
    assert [s.id for s in client.steps.list(agent_id=agent.id, has_feedback=False)] == [second.id]
    assert [s.id for s in client.steps.list(agent_id=agent.id, tags=["helpful"])] == [first.id]


def test_metrics_and_traces_through_the_sdk(
    client: Letta, fake_llm: FakeLLM, agent: AgentState
) -> None:
    run_id = two_step_run(client, fake_llm, agent.id)
    _, slow = client.runs.steps.list(run_id)

    metrics = client.steps.metrics.retrieve(slow.id)
    trace = client.steps.trace.retrieve(slow.id)
    spans = client.runs.trace.retrieve(run_id, limit=100)

    assert metrics.id == slow.id and metrics.run_id == run_id
    assert metrics.llm_request_ns is not None and metrics.llm_request_ns >= 200_000_000
    assert metrics.step_ns is not None and metrics.step_ns >= metrics.llm_request_ns
    assert trace is not None and trace.step_id == slow.id
    assert trace.response_json["model"] == slow.model
    assert [span["name"] for span in spans].count("step") == 2
    with pytest.raises(NotFoundError):
        client.steps.metrics.retrieve("step-00000000-0000-4000-8000-000000000000")
