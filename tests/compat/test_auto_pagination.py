"""The SDK's auto-pagination over lists with more items than one page: iterating
``client.agents.blocks.list``, ``client.agents.tools.list``, ``client.blocks.agents.list``
and ``client.agents.messages.list`` with a small ``limit`` visits every item exactly once,
in the order one whole page lists them, and then stops.

The iterations are bounded (``islice``) so a server that repeats a page shows up as
duplicates here instead of a test that never ends; docs/compatibility.md states the
behaviour these tests hold for those four rows.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Iterable, Iterator
from typing import Literal, TypeVar

import pytest
from letta_client import Letta, NotFoundError
from letta_client.types import AgentState, BlockResponse

from tests.compat.conftest import AgentFactory
from tests.fakes import FakeLLM, reply

T = TypeVar("T")
Order = Literal["asc", "desc"]
PAGE = 2
ORDERS: list[Order] = ["asc", "desc"]

HELD_ROWS = {
    ("GET", "/v1/agents/{agent_id}/core-memory/blocks"): "test_agent_blocks_are_each_visited_once",
    ("GET", "/v1/agents/{agent_id}/tools"): "test_agent_tools_are_each_visited_once",
    ("GET", "/v1/blocks/{block_id}/agents"): "test_agents_of_a_block_are_each_visited_once",
    ("GET", "/v1/agents/{agent_id}/messages"): "test_messages_are_each_visited_once",
}
"""The rows of docs/compatibility.md whose auto-pagination claim a test here holds
(test_compatibility_table.py checks every row making that claim is listed)."""


def iterate(items: Iterable[T], expected: int) -> list[T]:
    """What the SDK's iterator yields, cut off well past ``expected`` items."""
    return list(itertools.islice(items, 3 * expected + PAGE))


def assert_each_once(paged: list[str], whole: list[str]) -> None:
    assert len(whole) > 2 * PAGE, "the list must span several pages"
    assert len(paged) == len(set(paged)), f"items repeated: {paged}"
    assert paged == whole


def tool_source(name: str) -> str:
    return f'''
def {name}(text: str) -> str:
    """Echo some text.

    Args:
        text: The text to echo.
    """
    return text
'''


@pytest.fixture
def custom_tools(client: Letta) -> Iterator[list[str]]:
    """Five custom tools' ids, deleted afterwards."""
    ids = [
        client.tools.create(source_code=tool_source(f"echo_{uuid.uuid4().hex[:8]}")).id
        for _ in range(5)
    ]
    yield ids
    for tool_id in ids:
        with contextlib.suppress(NotFoundError):
            client.tools.delete(tool_id)


@pytest.fixture
def shared_block(client: Letta) -> Iterator[BlockResponse]:
    block = client.blocks.create(label=f"team-{uuid.uuid4().hex[:8]}", value="Ship on Fridays.")
    yield block
    with contextlib.suppress(NotFoundError):
        client.blocks.delete(block.id)


@pytest.mark.parametrize("order", ORDERS)
def test_agent_blocks_are_each_visited_once(
    client: Letta, make_agent: AgentFactory, order: Order
) -> None:
    labels = [f"note_{i}" for i in range(7)]
    agent = make_agent(memory_blocks=[{"label": label, "value": label} for label in labels])
    whole = [b.id for b in client.agents.blocks.list(agent.id, order=order, limit=100).items]

    paged = iterate(client.agents.blocks.list(agent.id, order=order, limit=PAGE), len(whole))

    assert_each_once([block.id for block in paged], whole)
    assert sorted(block.label for block in paged) == sorted(labels)


@pytest.mark.parametrize("order", ORDERS)
def test_agent_tools_are_each_visited_once(
    client: Letta, make_agent: AgentFactory, custom_tools: list[str], order: Order
) -> None:
    agent = make_agent(tool_ids=custom_tools)
    whole = [t.id for t in client.agents.tools.list(agent.id, order=order, limit=100).items]

    paged = iterate(client.agents.tools.list(agent.id, order=order, limit=PAGE), len(whole))

    assert_each_once([tool.id for tool in paged], whole)
    assert set(custom_tools) <= set(whole)
    assert len(whole) == len(agent.tools)


@pytest.mark.parametrize("order", ORDERS)
def test_agents_of_a_block_are_each_visited_once(
    client: Letta, make_agent: AgentFactory, shared_block: BlockResponse, order: Order
) -> None:
    owners = [make_agent(block_ids=[shared_block.id]).id for _ in range(5)]
    whole = [a.id for a in client.blocks.agents.list(shared_block.id, order=order).items]

    paged = iterate(client.blocks.agents.list(shared_block.id, order=order, limit=PAGE), 5)

    assert_each_once([agent.id for agent in paged], whole)
    assert sorted(whole) == sorted(owners)


@pytest.mark.parametrize("order", [*ORDERS, None])
def test_messages_are_each_visited_once(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory, order: Order | None
) -> None:
    agent: AgentState = make_agent()
    for turn in range(3):
        fake_llm.script(
            reply.tool_call("archival_memory_insert", {"content": f"fact {turn}"}),
            reply.text(f"Noted fact {turn}.", reasoning="Say so."),
        )
        client.agents.messages.create(agent.id, input=f"remember fact {turn}")
    ordering = {} if order is None else {"order": order}  # None: the SDK's default, desc
    whole = client.agents.messages.list(agent.id, limit=1000, **ordering).items

    paged = iterate(client.agents.messages.list(agent.id, limit=PAGE, **ordering), len(whole))

    # One stored message can show as several (reasoning and answer share an id).
    shown = [f"{m.id}/{m.message_type}" for m in paged]
    assert_each_once(shown, [f"{m.id}/{m.message_type}" for m in whole])
    answers = [m.content for m in paged if m.message_type == "assistant_message"]
    assert sorted(answers) == [f"Noted fact {turn}." for turn in range(3)]
