"""The filters of ``GET /v1/blocks/`` through letta-client: substring searches on label,
description and value, tags (any or all), the number of agents holding a block, and the
template filters that match nothing on a server without templates."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from letta_client import Letta, NotFoundError, UnprocessableEntityError
from letta_client.types import BlockResponse

from tests.compat.conftest import AgentFactory


@pytest.fixture
def word() -> str:
    """A token no other test's block carries, so filters here see only these blocks."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def made(client: Letta) -> Iterator[list[BlockResponse]]:
    created: list[BlockResponse] = []
    yield created
    for block in created:
        with contextlib.suppress(NotFoundError):
            client.blocks.delete(block.id)


def _make(client: Letta, made: list[BlockResponse], **fields: Any) -> BlockResponse:
    block = client.blocks.create(**fields)
    made.append(block)
    return block


def _ids(blocks: list[BlockResponse]) -> set[str]:
    return {block.id for block in blocks}


def test_label_description_and_value_searches_match_parts_ignoring_case(
    client: Letta, made: list[BlockResponse], word: str
) -> None:
    notes = _make(
        client, made, label=f"notes-{word}", value=f"Likes {word.upper()} tea", description="x"
    )
    plans = _make(
        client, made, label=f"plans-{word}", value="nothing here", description=f"About {word}"
    )

    by_label = client.blocks.list(label_search=f"NOTES-{word}").items
    by_value = client.blocks.list(value_search=f"{word} TEA").items
    by_description = client.blocks.list(description_search=f"about {word}").items
    both = client.blocks.list(label_search=word).items

    assert _ids(by_label) == {notes.id}
    assert _ids(by_value) == {notes.id}
    assert _ids(by_description) == {plans.id}
    assert _ids(both) == {notes.id, plans.id}


def test_search_wildcards_are_taken_literally(
    client: Letta, made: list[BlockResponse], word: str
) -> None:
    _make(client, made, label=f"pct-{word}", value=f"{word} 100 percent")

    assert client.blocks.list(value_search=f"{word}%").items == []
    assert client.blocks.list(value_search=f"{word}_100").items == []


def test_tags_match_any_or_all(client: Letta, made: list[BlockResponse], word: str) -> None:
    red = f"red-{word}"
    blue = f"blue-{word}"
    only_red = _make(client, made, label=f"a-{word}", value="a", tags=[red])
    both = _make(client, made, label=f"b-{word}", value="b", tags=[red, blue])
    _make(client, made, label=f"c-{word}", value="c", tags=["other"])

    any_of = client.blocks.list(tags=[red, blue]).items
    all_of = client.blocks.list(tags=[red, blue], match_all_tags=True).items

    assert _ids(any_of) == {only_red.id, both.id}
    assert _ids(all_of) == {both.id}
    assert client.blocks.list(tags=[f"none-{word}"]).items == []


def test_connected_agent_counts(
    client: Letta, make_agent: AgentFactory, made: list[BlockResponse], word: str
) -> None:
    alone = _make(client, made, label=f"alone-{word}", value="x")
    once = _make(client, made, label=f"once-{word}", value="x")
    twice = _make(client, made, label=f"twice-{word}", value="x")
    make_agent(block_ids=[once.id, twice.id])
    make_agent(block_ids=[twice.id])

    def listed(**filters: Any) -> set[str]:
        return _ids(client.blocks.list(label_search=word, **filters).items)

    assert listed(connected_to_agents_count_gt=0) == {once.id, twice.id}
    assert listed(connected_to_agents_count_lt=2) == {alone.id, once.id}
    assert listed(connected_to_agents_count_eq=[0, 2]) == {alone.id, twice.id}
    assert listed(connected_to_agents_count_gt=0, connected_to_agents_count_lt=2) == {once.id}


def test_template_filters_match_no_block(
    client: Letta, made: list[BlockResponse], word: str
) -> None:
    block = _make(client, made, label=f"tpl-{word}", value="x")

    assert client.blocks.list(name=f"tpl-{word}").items == []
    assert client.blocks.list(label_search=word, templates_only=True).items == []
    assert _ids(client.blocks.list(label_search=word, templates_only=False).items) == {block.id}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("label_search", "x" * 51),
        ("value_search", "x" * 201),
        ("description_search", "x" * 201),
        ("name", "x" * 101),
        ("connected_to_agents_count_gt", "many"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(client: Letta, field: str, value: Any) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        client.blocks.list(extra_query={field: value})

    assert field in str(caught.value)
