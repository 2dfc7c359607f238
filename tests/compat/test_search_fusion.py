"""Archival search through letta-client keeps a clear keyword hit near the top even when
the embedding ranks other passages closer (the fixture of tests/api/test_search_fusion)."""

from __future__ import annotations

from letta_client import Letta

from tests.api.test_search_fusion import PARCELS, QUERY, TICKET
from tests.compat.conftest import AgentFactory


def test_search_keeps_the_keyword_hit_near_the_top(client: Letta, make_agent: AgentFactory) -> None:
    agent = make_agent()
    for text in [TICKET, *PARCELS]:
        client.agents.passages.create(agent.id, text=text)

    found = client.agents.passages.search(agent.id, query=QUERY, top_k=5)

    assert TICKET in [result.content for result in found.results[:3]]
