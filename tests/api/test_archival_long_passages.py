"""A passage longer than the agent's embedding model reads (256 tokens for the local
model) is stored as several passages, each embedded whole, with the same tags and
metadata: so a sentence at the end of a long text is found by meaning, which a vector of
the text's opening alone could never do. Through REST, the archives' batch insert and
the archival_memory_insert tool; the single archive insert, which answers one passage,
refuses such a text instead (422, nothing stored)."""

from __future__ import annotations

from typing import Any

import httpx
from tokenizers import Tokenizer

from engram.memory.local_embedding import find_model_dir
from tests.api.conftest import AgentFactory, detail_text
from tests.fakes import FakeLLM, reply
from tests.helpers import send

PLANTED = "The spare key to the lighthouse is hidden under the third blue flowerpot."
QUESTION = "where is the spare key to the lighthouse hidden?"

DISTRACTORS = [
    "My dog Biscuit is a golden retriever who loves running on the beach.",
    "The quarterly tax filing for the company is due on April 15.",
    "Our team deploys the backend service every Tuesday afternoon.",
    "Grandma's apple pie recipe uses cinnamon, nutmeg and a butter crust.",
]


def long_text(sentences: int = 120) -> str:
    """About 2,000 tokens of pump maintenance notes, then the planted sentence last."""
    steps = [
        "prime the pump before the valve is opened",
        "check that the pressure gauge reads zero at rest",
        "replace the seals when they begin to crack",
        "never run the motor dry even for a few seconds",
        "log the flow rate at the start of every shift",
    ]
    notes = [f"Note {n}: {steps[n % len(steps)]}." for n in range(sentences)]
    paragraphs = [" ".join(notes[i : i + 10]) for i in range(0, len(notes), 10)]
    return "\n\n".join(paragraphs) + "\n\n" + PLANTED


def model_tokens(text: str) -> int:
    tokenizer = Tokenizer.from_file(str(find_model_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    return len(tokenizer.encode(text, add_special_tokens=True).ids)


def vector_search(api: httpx.Client, agent_id: str, query: str) -> list[dict[str, Any]]:
    response = api.get(
        f"/v1/agents/{agent_id}/archival-memory/search",
        params={"query": query, "search_mode": "vector", "top_k": 3},
    )
    assert response.status_code == 200, response.text
    return response.json()["results"]


def listed(api: httpx.Client, agent_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/agents/{agent_id}/archival-memory", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()


def assert_pieces_of(text: str, pieces: list[str]) -> None:
    """The pieces are the text in order, each within the model's 256 tokens."""
    assert len(pieces) > 3
    assert text.startswith(pieces[0]) and pieces[-1].endswith(PLANTED)
    assert max(model_tokens(piece) for piece in pieces) <= 256
    position = 0
    for piece in pieces:
        found = text.find(piece, max(0, position - len(piece)))
        assert found >= 0 and found + len(piece) > position
        position = found + len(piece)
    assert position == len(text)


def test_a_long_passage_is_stored_as_pieces_and_its_last_sentence_is_found(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    for fact in DISTRACTORS:
        api.post(f"/v1/agents/{agent['id']}/archival-memory", json={"text": fact})
    text = long_text()

    response = api.post(
        f"/v1/agents/{agent['id']}/archival-memory", json={"text": text, "tags": ["manual"]}
    )

    assert response.status_code == 200, response.text
    created = response.json()
    assert_pieces_of(text, [p["text"] for p in created])
    assert all(p["tags"] == ["manual"] for p in created)
    assert [p["id"] for p in listed(api, agent["id"])][len(DISTRACTORS) :] == [
        p["id"] for p in created
    ]
    best = vector_search(api, agent["id"], QUESTION)[0]
    assert PLANTED in best["content"]
    assert best["id"] == created[-1]["id"]


def test_a_short_passage_is_still_one_passage(api: httpx.Client, make_agent: AgentFactory) -> None:
    agent = make_agent()
    text = " ".join(["word"] * 250)  # 250 tokens + [CLS] and [SEP]: exactly what fits
    response = api.post(f"/v1/agents/{agent['id']}/archival-memory", json={"text": text})
    assert response.status_code == 200, response.text
    assert [p["text"] for p in response.json()] == [text]


def test_an_archive_batch_splits_a_long_text_and_keeps_tags_and_metadata(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    archive = api.post("/v1/archives/", json={"name": "manuals-long-batch"}).json()
    text = long_text()
    body = {
        "passages": [
            {"text": "A short note.", "tags": ["short"]},
            {"text": text, "tags": ["manual"], "metadata": {"source": "pump.pdf"}},
        ]
    }
    try:
        response = api.post(f"/v1/archives/{archive['id']}/passages/batch", json=body)
        assert response.status_code == 200, response.text
        created = response.json()
        assert created[0]["text"] == "A short note."
        pieces = created[1:]
        assert_pieces_of(text, [p["text"] for p in pieces])
        assert all(p["tags"] == ["manual"] for p in pieces)
        assert all(p["metadata"] == {"source": "pump.pdf"} for p in pieces)

        agent = make_agent()
        attached = api.patch(f"/v1/agents/{agent['id']}/archives/attach/{archive['id']}")
        assert attached.status_code == 200, attached.text
        assert PLANTED in vector_search(api, agent["id"], QUESTION)[0]["content"]
    finally:
        api.delete(f"/v1/archives/{archive['id']}")


def test_a_single_archive_insert_refuses_a_long_text_and_stores_nothing(
    api: httpx.Client,
) -> None:
    archive = api.post("/v1/archives/", json={"name": "manuals-long-single"}).json()
    try:
        response = api.post(f"/v1/archives/{archive['id']}/passages", json={"text": long_text()})
        assert response.status_code == 422, response.text
        message = detail_text(response)
        assert "text" in message and "254 tokens" in message and "passages/batch" in message
        found = api.post("/v1/passages/search", json={"archive_id": archive["id"]})
        assert found.status_code == 200 and found.json() == []
    finally:
        api.delete(f"/v1/archives/{archive['id']}")


def test_the_insert_tool_stores_a_long_content_as_pieces_and_says_how_many(
    api: httpx.Client, make_agent: AgentFactory, fake_llm: FakeLLM
) -> None:
    agent = make_agent(tools=["archival_memory_insert", "archival_memory_search"])
    text = long_text()
    fake_llm.script(
        reply.tool_call("archival_memory_insert", {"content": text, "tags": ["manual"]}),
        reply.text("Saved."),
    )

    body = send(api, agent["id"], "Please keep these notes.")

    (result,) = [m for m in body["messages"] if m["message_type"] == "tool_return_message"]
    assert result["status"] == "success", result["tool_return"]
    stored = listed(api, agent["id"])
    assert f"stored as {len(stored)} passages" in result["tool_return"]
    assert all(p["id"] in result["tool_return"] for p in stored)
    assert_pieces_of(text, [p["text"] for p in stored])
    assert all(p["tags"] == ["manual"] for p in stored)
    assert PLANTED in vector_search(api, agent["id"], QUESTION)[0]["content"]
