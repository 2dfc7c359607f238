"""Hybrid memory search on small fixed corpora: a clear keyword hit stays near the top
even when meaning misses it, keyword statistics belong to the agent's own memory, and a
query naming a time prefers what was written then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.api.conftest import AgentFactory
from tests.support.recall import import_history

# Ten turns about parcels and shipping, and one about a ticket code among them: the query
# mixes the code with shipping words, so meaning ranks the parcels first.
PARCELS = [
    "The parcel shipping is delayed again, the courier blames the weather.",
    "Shipping delays on my parcel from Lisbon, third week now.",
    "Another parcel stuck in shipping, the delay notice came today.",
    "The courier says parcel shipping delays will last till Friday.",
    "My parcel finally shipped after a week of delay.",
    "Parcel shipping costs doubled and it is still delayed.",
    "Shipping the parcel to my sister took ages, delays everywhere.",
    "The parcel tracker says the shipping delay is at customs.",
    "I complained about the parcel shipping delay on the phone.",
    "Two parcels, both delayed in shipping, what a month.",
]
TICKET = "Ticket ZQ-7781 was raised for the printer toner on floor two."
QUERY = "ZQ-7781 parcel shipping delays"


def post(api: httpx.Client, agent_id: str, text: str, when: datetime | None = None) -> str:
    body: dict[str, str] = {"text": text}
    if when is not None:
        body["created_at"] = when.isoformat()
    response = api.post(f"/v1/agents/{agent_id}/archival-memory", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()[0]["id"])


def search(api: httpx.Client, agent_id: str, query: str, mode: str = "hybrid") -> list[str]:
    response = api.get(
        f"/v1/agents/{agent_id}/archival-memory/search",
        params={"query": query, "top_k": 10, "search_mode": mode},
    )
    assert response.status_code == 200, response.text
    return [hit["content"] for hit in response.json()["results"]]


def test_a_keyword_hit_that_meaning_misses_stays_in_the_top_three(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    for text in [*PARCELS[:5], TICKET, *PARCELS[5:]]:
        post(api, agent["id"], text)

    by_keyword = search(api, agent["id"], QUERY, "fts")
    by_meaning = search(api, agent["id"], QUERY, "vector")
    hybrid = search(api, agent["id"], QUERY)

    assert by_keyword[0] == TICKET
    assert TICKET not in by_meaning[:3], by_meaning  # the case this test is about
    assert TICKET in hybrid[:3], hybrid


def test_another_agents_writes_leave_this_agents_order_unchanged(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    mine, other = make_agent(), make_agent()
    for text in (
        "I keep walnuts in the pantry for baking.",
        "Hazelnut spread is on the shopping list.",
        "Hazelnut coffee again this morning.",
        "The pantry needs a proper clean-out.",
    ):
        post(api, mine["id"], text)
    query = "walnut hazelnut"
    before = {mode: search(api, mine["id"], query, mode) for mode in ("fts", "hybrid")}

    for i in range(30):  # walnuts everywhere else: table-wide, "walnut" becomes common
        post(api, other["id"], f"Walnut tree number {i} in the orchard was pruned.")
    after = {mode: search(api, mine["id"], query, mode) for mode in ("fts", "hybrid")}

    assert before["fts"][0] == "I keep walnuts in the pantry for baking."
    assert after == before


def test_a_named_month_puts_that_months_passages_first(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    dinners = {
        datetime(2023, 5, 12, 19, tzinfo=UTC): "We had dinner at Casa Brava, lovely paella.",
        datetime(2023, 8, 3, 19, tzinfo=UTC): "We had dinner at Blue Anchor, lovely sea bass.",
        datetime(2024, 1, 20, 19, tzinfo=UTC): "We had dinner at Pho Corner, lovely broth.",
    }
    for when, text in dinners.items():
        post(api, agent["id"], text, when)
    now = datetime.now(UTC)
    post(api, agent["id"], "Bought new hiking boots for the trip.", now - timedelta(days=12))
    post(api, agent["id"], "Bought new running shoes at the outlet.", now - timedelta(days=1))
    post(api, agent["id"], "Bought new slippers, the old ones fell apart.", now)

    august = search(api, agent["id"], "where did we have dinner in August 2023")
    may = search(api, agent["id"], "where did we eat in May 2023")
    yesterday = search(api, agent["id"], "what did I buy yesterday")
    explicit = api.get(
        f"/v1/agents/{agent['id']}/archival-memory/search",
        params={
            "query": "dinner in August 2023",
            "start_datetime": "2024-01-01T00:00:00Z",
            "end_datetime": "2024-12-31T00:00:00Z",
        },
    ).json()["results"]

    assert august[0] == dinners[datetime(2023, 8, 3, 19, tzinfo=UTC)]
    assert may[0] == dinners[datetime(2023, 5, 12, 19, tzinfo=UTC)]
    assert yesterday[0] == "Bought new running shoes at the outlet."
    # A range the caller gives wins over the words of the query.
    assert [hit["content"] for hit in explicit] == ["We had dinner at Pho Corner, lovely broth."]


def test_conversation_search_resolves_a_named_month_against_message_times(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    said = [
        (datetime(2023, 5, 12, 19, tzinfo=UTC), "We had dinner at Casa Brava, lovely paella."),
        (datetime(2023, 8, 3, 19, tzinfo=UTC), "We had dinner at Blue Anchor, lovely sea bass."),
        (datetime(2024, 1, 20, 19, tzinfo=UTC), "We had dinner at Pho Corner, lovely broth."),
    ]
    agent_id = import_history(api, said, "dated")

    found = api.post(
        "/v1/messages/search",
        json={"query": "where did we have dinner in August 2023", "agent_id": agent_id},
    )

    assert found.status_code == 200, found.text
    assert found.json()[0]["content"] == said[1][1]
    api.delete(f"/v1/agents/{agent_id}")
