"""Memory search that understands a time named by an event ("the day after the move"):
the event is found in the same memory by its words, and what was written around it
comes first, in archival search and in conversation search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.conftest import AgentFactory
from tests.api.test_search_fusion import post
from tests.support.recall import import_history

MOVED = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
MOVE = "We moved into the new flat today, boxes everywhere and the cat hid under the sofa."
NEXT_DAY = "We had dinner at Casa Brava, lovely paella."
THREE_WEEKS = "We had dinner at Blue Anchor, lovely sea bass."
LATER = "We had dinner at Pho Corner, lovely broth."
CORPUS = {
    MOVED: MOVE,
    MOVED + timedelta(days=1, hours=9): NEXT_DAY,
    MOVED + timedelta(days=20, hours=9): THREE_WEEKS,
    MOVED + timedelta(days=45, hours=9): LATER,
}
DAY_AFTER = "which restaurant did we go to the day after the move"


def archival(api: httpx.Client, agent_id: str, query: str, **params: Any) -> list[str]:
    response = api.get(
        f"/v1/agents/{agent_id}/archival-memory/search",
        params={"query": query, "top_k": 10, **params},
    )
    assert response.status_code == 200, response.text
    return [hit["content"] for hit in response.json()["results"]]


def test_archival_search_places_a_time_named_by_an_event(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    for when, text in CORPUS.items():
        post(api, agent["id"], text, when)

    day_after = archival(api, agent["id"], DAY_AFTER)
    weeks_after = archival(
        api, agent["id"], "which restaurant did we go to three weeks after the move"
    )
    week_after = archival(api, agent["id"], "what did we do the week after we moved")
    in_april = archival(api, agent["id"], DAY_AFTER + " in April 2024")

    assert day_after[0] == NEXT_DAY, day_after
    assert weeks_after[0] == THREE_WEEKS, weeks_after
    # The event's own passage is what dates the answer, not the answer.
    assert week_after[0] == NEXT_DAY, week_after
    assert week_after.index(MOVE) > 0
    # A calendar phrase in the same query wins.
    assert in_april[0] == LATER, in_april


def test_an_event_never_written_leaves_archival_search_unchanged(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    for when, text in CORPUS.items():
        post(api, agent["id"], text, when)
    query = "which restaurant did we go to the day after the graduation"

    found = archival(api, agent["id"], query)
    # A range covering everything turns the reading of dates off, and filters nothing.
    plain = archival(
        api,
        agent["id"],
        query,
        start_datetime="2000-01-01T00:00:00Z",
        end_datetime="2100-01-01T00:00:00Z",
    )

    assert found == plain
    assert len(found) == len(CORPUS)


def test_a_range_the_caller_gives_wins_over_an_event_in_the_query(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    for when, text in CORPUS.items():
        post(api, agent["id"], text, when)
    start = MOVED + timedelta(days=40)

    found = archival(
        api,
        agent["id"],
        DAY_AFTER,
        start_datetime=start.isoformat(),
        end_datetime=(start + timedelta(days=10)).isoformat(),
    )

    assert found == [LATER]


def conversation(api: httpx.Client, agent_id: str, query: str, **fields: Any) -> list[str]:
    found = api.post("/v1/messages/search", json={"query": query, "agent_id": agent_id, **fields})
    assert found.status_code == 200, found.text
    return [hit["content"] for hit in found.json()]


def test_conversation_search_places_a_time_named_by_an_event(api: httpx.Client) -> None:
    # The question was asked before (and is stored): it names the move too, but only
    # talks about it, so it does not date the answer.
    asked = datetime.now(UTC) - timedelta(minutes=5)
    agent_id = import_history(api, [*CORPUS.items(), (asked, DAY_AFTER + "?")], "event-dates")

    day_after = conversation(api, agent_id, DAY_AFTER)
    weeks_after = conversation(
        api, agent_id, "which restaurant did we go to three weeks after the move"
    )
    missing = "which restaurant did we go to the day after the graduation"
    unknown = conversation(api, agent_id, missing)
    plain = conversation(
        api, agent_id, missing, start_date="2000-01-01T00:00:00Z", end_date="2100-01-01T00:00:00Z"
    )

    assert day_after[0] == NEXT_DAY, day_after
    assert weeks_after[0] == THREE_WEEKS, weeks_after
    assert unknown == plain
    api.delete(f"/v1/agents/{agent_id}")
