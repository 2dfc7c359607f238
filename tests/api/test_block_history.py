"""Block edits are logged with their actor, can be undone and redone, and are never lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.fakes import FakeLLM, reply
from tests.fakes.replies import FakeRequest
from tests.support.server import EngramServer

MODEL = "openai/gpt-4o-mini"


def _block(api: httpx.Client, value: str = "v1") -> str:
    response = api.post("/v1/blocks/", json={"label": "notes", "value": value})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _agent(api: httpx.Client, block_id: str) -> str:
    response = api.post("/v1/agents/", json={"model": MODEL, "block_ids": [block_id]})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def test_api_edits_are_logged_as_the_user(api: httpx.Client) -> None:
    block_id = _block(api)
    api.patch(f"/v1/blocks/{block_id}", json={"value": "v2"}).raise_for_status()
    api.patch(f"/v1/blocks/{block_id}", json={"description": "no value change"}).raise_for_status()
    history = api.get(f"/v1/blocks/{block_id}/history").json()
    assert [(h["action"], h["old_value"], h["new_value"]) for h in history] == [
        ("edit", "v1", "v2")
    ]
    assert history[0]["actor_type"] == "user"


def test_agent_edits_are_logged_with_agent_run_and_step(
    api: httpx.Client, fake_llm: FakeLLM
) -> None:
    block_id = _block(api, "Likes tea.")
    agent_id = _agent(api, block_id)
    fake_llm.script(
        reply.tool_call("core_memory_append", {"label": "notes", "content": "Hates coffee."}),
        reply.text("Noted."),
    )
    sent = api.post(
        f"/v1/agents/{agent_id}/messages",
        json={"messages": [{"role": "user", "content": "I hate coffee"}]},
    ).json()
    call = next(m for m in sent["messages"] if m["message_type"] == "tool_call_message")
    (entry,) = api.get(f"/v1/blocks/{block_id}/history").json()
    assert entry["actor_type"] == "agent"
    assert entry["actor_id"] == agent_id
    assert entry["run_id"] == call["run_id"]
    assert entry["step_id"] == call["step_id"]
    assert entry["new_value"] == "Likes tea.\nHates coffee."


def test_undo_and_redo_walk_the_edit_stack(api: httpx.Client) -> None:
    block_id = _block(api, "a")
    for value in ("b", "c"):
        api.patch(f"/v1/blocks/{block_id}", json={"value": value}).raise_for_status()

    def value_after(action: str) -> str:
        response = api.post(f"/v1/blocks/{block_id}/{action}")
        assert response.status_code == 200, response.text
        assert api.get(f"/v1/blocks/{block_id}").json()["value"] == response.json()["value"]
        return response.json()["value"]

    assert value_after("undo") == "b"
    assert value_after("undo") == "a"
    assert api.post(f"/v1/blocks/{block_id}/undo").status_code == 409
    assert value_after("redo") == "b"
    assert value_after("redo") == "c"
    assert api.post(f"/v1/blocks/{block_id}/redo").status_code == 409
    actions = [h["action"] for h in api.get(f"/v1/blocks/{block_id}/history").json()]
    assert actions == ["redo", "redo", "undo", "undo", "edit", "edit"]


def test_a_new_edit_after_undo_clears_redo(api: httpx.Client) -> None:
    block_id = _block(api, "a")
    api.patch(f"/v1/blocks/{block_id}", json={"value": "b"}).raise_for_status()
    api.post(f"/v1/blocks/{block_id}/undo").raise_for_status()
    api.patch(f"/v1/blocks/{block_id}", json={"value": "z"}).raise_for_status()
    response = api.post(f"/v1/blocks/{block_id}/redo")
    assert response.status_code == 409
    assert "redo" in response.json()["detail"]
    assert api.get(f"/v1/blocks/{block_id}").json()["value"] == "z"


def test_undo_of_unknown_block_is_404(api: httpx.Client) -> None:
    response = api.post("/v1/blocks/block-missing/undo")
    assert response.status_code == 404
    assert "block-missing" in response.json()["detail"]


def _append_what_the_user_said(request: FakeRequest) -> object:
    if request.messages[-1]["role"] == "tool":
        return reply.text("ok")
    return reply.tool_call(
        "core_memory_append", {"label": "notes", "content": request.last_user_text}
    )


def test_concurrent_edits_to_a_shared_block_are_never_lost(
    engram_server: EngramServer, api: httpx.Client, fake_llm: FakeLLM
) -> None:
    fake_llm.fallback = _append_what_the_user_said
    block_id = _block(api, "shared notes")
    agents = [_agent(api, block_id), _agent(api, block_id)]

    def send(index: int) -> int:
        with engram_server.client() as client:
            return client.post(
                f"/v1/agents/{agents[index % 2]}/messages",
                json={"messages": [{"role": "user", "content": f"line {index}"}]},
            ).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(send, range(16))) == {200}
    lines = api.get(f"/v1/blocks/{block_id}").json()["value"].split("\n")
    assert sorted(lines[1:]) == sorted(f"line {i}" for i in range(16))
    history = api.get(f"/v1/blocks/{block_id}/history", params={"limit": 100}).json()
    assert len(history) == 16
    assert {h["actor_id"] for h in history} == set(agents)
