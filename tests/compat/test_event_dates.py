"""Archival search through letta-client understands a time named by an event: the
passages written the day after the move come first (the corpus of
tests/api/test_event_dates)."""

from __future__ import annotations

from letta_client import Letta

from tests.api.test_event_dates import CORPUS, DAY_AFTER, NEXT_DAY, THREE_WEEKS
from tests.compat.conftest import AgentFactory


def test_passage_search_places_a_time_named_by_an_event(
    client: Letta, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    for when, text in CORPUS.items():
        client.agents.passages.create(agent.id, text=text, created_at=when)

    day_after = client.agents.passages.search(agent.id, query=DAY_AFTER, top_k=3)
    weeks_after = client.agents.passages.search(
        agent.id, query="which restaurant did we go to three weeks after the move", top_k=3
    )

    assert day_after.results[0].content == NEXT_DAY
    assert weeks_after.results[0].content == THREE_WEEKS
