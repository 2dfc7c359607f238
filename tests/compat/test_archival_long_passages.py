"""A long passage through letta-client: stored as several passages (Letta's insert already
answers a list), each embedded whole, so a sentence at its end is found by meaning; the
single archive insert, which answers one passage, refuses it with a 422."""

from __future__ import annotations

import uuid

import pytest
from letta_client import Letta, UnprocessableEntityError

from tests.api.test_archival_long_passages import PLANTED, QUESTION, long_text
from tests.compat.conftest import AgentFactory


def test_a_long_passage_comes_back_as_several_and_its_end_is_found(
    client: Letta, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    client.agents.passages.create(agent.id, text="My dog Biscuit loves the beach.")
    text = long_text()

    created = client.agents.passages.create(agent.id, text=text, tags=["manual"])

    assert len(created) > 3
    assert created[0].text and text.startswith(created[0].text)
    assert created[-1].text and created[-1].text.endswith(PLANTED)
    assert all(p.tags == ["manual"] for p in created)
    found = client.agents.passages.search(agent.id, query=QUESTION, top_k=1)
    assert found.results[0].content is not None and PLANTED in found.results[0].content


def test_a_single_archive_passage_too_long_for_the_model_is_refused(client: Letta) -> None:
    archive = client.archives.create(name=f"long-{uuid.uuid4().hex[:8]}")
    try:
        with pytest.raises(UnprocessableEntityError) as refused:
            client.archives.passages.create(archive.id, text=long_text())
        assert "passages/batch" in str(refused.value.body)
        many = client.archives.passages.create_many(archive.id, passages=[{"text": long_text()}])
        assert len(many) > 3 and many[-1].text is not None and many[-1].text.endswith(PLANTED)
    finally:
        client.archives.delete(archive.id)
