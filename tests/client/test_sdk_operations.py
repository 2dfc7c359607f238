"""The operations added for Letta's whole SDK surface, through the in-process client under
letta-client's names: every agent's messages, recompile, step feedback, metrics and
traces, tool search and the search over every passage."""

from __future__ import annotations

import pytest

from engram import Engram
from engram.errors import InvalidInput, NotFound
from tests.client.shapes import new_agent
from tests.fakes import FakeLLM, reply

TIDE = '''
def tide_at(harbour: str) -> str:
    """Predict the height of the sea tide at a harbour.

    Args:
        harbour: Name of the harbour.
    """
    return "1.2 m"
'''


def test_messages_recompile_and_step_records(engram_client: Engram, fake_llm: FakeLLM) -> None:
    agent_id = engram_client.agents.create(
        model="openai/gpt-4o-mini", memory_blocks=[{"label": "human", "value": "Ada"}]
    ).id
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": "my dog is Rex"}),
        reply.text("Saved.", delay=0.1),
    )
    answer = engram_client.agents.messages.create(agent_id, input="remember: my dog is Rex")
    run_id = answer.messages[0].run_id

    everything = engram_client.messages.list(limit=10, order="asc")
    users = engram_client.messages.list(include_return_message_types=["user_message"])
    prompt = engram_client.agents.recompile(agent_id, dry_run=True)
    first, second = engram_client.runs.steps.list(run_id)
    liked = engram_client.steps.feedback.create(first.id, feedback="positive", tags=["good"])
    metrics = engram_client.steps.metrics.retrieve(second.id)
    trace = engram_client.steps.trace.retrieve(second.id)
    spans = engram_client.runs.trace.retrieve(run_id)

    assert everything[0].message_type == "user_message"
    assert [m.message_type for m in users] == ["user_message"]
    assert "Ada" in prompt
    assert (liked.feedback, liked.tags) == ("positive", ["good"])
    assert [s.id for s in engram_client.steps.list(feedback="positive")] == [first.id]
    assert metrics.llm_request_ns is not None and metrics.llm_request_ns >= 100_000_000
    assert [span["name"] for span in trace.spans][0] == "step"
    assert len(spans) == 10
    with pytest.raises(InvalidInput) as bad:
        engram_client.steps.feedback.create(first.id, feedback="meh")
    assert bad.value.field == "feedback"
    with pytest.raises(InvalidInput):
        engram_client.messages.list(include_return_message_types=["shout_message"])
    with pytest.raises(NotFound):
        engram_client.agents.recompile("agent-00000000-0000-4000-8000-000000000000")


def test_tool_search_and_passage_search_over_everything(engram_client: Engram) -> None:
    tool = engram_client.tools.create(source_code=TIDE, tags=["sea"])
    first = new_agent(engram_client)
    second = new_agent(engram_client)
    engram_client.agents.passages.create(first, text="The lighthouse keeper is Ada.")
    engram_client.agents.passages.create(second, text="Grace fixed the lighthouse lamp.")

    tools = engram_client.tools.search(query="sea tide harbour", tags=["sea"])
    passages = engram_client.passages.search(query="lighthouse")

    assert [r.tool.id for r in tools] == [tool.id] and tools[0].fts_rank == 1
    assert {r.passage.agent_id for r in passages} == {first, second}
    with pytest.raises(InvalidInput) as bad:
        engram_client.tools.search(query="x", limit=0)
    assert bad.value.field == "limit"
