"""/v1/identities over HTTP: the users an integration serves, the agents and blocks that
belong to each, and the agent and block listings narrowed to one user's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory, detail_text, error_fields

IDENTITY_FIELDS = {
    "id", "identifier_key", "name", "identity_type", "project_id", "agent_ids", "block_ids",
    "organization_id", "properties",
}  # fmt: skip
MISSING_IDENTITY = "identity-00000000-0000-4000-8000-000000000000"
MISSING_AGENT = "agent-00000000-0000-4000-8000-000000000000"
MISSING_BLOCK = "block-00000000-0000-4000-8000-000000000000"


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_identity(api: httpx.Client) -> Iterator[Any]:
    """Create identities (a fresh identifier key unless given); deleted afterwards."""
    created: list[str] = []

    def factory(**fields: Any) -> dict[str, Any]:
        body = {"identifier_key": unique("user"), "name": "Ada", "identity_type": "user"}
        response = api.post("/v1/identities/", json={**body, **fields})
        assert response.status_code == 200, response.text
        created.append(response.json()["id"])
        return response.json()

    yield factory
    for identity_id in created:
        api.delete(f"/v1/identities/{identity_id}")


def make_block(api: httpx.Client, label: str = "human") -> dict[str, Any]:
    response = api.post("/v1/blocks/", json={"label": label, "value": unique("value")})
    assert response.status_code == 200, response.text
    return response.json()


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def identity_count(api: httpx.Client) -> int:
    return int(ok(api.get("/v1/identities/count")))


# --------------------------------------------------------------------------- create, read


def test_created_identity_has_letta_shape_and_reads_back(
    api: httpx.Client, make_identity: Any
) -> None:
    key = unique("user")
    properties = [
        {"key": "email", "value": "ada@example.com", "type": "string"},
        {"key": "age", "value": 36, "type": "number"},
        {"key": "vip", "value": True, "type": "boolean"},
        {"key": "prefs", "value": {"tone": "brief"}, "type": "json"},
    ]
    created = make_identity(identifier_key=key, name="Ada L", properties=properties)

    assert set(created) == IDENTITY_FIELDS
    assert created["id"].startswith("identity-") and len(created["id"]) == 45
    assert created["identifier_key"] == key
    assert created["identity_type"] == "user"
    assert created["project_id"] is None
    assert created["agent_ids"] == [] and created["block_ids"] == []
    assert created["properties"] == properties
    assert ok(api.get(f"/v1/identities/{created['id']}")) == created


def test_count_follows_creation_and_deletion(api: httpx.Client, make_identity: Any) -> None:
    before = identity_count(api)
    first = make_identity()
    make_identity()
    assert identity_count(api) == before + 2

    assert api.delete(f"/v1/identities/{first['id']}").status_code == 200
    assert identity_count(api) == before + 1


def test_a_duplicate_identifier_key_is_a_409_naming_it(
    api: httpx.Client, make_identity: Any
) -> None:
    key = unique("user")
    make_identity(identifier_key=key)
    before = identity_count(api)

    again = api.post(
        "/v1/identities/", json={"identifier_key": key, "name": "Other", "identity_type": "org"}
    )

    assert again.status_code == 409
    assert key in detail_text(again) and "identifier_key" in detail_text(again)
    assert again.headers["x-should-retry"] == "false"
    assert identity_count(api) == before


def test_the_key_is_unique_per_project(api: httpx.Client, make_identity: Any) -> None:
    key = unique("user")
    plain = make_identity(identifier_key=key)
    in_a = make_identity(identifier_key=key, project_id="project-a")
    in_b = make_identity(identifier_key=key, project_id="project-b")

    assert len({plain["id"], in_a["id"], in_b["id"]}) == 3
    assert in_a["project_id"] == "project-a"
    body = {"identifier_key": key, "name": "x", "identity_type": "user", "project_id": "project-a"}
    duplicate = api.post("/v1/identities/", json=body)
    assert duplicate.status_code == 409
    assert "project-a" in detail_text(duplicate)


def test_create_with_agents_and_blocks_links_them(
    api: httpx.Client, make_identity: Any, make_agent: AgentFactory
) -> None:
    agent = make_agent()
    block = make_block(api)
    created = make_identity(agent_ids=[agent["id"]], block_ids=[block["id"]])

    assert created["agent_ids"] == [agent["id"]]
    assert created["block_ids"] == [block["id"]]
    assert ok(api.get(f"/v1/agents/{agent['id']}"))["identity_ids"] == [created["id"]]


def test_create_naming_an_unknown_agent_or_block_is_a_404_and_writes_nothing(
    api: httpx.Client,
) -> None:
    before = identity_count(api)
    for field, missing in (("agent_ids", MISSING_AGENT), ("block_ids", MISSING_BLOCK)):
        body = {
            "identifier_key": unique("user"),
            "name": "x",
            "identity_type": "user",
            field: [missing],
        }
        response = api.post("/v1/identities/", json=body)
        assert response.status_code == 404, response.text
        assert missing in detail_text(response)
    assert identity_count(api) == before


@pytest.mark.parametrize(
    ("prop", "field"),
    [
        ({"key": "age", "value": "old", "type": "number"}, "value"),
        ({"key": "vip", "value": 1, "type": "boolean"}, "value"),
        ({"key": "n", "value": True, "type": "number"}, "value"),
        ({"key": "prefs", "value": "{}", "type": "json"}, "value"),
        ({"key": "name", "value": 3, "type": "string"}, "value"),
        ({"key": "k", "value": "v", "type": "date"}, "type"),
        ({"key": "", "value": "v", "type": "string"}, "key"),
    ],
)
def test_a_bad_property_is_a_422_naming_the_field(
    api: httpx.Client, prop: dict[str, Any], field: str
) -> None:
    before = identity_count(api)
    body = {
        "identifier_key": unique("user"),
        "name": "x",
        "identity_type": "user",
        "properties": [prop],
    }
    response = api.post("/v1/identities/", json=body)

    assert response.status_code == 422, response.text
    assert field in error_fields(response)
    assert identity_count(api) == before


def test_bad_identity_fields_are_422s_naming_them(api: httpx.Client) -> None:
    for body, field in (
        ({"identifier_key": "k", "name": "x", "identity_type": "robot"}, "identity_type"),
        ({"name": "x", "identity_type": "user"}, "identifier_key"),
        ({"identifier_key": "k", "identity_type": "user"}, "name"),
    ):
        response = api.post("/v1/identities/", json=body)
        assert response.status_code == 422, response.text
        assert field in error_fields(response)


def test_repeated_property_keys_are_refused(api: httpx.Client) -> None:
    props = [
        {"key": "email", "value": "a@x", "type": "string"},
        {"key": "email", "value": "b@x", "type": "string"},
    ]
    body = {"identifier_key": unique("u"), "name": "x", "identity_type": "user"}
    response = api.post("/v1/identities/", json={**body, "properties": props})

    assert response.status_code == 422
    assert "properties" in error_fields(response)
    assert "email" in detail_text(response)


# --------------------------------------------------------------------------- list


def test_list_filters_by_each_field(api: httpx.Client, make_identity: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    user = make_identity(name=f"Grace {tag} Hopper", identity_type="user")
    org = make_identity(name=f"Navy {tag}", identity_type="org", project_id=f"p-{tag}")
    other = make_identity(name=f"Bot {tag}", identity_type="other")

    def listed(**params: Any) -> list[str]:
        return ids(ok(api.get("/v1/identities/", params={"limit": 1000, **params})))

    assert set(listed(name=tag)) == {user["id"], org["id"], other["id"]}
    assert listed(name=f"GRACE {tag}") == [user["id"]]
    assert listed(project_id=f"p-{tag}") == [org["id"]]
    assert listed(identifier_key=other["identifier_key"]) == [other["id"]]
    assert listed(name=tag, identity_type="org") == [org["id"]]
    assert listed(name=tag, identity_type="user") == [user["id"]]
    bad = api.get("/v1/identities/", params={"identity_type": "robot"})
    assert bad.status_code == 422 and "identity_type" in error_fields(bad)


def test_list_pages_with_cursors_newest_first_by_default(
    api: httpx.Client, make_identity: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    made = [make_identity(name=f"{tag}-{n}")["id"] for n in range(4)]

    def listed(**params: Any) -> list[str]:
        return ids(ok(api.get("/v1/identities/", params={"name": tag, **params})))

    assert listed() == made[::-1]
    assert listed(order="asc") == made
    assert listed(order="asc", limit=2) == made[:2]
    assert listed(order="asc", after=made[1]) == made[2:]
    assert listed(order="asc", before=made[2]) == made[:2]
    assert listed(after=made[2]) == made[1::-1]
    missing = api.get("/v1/identities/", params={"after": MISSING_IDENTITY})
    assert missing.status_code == 404


# --------------------------------------------------------------------------- change


def test_update_changes_fields_merges_properties_and_adds_agents(
    api: httpx.Client, make_identity: Any, make_agent: AgentFactory
) -> None:
    first, second = make_agent(), make_agent()
    identity = make_identity(
        agent_ids=[first["id"]],
        properties=[
            {"key": "email", "value": "a@x", "type": "string"},
            {"key": "plan", "value": "free", "type": "string"},
        ],
    )
    new_key = unique("renamed")

    changed = ok(
        api.patch(
            f"/v1/identities/{identity['id']}",
            json={
                "identifier_key": new_key,
                "name": "Ada Byron",
                "identity_type": "other",
                "agent_ids": [second["id"]],
                "properties": [
                    {"key": "plan", "value": "pro", "type": "string"},
                    {"key": "seats", "value": 3, "type": "number"},
                ],
            },
        )
    )

    assert changed["identifier_key"] == new_key
    assert changed["name"] == "Ada Byron" and changed["identity_type"] == "other"
    assert set(changed["agent_ids"]) == {first["id"], second["id"]}
    assert changed["properties"] == [
        {"key": "email", "value": "a@x", "type": "string"},
        {"key": "plan", "value": "pro", "type": "string"},
        {"key": "seats", "value": 3, "type": "number"},
    ]
    assert ok(api.get(f"/v1/identities/{identity['id']}")) == changed


def test_update_to_a_taken_key_is_a_409_and_changes_nothing(
    api: httpx.Client, make_identity: Any
) -> None:
    taken = make_identity()
    mine = make_identity(name="Mine")

    response = api.patch(
        f"/v1/identities/{mine['id']}",
        json={"identifier_key": taken["identifier_key"], "name": "Changed"},
    )

    assert response.status_code == 409
    assert taken["identifier_key"] in detail_text(response)
    assert ok(api.get(f"/v1/identities/{mine['id']}")) == mine


def test_upsert_creates_then_replaces_the_identity_with_that_key(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    first, second = make_agent(), make_agent()
    key = unique("user")
    body = {
        "identifier_key": key,
        "name": "Ada",
        "identity_type": "user",
        "agent_ids": [first["id"]],
        "properties": [{"key": "email", "value": "a@x", "type": "string"}],
    }
    created = ok(api.put("/v1/identities/", json=body))
    try:
        replaced = ok(
            api.put(
                "/v1/identities/",
                json={
                    **body,
                    "name": "Ada B",
                    "identity_type": "org",
                    "agent_ids": [second["id"]],
                    "properties": [{"key": "plan", "value": "pro", "type": "string"}],
                },
            )
        )

        assert replaced["id"] == created["id"]
        assert replaced["name"] == "Ada B" and replaced["identity_type"] == "org"
        assert replaced["agent_ids"] == [second["id"]]
        assert replaced["properties"] == [{"key": "plan", "value": "pro", "type": "string"}]
        listed = ok(api.get("/v1/identities/", params={"identifier_key": key}))
        assert ids(listed) == [created["id"]]
    finally:
        api.delete(f"/v1/identities/{created['id']}")


def test_properties_put_replaces_the_whole_set(api: httpx.Client, make_identity: Any) -> None:
    identity = make_identity(properties=[{"key": "email", "value": "a@x", "type": "string"}])
    new = [{"key": "vip", "value": False, "type": "boolean"}]

    answered = ok(api.put(f"/v1/identities/{identity['id']}/properties", json=new))

    assert answered["properties"] == new
    assert ok(api.get(f"/v1/identities/{identity['id']}"))["properties"] == new
    assert ok(api.put(f"/v1/identities/{identity['id']}/properties", json=[]))["properties"] == []


def test_properties_put_refuses_a_bad_value_and_keeps_the_old_set(
    api: httpx.Client, make_identity: Any
) -> None:
    old = [{"key": "email", "value": "a@x", "type": "string"}]
    identity = make_identity(properties=old)

    response = api.put(
        f"/v1/identities/{identity['id']}/properties",
        json=[{"key": "age", "value": "ten", "type": "number"}],
    )

    assert response.status_code == 422
    assert "value" in error_fields(response)
    assert ok(api.get(f"/v1/identities/{identity['id']}"))["properties"] == old


# --------------------------------------------------------------------------- agents


def test_attach_and_detach_an_agent(
    api: httpx.Client, make_identity: Any, make_agent: AgentFactory
) -> None:
    identity = make_identity()
    agent = make_agent()

    attached = ok(api.patch(f"/v1/agents/{agent['id']}/identities/attach/{identity['id']}"))
    assert attached["identity_ids"] == [identity["id"]]
    assert attached["identities"][0]["id"] == identity["id"]
    assert attached["identities"][0]["agent_ids"] == [agent["id"]]
    # Attaching twice is harmless.
    ok(api.patch(f"/v1/agents/{agent['id']}/identities/attach/{identity['id']}"))
    assert ok(api.get(f"/v1/identities/{identity['id']}"))["agent_ids"] == [agent["id"]]

    detached = ok(api.patch(f"/v1/agents/{agent['id']}/identities/detach/{identity['id']}"))
    assert detached["identity_ids"] == [] and detached["identities"] == []
    assert ok(api.get(f"/v1/identities/{identity['id']}"))["agent_ids"] == []


def test_agent_create_and_update_set_its_identities(
    api: httpx.Client, make_identity: Any, make_agent: AgentFactory
) -> None:
    first, second = make_identity(), make_identity()
    agent = make_agent(identity_ids=[first["id"]])
    assert agent["identity_ids"] == [first["id"]]
    assert agent["identities"][0]["identifier_key"] == first["identifier_key"]

    changed = ok(api.patch(f"/v1/agents/{agent['id']}", json={"identity_ids": [second["id"]]}))
    assert changed["identity_ids"] == [second["id"]]
    untouched = ok(api.patch(f"/v1/agents/{agent['id']}", json={"description": "d"}))
    assert untouched["identity_ids"] == [second["id"]]


def test_agent_create_naming_an_unknown_identity_is_a_404_and_creates_nothing(
    api: httpx.Client,
) -> None:
    before = len(ok(api.get("/v1/agents/", params={"limit": 1000})))
    response = api.post(
        "/v1/agents/", json={"model": "openai/gpt-4o-mini", "identity_ids": [MISSING_IDENTITY]}
    )
    assert response.status_code == 404
    assert MISSING_IDENTITY in detail_text(response)
    assert len(ok(api.get("/v1/agents/", params={"limit": 1000}))) == before


def test_agent_list_and_count_show_only_the_users_agents(
    api: httpx.Client, make_identity: Any, make_agent: AgentFactory
) -> None:
    alice, bob = make_identity(name="Alice"), make_identity(name="Bob")
    alices = [make_agent(identity_ids=[alice["id"]]) for _ in range(2)]
    bobs = make_agent(identity_ids=[bob["id"]])
    make_agent()  # nobody's

    def listed(**params: Any) -> list[str]:
        return ids(ok(api.get("/v1/agents/", params={"limit": 1000, **params})))

    def counted(**params: Any) -> int:
        return int(ok(api.get("/v1/agents/count", params=params)))

    assert listed(identity_id=alice["id"]) == ids(alices)[::-1]
    assert bobs["id"] not in listed(identity_id=alice["id"])
    assert listed(identifier_keys=[alice["identifier_key"]]) == ids(alices)[::-1]
    both = [alice["identifier_key"], bob["identifier_key"]]
    assert set(listed(identifier_keys=both)) == {*ids(alices), bobs["id"]}
    assert listed(identifier_keys=[unique("nobody")]) == []
    assert counted(identity_id=alice["id"]) == 2
    assert counted(identifier_keys=[bob["identifier_key"]]) == 1
    assert counted(identifier_keys=both) == 3
    assert api.get("/v1/agents/", params={"identity_id": MISSING_IDENTITY}).status_code == 404
    assert api.get("/v1/agents/count", params={"identity_id": MISSING_IDENTITY}).status_code == 404


def test_identity_agents_listing_pages_with_cursors(
    api: httpx.Client, make_identity: Any, make_agent: AgentFactory
) -> None:
    identity = make_identity()
    made = ids([make_agent(identity_ids=[identity["id"]]) for _ in range(3)])
    make_agent()  # another's
    path = f"/v1/identities/{identity['id']}/agents"

    assert ids(ok(api.get(path))) == made[::-1]
    assert ids(ok(api.get(path, params={"order": "asc", "limit": 2}))) == made[:2]
    assert ids(ok(api.get(path, params={"order": "asc", "after": made[0]}))) == made[1:]
    assert ids(ok(api.get(path, params={"before": made[0]}))) == made[:0:-1]
    assert ok(api.get(path))[0]["identity_ids"] == [identity["id"]]


# --------------------------------------------------------------------------- blocks


def test_attach_and_detach_a_block_and_list_blocks_by_identity(
    api: httpx.Client, make_identity: Any
) -> None:
    alice, bob = make_identity(), make_identity()
    mine = [make_block(api) for _ in range(2)]
    theirs = make_block(api)
    for block in mine:
        answered = ok(api.patch(f"/v1/blocks/{block['id']}/identities/attach/{alice['id']}"))
        assert answered["id"] == block["id"] and answered["value"] == block["value"]
    ok(api.patch(f"/v1/blocks/{theirs['id']}/identities/attach/{bob['id']}"))

    assert set(ok(api.get(f"/v1/identities/{alice['id']}"))["block_ids"]) == set(ids(mine))
    path = f"/v1/identities/{alice['id']}/blocks"
    assert ids(ok(api.get(path))) == ids(mine)[::-1]
    assert ids(ok(api.get(path, params={"order": "asc", "limit": 1}))) == ids(mine)[:1]

    def listed(**params: Any) -> list[str]:
        return ids(ok(api.get("/v1/blocks/", params={"limit": 1000, **params})))

    assert listed(identity_id=alice["id"]) == ids(mine)
    assert theirs["id"] not in listed(identity_id=alice["id"])
    assert listed(identifier_keys=[bob["identifier_key"]]) == [theirs["id"]]
    assert api.get("/v1/blocks/", params={"identity_id": MISSING_IDENTITY}).status_code == 404

    ok(api.patch(f"/v1/blocks/{mine[0]['id']}/identities/detach/{alice['id']}"))
    assert listed(identity_id=alice["id"]) == [mine[1]["id"]]


# --------------------------------------------------------------------------- delete, 404s


def test_deleting_an_identity_detaches_it_and_deletes_nothing_else(
    api: httpx.Client, make_identity: Any, make_agent: AgentFactory
) -> None:
    identity = make_identity()
    agent = make_agent(identity_ids=[identity["id"]])
    block = make_block(api)
    ok(api.patch(f"/v1/blocks/{block['id']}/identities/attach/{identity['id']}"))

    assert api.delete(f"/v1/identities/{identity['id']}").status_code == 200

    assert api.get(f"/v1/identities/{identity['id']}").status_code == 404
    still = ok(api.get(f"/v1/agents/{agent['id']}"))
    assert still["identity_ids"] == [] and still["identities"] == []
    assert ok(api.get(f"/v1/blocks/{block['id']}"))["value"] == block["value"]


def test_unknown_ids_are_404s(
    api: httpx.Client, make_identity: Any, make_agent: AgentFactory
) -> None:
    identity = make_identity()
    agent = make_agent()
    block = make_block(api)
    calls = [
        ("GET", f"/v1/identities/{MISSING_IDENTITY}", None),
        ("PATCH", f"/v1/identities/{MISSING_IDENTITY}", {"name": "x"}),
        ("DELETE", f"/v1/identities/{MISSING_IDENTITY}", None),
        ("PUT", f"/v1/identities/{MISSING_IDENTITY}/properties", []),
        ("GET", f"/v1/identities/{MISSING_IDENTITY}/agents", None),
        ("GET", f"/v1/identities/{MISSING_IDENTITY}/blocks", None),
        ("PATCH", f"/v1/agents/{agent['id']}/identities/attach/{MISSING_IDENTITY}", None),
        ("PATCH", f"/v1/agents/{agent['id']}/identities/detach/{MISSING_IDENTITY}", None),
        ("PATCH", f"/v1/agents/{MISSING_AGENT}/identities/attach/{identity['id']}", None),
        ("PATCH", f"/v1/blocks/{block['id']}/identities/attach/{MISSING_IDENTITY}", None),
        ("PATCH", f"/v1/blocks/{MISSING_BLOCK}/identities/attach/{identity['id']}", None),
        ("PATCH", f"/v1/blocks/{MISSING_BLOCK}/identities/detach/{identity['id']}", None),
        ("PATCH", f"/v1/identities/{identity['id']}", {"agent_ids": [MISSING_AGENT]}),
    ]
    for method, path, body in calls:
        response = api.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert ok(api.get(f"/v1/identities/{identity['id']}")) == identity


def test_deleting_an_agent_or_block_drops_it_from_its_identities(
    api: httpx.Client, make_identity: Any, make_agent: AgentFactory
) -> None:
    kept, gone = make_agent(), make_agent()
    block = make_block(api)
    identity = make_identity(agent_ids=[kept["id"], gone["id"]], block_ids=[block["id"]])

    assert api.delete(f"/v1/agents/{gone['id']}").status_code == 200
    assert api.delete(f"/v1/blocks/{block['id']}").status_code == 200

    after = ok(api.get(f"/v1/identities/{identity['id']}"))
    assert after["agent_ids"] == [kept["id"]] and after["block_ids"] == []


def test_agent_update_naming_an_unknown_identity_is_a_404_and_changes_nothing(
    api: httpx.Client, make_identity: Any, make_agent: AgentFactory
) -> None:
    identity = make_identity()
    agent = make_agent(identity_ids=[identity["id"]])

    response = api.patch(
        f"/v1/agents/{agent['id']}",
        json={"identity_ids": [MISSING_IDENTITY], "description": "changed"},
    )

    assert response.status_code == 404
    assert MISSING_IDENTITY in detail_text(response)
    after = ok(api.get(f"/v1/agents/{agent['id']}"))
    assert after["identity_ids"] == [identity["id"]]
    assert after["description"] == agent["description"]
