"""Archival memory over HTTP: insert, list, search by meaning and by keyword, filter, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, detail_text

PASSAGE_FIELDS = {
    "created_by_id", "last_updated_by_id", "created_at", "updated_at", "is_deleted",
    "organization_id", "archive_id", "source_id", "file_id", "file_name", "metadata", "tags",
    "id", "text", "embedding", "embedding_config",
}  # fmt: skip

FACTS = [
    "My dog Biscuit is a golden retriever who loves running on the beach.",
    "The quarterly tax filing for the company is due on April 15.",
    "I am severely allergic to peanuts and carry an epinephrine pen.",
    "Our team deploys the backend service every Tuesday afternoon.",
    "Grandma's apple pie recipe uses cinnamon, nutmeg and a butter crust.",
]


@pytest.fixture
def agent(make_agent: AgentFactory) -> dict[str, Any]:
    return make_agent()


def insert(api: httpx.Client, agent_id: str, text: str, **fields: Any) -> dict[str, Any]:
    response = api.post(f"/v1/agents/{agent_id}/archival-memory", json={"text": text, **fields})
    assert response.status_code == 200, response.text
    created = response.json()
    assert isinstance(created, list) and len(created) == 1
    return created[0]


def search(api: httpx.Client, agent_id: str, query: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get(
        f"/v1/agents/{agent_id}/archival-memory/search", params={"query": query, **params}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["results"])
    return body["results"]


def listed(api: httpx.Client, agent_id: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"/v1/agents/{agent_id}/archival-memory", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def contents(results: list[dict[str, Any]]) -> list[str]:
    return [result["content"] for result in results]


def when(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- insert & list


def test_insert_returns_one_contract_passage(api: httpx.Client, agent: dict[str, Any]) -> None:
    passage = insert(api, agent["id"], "The sky was green on Tuesday.", tags=["weather"])

    assert set(passage) >= PASSAGE_FIELDS, PASSAGE_FIELDS - set(passage)
    assert passage["id"].startswith("passage-")
    assert passage["text"] == "The sky was green on Tuesday."
    assert passage["tags"] == ["weather"]
    assert passage["embedding_config"]["embedding_dim"] == 384
    assert passage["created_at"] is not None


def test_listed_passages_come_back_in_insertion_order(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    made = [insert(api, agent["id"], fact) for fact in FACTS]

    assert [p["id"] for p in listed(api, agent["id"])] == [p["id"] for p in made]
    assert [p["text"] for p in listed(api, agent["id"])] == FACTS


def test_list_passages_pages_with_after_before_limit_and_descending(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    made = [insert(api, agent["id"], fact)["id"] for fact in FACTS]

    first = listed(api, agent["id"], limit=2)
    second = listed(api, agent["id"], limit=2, after=first[-1]["id"])
    earlier = listed(api, agent["id"], before=made[2])
    newest_first = listed(api, agent["id"], ascending="false")
    newest_page_two = listed(api, agent["id"], ascending="false", limit=2, after=made[3])

    assert [p["id"] for p in first] == made[:2]
    assert [p["id"] for p in second] == made[2:4]
    assert [p["id"] for p in earlier] == made[:2]
    assert [p["id"] for p in newest_first] == made[::-1]
    assert [p["id"] for p in newest_page_two] == [made[2], made[1]]


def test_list_passages_search_parameter_filters_by_text(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    for fact in FACTS:
        insert(api, agent["id"], fact)

    found = listed(api, agent["id"], search="peanuts")

    assert [p["text"] for p in found] == [FACTS[2]]


def test_passages_are_private_to_their_agent(api: httpx.Client, make_agent: AgentFactory) -> None:
    mine, other = make_agent(), make_agent()
    insert(api, mine["id"], "Only mine: the vault code is 9182.")

    assert listed(api, other["id"]) == []
    assert search(api, other["id"], "vault code 9182") == []


# --------------------------------------------------------------------------- search


def test_search_result_has_the_contract_shape(api: httpx.Client, agent: dict[str, Any]) -> None:
    passage = insert(api, agent["id"], FACTS[0], tags=["pets"])

    results = search(api, agent["id"], "dog")

    assert results == [
        {
            "id": passage["id"],
            "timestamp": results[0]["timestamp"],
            "content": FACTS[0],
            "tags": ["pets"],
            # Engram adds provenance: a client wrote this one, through the API.
            "source": {
                "written_by": "client",
                "agent_id": agent["id"],
                "archive_id": None,
                "run_id": None,
                "step_id": None,
                "message_id": None,
                "message_deleted_at": None,
            },
        }
    ]
    assert when(results[0]["timestamp"]) == when(passage["created_at"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("which animal lives with me", FACTS[0]),
        ("When must we submit our taxes?", FACTS[1]),
        ("Which foods should I avoid eating?", FACTS[2]),
        ("How often do we ship new releases of the server?", FACTS[3]),
        ("dessert baking instructions", FACTS[4]),
    ],
)
def test_search_finds_a_passage_by_a_paraphrase(
    api: httpx.Client, agent: dict[str, Any], query: str, expected: str
) -> None:
    for fact in FACTS:
        insert(api, agent["id"], fact)

    results = search(api, agent["id"], query)

    assert contents(results)[0] == expected


def test_search_is_not_swayed_by_a_stop_word_shared_with_an_unrelated_passage(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    """ "I" in the question must not lift "I am severely allergic..." above the dog passage,
    which is the only one about pets."""
    for fact in FACTS:
        insert(api, agent["id"], fact)

    results = search(api, agent["id"], "What kind of pet do I have?")

    assert contents(results)[0] == FACTS[0]


def test_search_finds_an_exact_ticket_code_among_similar_passages(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    target = "Ticket ZX-4471: the customer cannot reset their password from the mobile app."
    distractors = [
        "Ticket QM-2093: the customer cannot reset their password from the website.",
        "Ticket BR-1187: the customer cannot log in from the mobile app.",
        "Ticket KL-5520: password reset emails arrive late for some customers.",
        "Ticket ZZ-0001: the mobile app crashes when the customer opens settings.",
    ]
    for text in [*distractors[:2], target, *distractors[2:]]:
        insert(api, agent["id"], text)

    results = search(api, agent["id"], "ticket ZX-4471")

    assert contents(results)[0] == target


def test_search_finds_a_code_that_has_no_meaning_to_the_embedding(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    for fact in FACTS:
        insert(api, agent["id"], fact)
    coded = insert(api, agent["id"], "Reference number 8f3k-22qx was issued for the refund.")

    results = search(api, agent["id"], "8f3k-22qx")

    assert results[0]["id"] == coded["id"]


def test_search_top_k_limits_the_number_of_results(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    for fact in FACTS:
        insert(api, agent["id"], fact)

    assert len(search(api, agent["id"], "anything at all", top_k=2)) == 2
    assert len(search(api, agent["id"], "anything at all")) == len(FACTS)


def test_search_of_an_agent_without_passages_is_empty(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    assert search(api, agent["id"], "anything") == []


# --------------------------------------------------------------------------- tag filters


@pytest.fixture
def tagged(api: httpx.Client, agent: dict[str, Any]) -> dict[str, str]:
    """Four passages about food, tagged differently; returns tag-set name -> passage id."""
    rows = {
        "a": ("Pasta with tomato sauce is a quick dinner.", ["italian"]),
        "ab": ("Pizza margherita needs tomato, mozzarella and basil.", ["italian", "vegetarian"]),
        "b": ("A lentil curry is a filling vegetarian dinner.", ["vegetarian"]),
        "none": ("Grilled steak with pepper sauce for dinner.", []),
    }
    return {
        key: insert(api, agent["id"], text, tags=tags)["id"] for key, (text, tags) in rows.items()
    }


def test_search_tag_filter_any_matches_passages_with_at_least_one_tag(
    api: httpx.Client, agent: dict[str, Any], tagged: dict[str, str]
) -> None:
    results = search(
        api, agent["id"], "dinner", tags=["italian", "vegetarian"], tag_match_mode="any"
    )

    assert {r["id"] for r in results} == {tagged["a"], tagged["ab"], tagged["b"]}


def test_search_tag_filter_defaults_to_any(
    api: httpx.Client, agent: dict[str, Any], tagged: dict[str, str]
) -> None:
    results = search(api, agent["id"], "dinner", tags=["vegetarian"])

    assert {r["id"] for r in results} == {tagged["ab"], tagged["b"]}


def test_search_tag_filter_all_needs_every_tag(
    api: httpx.Client, agent: dict[str, Any], tagged: dict[str, str]
) -> None:
    results = search(
        api, agent["id"], "dinner", tags=["italian", "vegetarian"], tag_match_mode="all"
    )

    assert [r["id"] for r in results] == [tagged["ab"]]
    assert sorted(results[0]["tags"]) == ["italian", "vegetarian"]


def test_search_tag_filter_finds_a_rare_tag_among_many_better_matches(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    """A filter restricts which passages count; it must not depend on how many others
    outrank the matching passage for the query."""
    for i in range(100):
        insert(api, agent["id"], f"Cooking recipe number {i}: simmer the soup slowly.")
    rare = insert(
        api, agent["id"], "The spare house key is under the blue flowerpot.", tags=["rare"]
    )

    results = search(api, agent["id"], "cooking recipe soup", tags=["rare"])

    assert [r["id"] for r in results] == [rare["id"]]


# --------------------------------------------------------------------------- date filters


@pytest.fixture
def dated(api: httpx.Client, agent: dict[str, Any]) -> dict[str, str]:
    rows = {
        "2023": ("Meeting notes from the January planning session.", "2023-01-15T10:00:00Z"),
        "2024": ("Meeting notes from the June planning session.", "2024-06-01T10:00:00Z"),
        "2025": ("Meeting notes from the February planning session.", "2025-02-01T10:00:00Z"),
    }
    return {
        key: insert(api, agent["id"], text, created_at=at)["id"] for key, (text, at) in rows.items()
    }


def test_passage_created_at_is_the_time_given(
    api: httpx.Client, agent: dict[str, Any], dated: dict[str, str]
) -> None:
    by_id = {p["id"]: p for p in listed(api, agent["id"])}

    assert when(by_id[dated["2024"]]["created_at"]) == datetime(2024, 6, 1, 10, tzinfo=UTC)


def test_passage_created_at_with_an_offset_keeps_the_same_instant(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    made = insert(api, agent["id"], "Offset passage.", created_at="2024-06-01T12:00:00+02:00")

    stored = listed(api, agent["id"])[0]

    assert when(made["created_at"]) == datetime(2024, 6, 1, 10, tzinfo=UTC)
    assert when(stored["created_at"]) == datetime(2024, 6, 1, 10, tzinfo=UTC)


def test_search_date_range_keeps_passages_inside_it(
    api: httpx.Client, agent: dict[str, Any], dated: dict[str, str]
) -> None:
    results = search(
        api,
        agent["id"],
        "meeting notes",
        start_datetime="2024-01-01T00:00:00Z",
        end_datetime="2024-12-31T23:59:59Z",
    )

    assert [r["id"] for r in results] == [dated["2024"]]


def test_search_start_only_keeps_later_passages(
    api: httpx.Client, agent: dict[str, Any], dated: dict[str, str]
) -> None:
    results = search(api, agent["id"], "meeting notes", start_datetime="2024-01-01")

    assert {r["id"] for r in results} == {dated["2024"], dated["2025"]}


def test_search_end_only_keeps_earlier_passages(
    api: httpx.Client, agent: dict[str, Any], dated: dict[str, str]
) -> None:
    results = search(api, agent["id"], "meeting notes", end_datetime="2024-12-31T00:00:00+00:00")

    assert {r["id"] for r in results} == {dated["2023"], dated["2024"]}


def test_search_with_a_bad_date_is_422_naming_the_parameter(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    response = api.get(
        f"/v1/agents/{agent['id']}/archival-memory/search",
        params={"query": "x", "start_datetime": "last tuesday"},
    )

    assert response.status_code == 422
    assert "start_datetime" in detail_text(response)


# --------------------------------------------------------------------------- delete


def test_deleted_passage_leaves_list_and_search(api: httpx.Client, agent: dict[str, Any]) -> None:
    made = [insert(api, agent["id"], fact) for fact in FACTS]
    dog = made[0]
    assert search(api, agent["id"], "pet dog")[0]["id"] == dog["id"]

    response = api.delete(f"/v1/agents/{agent['id']}/archival-memory/{dog['id']}")

    assert response.status_code == 200
    assert dog["id"] not in [p["id"] for p in listed(api, agent["id"])]
    assert dog["id"] not in [r["id"] for r in search(api, agent["id"], "pet dog Biscuit")]
    assert len(listed(api, agent["id"])) == len(FACTS) - 1


def test_deleting_a_passage_twice_gives_404_naming_it(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    passage = insert(api, agent["id"], "short lived")
    path = f"/v1/agents/{agent['id']}/archival-memory/{passage['id']}"

    assert api.delete(path).status_code == 200
    again = api.delete(path)

    assert again.status_code == 404
    assert passage["id"] in detail_text(again)


def test_passage_inserted_after_deleting_the_newest_is_ranked_by_its_own_meaning(
    api: httpx.Client, agent: dict[str, Any]
) -> None:
    """Deleting the newest passage and inserting another must not leave the new passage
    searched with the deleted passage's embedding."""
    insert(api, agent["id"], "I get hay fever every spring.")
    dog = insert(api, agent["id"], "My dog Biscuit is a golden retriever.")
    assert search(api, agent["id"], "golden retriever puppy")[0]["id"] == dog["id"]
    assert api.delete(f"/v1/agents/{agent['id']}/archival-memory/{dog['id']}").status_code == 200
    peanuts = insert(api, agent["id"], "I am allergic to peanuts.")

    results = search(api, agent["id"], "nut intolerance reaction")

    assert [r["id"] for r in results][0] == peanuts["id"]
