"""Identities through ``engram.Engram``: the same operations as the REST API, answering
with the same shapes, refusing the same bad input naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engram import Engram
from engram.errors import Conflict, InvalidInput, NotFound
from tests.client.shapes import new_agent, shape


def rest(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_identity_lifecycle_answers_as_the_api_does(
    engram_client: Engram, api: httpx.Client
) -> None:
    props = [{"key": "email", "value": "a@x", "type": "string"}]
    made = engram_client.identities.create(
        identifier_key="user-1", name="Ada", identity_type="user", properties=props
    )
    over_http = rest(
        api.post(
            "/v1/identities/",
            json={"identifier_key": f"shape-{made.id}", "name": "A", "identity_type": "user"},
        )
    )
    api.delete(f"/v1/identities/{over_http['id']}")

    assert made.id.startswith("identity-") and made.identifier_key == "user-1"
    assert shape(made) == shape({**over_http, "properties": props})
    assert engram_client.identities.retrieve(made.id) == made
    assert engram_client.identities.count() == 1
    assert [i.id for i in engram_client.identities.list(identifier_key="user-1")] == [made.id]
    assert engram_client.identities.list(identity_type="org") == []

    changed = engram_client.identities.update(
        made.id, name="Ada L", properties=[{"key": "plan", "value": "pro", "type": "string"}]
    )
    assert changed.name == "Ada L"
    assert [p.key for p in changed.properties] == ["email", "plan"]
    replaced = engram_client.identities.properties.upsert(
        made.id, body=[{"key": "vip", "value": True, "type": "boolean"}]
    )
    assert [(p.key, p.value) for p in replaced.properties] == [("vip", True)]
    again = engram_client.identities.upsert(
        identifier_key="user-1", name="Ada B", identity_type="other"
    )
    assert (again.id, again.name, again.identity_type) == (made.id, "Ada B", "other")

    engram_client.identities.delete(made.id)
    with pytest.raises(NotFound, match=made.id):
        engram_client.identities.retrieve(made.id)


def test_agents_and_blocks_of_an_identity(engram_client: Engram) -> None:
    alice = engram_client.identities.create(
        identifier_key="alice", name="Alice", identity_type="user"
    )
    bob = engram_client.identities.create(identifier_key="bob", name="Bob", identity_type="user")
    alices, bobs = new_agent(engram_client), new_agent(engram_client)

    attached = engram_client.agents.identities.attach(alice.id, agent_id=alices)
    assert attached.identity_ids == [alice.id]  # type: ignore[attr-defined]
    engram_client.agents.identities.attach(bob.id, agent_id=bobs)

    assert [a.id for a in engram_client.agents.list(identity_id=alice.id)] == [alices]
    assert [a.id for a in engram_client.agents.list(identifier_keys=["bob"])] == [bobs]
    assert [a.id for a in engram_client.identities.agents.list(alice.id)] == [alices]

    block = engram_client.blocks.create(label="human", value="Alice likes tea")
    engram_client.blocks.identities.attach(alice.id, block_id=block.id)
    assert [b.id for b in engram_client.blocks.list(identity_id=alice.id)] == [block.id]
    assert [b.id for b in engram_client.identities.blocks.list(alice.id)] == [block.id]
    engram_client.blocks.identities.detach(alice.id, block_id=block.id)
    assert engram_client.blocks.list(identifier_keys=["alice"]) == []

    detached = engram_client.agents.identities.detach(alice.id, agent_id=alices)
    assert detached.identity_ids == []  # type: ignore[attr-defined]


def test_bad_input_is_refused_naming_the_field(engram_client: Engram) -> None:
    engram_client.identities.create(identifier_key="k", name="n", identity_type="user")

    with pytest.raises(Conflict, match="identifier_key"):
        engram_client.identities.create(identifier_key="k", name="m", identity_type="org")
    with pytest.raises(InvalidInput) as bad_value:
        engram_client.identities.create(
            identifier_key="k2",
            name="n",
            identity_type="user",
            properties=[{"key": "age", "value": "ten", "type": "number"}],
        )
    assert bad_value.value.field == "properties.0.value"
    with pytest.raises(InvalidInput) as bad_type:
        engram_client.identities.create(
            identifier_key="k3",
            name="n",
            identity_type="robot",  # type: ignore[arg-type]
        )
    assert bad_type.value.field == "identity_type"
    with pytest.raises(InvalidInput) as bad_limit:
        engram_client.identities.list(limit=0)
    assert bad_limit.value.field == "limit"
    assert engram_client.identities.count() == 1
