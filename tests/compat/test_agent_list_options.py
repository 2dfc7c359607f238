"""The agent list's other options through letta-client: the last run's stop reason, ordering
by when the last run ended, and ``include`` choosing which relationships an agent shows."""

from __future__ import annotations

import uuid

import pytest
from letta_client import BadRequestError, Letta, UnprocessableEntityError

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply


def _run(client: Letta, fake_llm: FakeLLM, agent_id: str, max_steps: int = 50) -> None:
    fake_llm.script(reply.tool_call("archival_memory_search", {"query": "x"}), reply.text("ok"))
    client.agents.messages.create(
        agent_id, messages=[{"role": "user", "content": "hello"}], max_steps=max_steps
    )


@pytest.fixture
def tag() -> str:
    return f"list-{uuid.uuid4().hex[:8]}"


def test_last_stop_reason_keeps_agents_whose_last_run_ended_so(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory, tag: str
) -> None:
    finished = make_agent(tags=[tag])
    stopped = make_agent(tags=[tag])
    make_agent(tags=[tag])
    _run(client, fake_llm, finished.id)
    _run(client, fake_llm, stopped.id, max_steps=1)

    ended = client.agents.list(tags=[tag], last_stop_reason="end_turn").items
    capped = client.agents.list(tags=[tag], last_stop_reason="max_steps").items

    assert [a.id for a in ended] == [finished.id]
    assert [a.id for a in capped] == [stopped.id]
    assert client.agents.list(tags=[tag], last_stop_reason="cancelled").items == []


def test_order_by_last_run_completion_puts_agents_that_never_ran_first(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory, tag: str
) -> None:
    never = make_agent(tags=[tag])
    later = make_agent(tags=[tag])
    earlier = make_agent(tags=[tag])
    _run(client, fake_llm, earlier.id)
    _run(client, fake_llm, later.id)

    ascending = client.agents.list(tags=[tag], order_by="last_run_completion", order="asc")
    descending = client.agents.list(tags=[tag], order_by="last_run_completion", order="desc")
    first_page = client.agents.list(
        tags=[tag], order_by="last_run_completion", order="asc", limit=1
    ).items
    after_first = client.agents.list(
        tags=[tag], order_by="last_run_completion", order="asc", after=first_page[0].id
    ).items

    assert [a.id for a in ascending.items] == [never.id, earlier.id, later.id]
    assert [a.id for a in descending.items] == [later.id, earlier.id, never.id]
    assert [a.id for a in after_first] == [earlier.id, later.id]


def test_include_shows_only_the_relationships_named(
    client: Letta, make_agent: AgentFactory, tag: str
) -> None:
    made = make_agent(tags=[tag], memory_blocks=[{"label": "human", "value": "Ada"}])

    everything = client.agents.list(tags=[tag]).items[0]
    blocks_only = client.agents.list(tags=[tag], include=["agent.blocks"]).items[0]
    tools_and_tags = client.agents.retrieve(made.id, include=["agent.tools", "agent.tags"])

    assert everything.tools and everything.tags and everything.blocks
    assert [b.label for b in blocks_only.blocks] == ["human"]
    assert blocks_only.tools == [] and blocks_only.tags == []
    assert tools_and_tags.blocks == [] and tools_and_tags.memory.blocks == []
    assert tools_and_tags.tags == [tag] and tools_and_tags.tools


def test_include_relationships_takes_letta_older_names(
    client: Letta, make_agent: AgentFactory, tag: str
) -> None:
    make_agent(tags=[tag], memory_blocks=[{"label": "human", "value": "Ada"}])

    listed = client.agents.list(tags=[tag], extra_query={"include_relationships": ["memory"]})

    assert [b.label for b in listed.items[0].blocks] == ["human"]
    assert listed.items[0].tools == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("include", ["agent.everything"]),
        ("include_relationships", ["friends"]),
        ("last_stop_reason", "tired"),
    ],
)
def test_bad_list_options_are_refused_naming_the_field(
    client: Letta, field: str, value: object
) -> None:
    with pytest.raises((UnprocessableEntityError, BadRequestError)) as caught:
        client.agents.list(extra_query={field: value})

    assert caught.value.status_code == 422
    assert field in str(caught.value)
