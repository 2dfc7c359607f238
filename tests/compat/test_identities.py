"""Identities through letta-client: an application serving several users ties each user's
agents and blocks to the user's identity and lists only those.

letta-client 1.12.1 has no ``client.identities`` resource: identities are made with the
SDK's generic ``client.post``/``client.delete``, as a user of that SDK would."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from letta_client import Letta, NotFoundError

from tests.compat.conftest import AgentFactory

IdentityFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_identity(client: Letta) -> Iterator[IdentityFactory]:
    created: list[str] = []

    def factory(**fields: Any) -> dict[str, Any]:
        body = {
            "identifier_key": f"user-{uuid.uuid4().hex[:8]}",
            "name": "Ada",
            "identity_type": "user",
            **fields,
        }
        made: dict[str, Any] = client.post("/v1/identities/", body=body, cast_to=dict)
        created.append(made["id"])
        return made

    yield factory
    for identity_id in created:
        with contextlib.suppress(NotFoundError):
            client.delete(f"/v1/identities/{identity_id}", cast_to=object)


def test_attach_and_detach_an_identity(
    client: Letta, make_agent: AgentFactory, make_identity: IdentityFactory
) -> None:
    identity = make_identity(
        properties=[{"key": "email", "value": "ada@example.com", "type": "string"}]
    )
    agent = make_agent()

    client.agents.identities.attach(identity["id"], agent_id=agent.id)
    attached = client.agents.retrieve(agent.id)
    assert attached.identity_ids == [identity["id"]]
    assert attached.identities is not None
    (seen,) = attached.identities
    assert (seen.id, seen.identifier_key, seen.identity_type) == (
        identity["id"],
        identity["identifier_key"],
        "user",
    )
    assert seen.agent_ids == [agent.id]
    assert seen.properties is not None and seen.properties[0].value == "ada@example.com"

    client.agents.identities.detach(identity["id"], agent_id=agent.id)
    detached = client.agents.retrieve(agent.id)
    assert detached.identity_ids == [] and detached.identities == []


def test_attaching_an_unknown_identity_is_not_found(
    client: Letta, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    missing = "identity-00000000-0000-4000-8000-000000000000"

    with pytest.raises(NotFoundError, match=missing):
        client.agents.identities.attach(missing, agent_id=agent.id)


def test_agent_list_filters_keep_each_users_agents_apart(
    client: Letta, make_agent: AgentFactory, make_identity: IdentityFactory
) -> None:
    alice, bob = make_identity(name="Alice"), make_identity(name="Bob")
    alices = {make_agent(identity_ids=[alice["id"]]).id for _ in range(3)}
    bobs = make_agent().id
    client.agents.update(bobs, identity_ids=[bob["id"]])
    make_agent()  # nobody's

    # limit=2 makes the SDK's auto-pagination fetch more pages, keeping the filter.
    by_id = {a.id for a in client.agents.list(identity_id=alice["id"], limit=2)}
    by_key = {a.id for a in client.agents.list(identifier_keys=[alice["identifier_key"]])}
    by_bob = [a.id for a in client.agents.list(identifier_keys=[bob["identifier_key"]])]

    assert by_id == alices and by_key == alices
    assert by_bob == [bobs]
    both = [alice["identifier_key"], bob["identifier_key"]]
    assert {a.id for a in client.agents.list(identifier_keys=both)} == {*alices, bobs}


def test_block_list_filters_by_identity(client: Letta, make_identity: IdentityFactory) -> None:
    alice = make_identity()
    mine = client.blocks.create(label="human", value="Alice likes tea")
    other = client.blocks.create(label="human", value="Someone else")
    try:
        client.patch(f"/v1/blocks/{mine.id}/identities/attach/{alice['id']}", cast_to=dict)

        by_id = [b.id for b in client.blocks.list(identity_id=alice["id"])]
        by_key = [b.id for b in client.blocks.list(identifier_keys=[alice["identifier_key"]])]

        assert by_id == [mine.id] and by_key == [mine.id]
        assert other.id not in by_id
    finally:
        client.blocks.delete(mine.id)
        client.blocks.delete(other.id)
