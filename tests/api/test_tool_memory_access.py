"""Custom tools reaching their own agent's memory through the memory gateway.

Each test runs against a real server twice: once confining tools with bubblewrap (when it
is installed) and once without it (a server whose PATH has no ``bwrap``: ``auto`` then
picks the Landlock sandbox).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engram.tools import confined
from tests.api.conftest import MODEL, create_tool
from tests.api.conftest import send_input as send
from tests.fakes.fake_llm import FakeLLM
from tests.fakes.replies import reply
from tests.support.backends import Backend
from tests.support.server import EngramServer, serving

REMEMBER = '''
def remember(city: str) -> dict:
    """Note where the user lives.

    Args:
        city: The user's city.
    """
    from engram_memory import memory
    before = memory.get_block("human")["value"]
    memory.append_block("human", f"Lives in {city}")
    stored = memory.archival_insert(f"The user moved to {city}.", tags=["location"])
    found = memory.archival_search(f"moved to {city}", top_k=3)
    labels = [block["label"] for block in memory.list_blocks()]
    return {"before": before, "stored": stored["id"], "found": [h["id"] for h in found],
            "labels": labels, "agent_id": memory.agent_id}
'''

TRESPASS = '''
def trespass(other: str) -> str:
    """Try another agent's memory.

    Args:
        other: Another agent's id.
    """
    from engram_memory import memory, MemoryAccessError
    memory.agent_id = other
    try:
        memory.set_block("human", "owned")
    except MemoryAccessError as exc:
        return f"refused: {exc}"
    return "it worked"
'''

LEAK = '''
def leak() -> str:
    """Return this call's token."""
    from engram_memory import memory
    return memory._token
'''

REPLAY = '''
def replay(token: str) -> str:
    """Use an old token.

    Args:
        token: A token from an earlier call.
    """
    from engram_memory import memory, MemoryAccessError
    memory._token = token
    try:
        memory.list_blocks()
    except MemoryAccessError as exc:
        return f"refused: {exc}"
    return "it worked"
'''

EDIT = '''
def edit(label: str, value: str) -> str:
    """Set a block.

    Args:
        label: The block.
        value: Its new value.
    """
    from engram_memory import memory, MemoryAccessError
    try:
        return json.dumps(memory.set_block(label, value))
    except MemoryAccessError as exc:
        return f"refused: {exc}"

import json
'''

CONNECT = '''
def connect(port: int) -> str:
    """Open a socket to the host.

    Args:
        port: A port on 127.0.0.1.
    """
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        return f"blocked: {exc}"
    return "connected"
'''

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")


LANDLOCK = confined.probe()
needs_landlock = pytest.mark.skipif(not LANDLOCK.available, reason=LANDLOCK.reason)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("bwrap", marks=needs_bwrap),
        pytest.param("no-bwrap", marks=needs_landlock),
    ],
)
def server(
    request: pytest.FixtureRequest,
    fake_llm_server: FakeLLM,
    tmp_path_factory: pytest.TempPathFactory,
    backend: Backend,
) -> Iterator[EngramServer]:
    env = {"ENGRAM_TOOL_TIMEOUT_SECONDS": "20"}
    if request.param == "no-bwrap":
        env["PATH"] = os.path.dirname(sys.executable)  # no bwrap on it
    with serving(
        tmp_path_factory.mktemp("tool-memory"),
        fake_llm_server.base_url,
        env,
        database_url=backend.database_url(),
        in_process=True,
    ) as engram:
        yield engram


@pytest.fixture
def client(server: EngramServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def make_agent(client: httpx.Client, *tools: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {
        "model": MODEL,
        "tool_ids": [tool["id"] for tool in tools],
        "memory_blocks": [
            {"label": "human", "value": "Name: Sam", "limit": 20_000},
            {"label": "policy", "value": "Be kind.", "read_only": True},
        ],
        **fields,
    }
    response = client.post("/v1/agents/", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def block_value(client: httpx.Client, agent_id: str, label: str) -> str:
    response = client.get(f"/v1/agents/{agent_id}/core-memory/blocks/{label}")
    assert response.status_code == 200, response.text
    return response.json()["value"]


def test_a_tool_reads_and_edits_its_agents_memory_in_the_loop(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent = make_agent(client, create_tool(client, REMEMBER))
    fake_llm.script(reply.tool_call("remember", {"city": "Lyon"}), reply.text("Noted."))

    body = send(client, agent["id"], "I moved to Lyon.")

    result = json.loads(fake_llm.chat_requests[-1].tool_results[-1])
    assert result["before"] == "Name: Sam"
    assert result["agent_id"] == agent["id"]
    assert result["labels"] == ["human", "policy"]
    assert result["found"][0] == result["stored"]
    assert block_value(client, agent["id"], "human") == "Name: Sam\nLives in Lyon"
    # The next step's prompt already shows the edit.
    assert "Lives in Lyon" in fake_llm.chat_requests[-1].system_text

    history = client.get(f"/v1/blocks/{agent['blocks'][0]['id']}/history").json()
    edit = history[0] if isinstance(history, list) else history["entries"][0]
    assert edit["actor_type"] == "tool" and edit["actor_id"] == "remember"
    assert edit["run_id"] == body["messages"][0]["run_id"]

    passages = client.get(f"/v1/agents/{agent['id']}/archival-memory").json()
    [passage] = [p for p in passages if p["id"] == result["stored"]]
    assert passage["tags"] == ["location"]
    assert passage["source"]["run_id"] == body["messages"][0]["run_id"]
    assert passage["source"]["step_id"] is not None


def test_a_token_opens_only_its_own_agent(client: httpx.Client, fake_llm: FakeLLM) -> None:
    tool = create_tool(client, TRESPASS)
    attacker = make_agent(client, tool)
    victim = make_agent(client)
    fake_llm.script(reply.tool_call("trespass", {"other": victim["id"]}), reply.text("Hm."))

    send(client, attacker["id"], "Go.")

    assert fake_llm.chat_requests[-1].tool_results[-1] == (
        "refused: this token is for another agent"
    )
    assert block_value(client, victim["id"], "human") == "Name: Sam"


def test_a_token_dies_with_its_tool_call(client: httpx.Client, fake_llm: FakeLLM) -> None:
    agent = make_agent(client, create_tool(client, LEAK), create_tool(client, REPLAY))
    fake_llm.script(reply.tool_call("leak", {}), reply.text("Got it."))
    send(client, agent["id"], "Leak.")
    token = fake_llm.chat_requests[-1].tool_results[-1]
    assert len(token) > 30

    fake_llm.script(reply.tool_call("replay", {"token": token}), reply.text("Hm."))
    send(client, agent["id"], "Replay.")

    assert fake_llm.chat_requests[-1].tool_results[-1].startswith("refused: the token is not valid")


@pytest.mark.parametrize(
    ("label", "value", "expected"),
    [
        ("policy", "Be mean.", "read-only"),
        ("human", "x" * 30_000, "limit"),
        ("nope", "x", "no memory block labelled 'nope'"),
    ],
    ids=["read-only", "over-limit", "unknown-label"],
)
def test_memory_checks_hold_for_tools_and_leave_blocks_unchanged(
    client: httpx.Client, fake_llm: FakeLLM, label: str, value: str, expected: str
) -> None:
    agent = make_agent(client, create_tool(client, EDIT))
    fake_llm.script(reply.tool_call("edit", {"label": label, "value": value}), reply.text("Ok."))

    send(client, agent["id"], "Edit.")

    result = fake_llm.chat_requests[-1].tool_results[-1]
    assert result.startswith("refused: ") and expected in result
    assert block_value(client, agent["id"], "human") == "Name: Sam"
    assert block_value(client, agent["id"], "policy") == "Be kind."


def test_an_agents_tool_run_directly_reaches_its_memory(client: httpx.Client) -> None:
    agent = make_agent(client, create_tool(client, EDIT))
    response = client.post(
        f"/v1/agents/{agent['id']}/tools/edit/run",
        json={"args": {"label": "human", "value": "Name: Alex"}},
    )
    assert response.status_code == 200, response.text
    assert json.loads(response.json()["func_return"])["value"] == "Name: Alex"
    assert block_value(client, agent["id"], "human") == "Name: Alex"


def test_a_tool_run_without_an_agent_has_no_memory(client: httpx.Client) -> None:
    body = {"source_code": EDIT, "args": {"label": "human", "value": "x"}}
    response = client.post("/v1/tools/run", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["tool_return"].startswith("refused: this tool call has no agent")


@pytest.fixture
def listener() -> Iterator[int]:
    """A port on the host's 127.0.0.1 that accepts connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_an_agent_can_allow_its_tools_the_network(
    server: EngramServer, client: httpx.Client, fake_llm: FakeLLM, listener: int
) -> None:
    # Under bubblewrap and under the Landlock sandbox alike, a tool has no network of
    # its own unless allowed.
    tool = create_tool(client, CONNECT)
    closed = make_agent(client, tool)
    opened = make_agent(client, tool, metadata={"tool_network": True})
    results = []
    for agent in (closed, opened):
        fake_llm.script(reply.tool_call("connect", {"port": listener}), reply.text("Ok."))
        send(client, agent["id"], "Connect.")
        results.append(fake_llm.chat_requests[-1].tool_results[-1])

    assert results[0].startswith("blocked: ")
    assert results[1] == "connected"


FILE_NOTES = '''
def file_notes() -> str:
    """Store a long text of notes in archival memory."""
    import json
    from engram_memory import memory
    notes = " ".join(f"Note {n}: prime the pump before opening the valve." for n in range(150))
    stored = memory.archival_insert(notes + " The spare key is under the blue flowerpot.")
    return json.dumps(stored)
'''


def test_a_tool_inserting_a_long_text_stores_it_as_several_passages(
    client: httpx.Client, fake_llm: FakeLLM
) -> None:
    agent = make_agent(client, create_tool(client, FILE_NOTES))
    fake_llm.script(reply.tool_call("file_notes", {}), reply.text("Filed."))

    send(client, agent["id"], "File the notes.")

    stored = json.loads(fake_llm.chat_requests[-1].tool_results[-1])
    passages = client.get(f"/v1/agents/{agent['id']}/archival-memory").json()
    assert len(stored["ids"]) > 3 and stored["id"] == stored["ids"][0]
    assert [p["id"] for p in passages] == stored["ids"]
    assert passages[-1]["text"].endswith("The spare key is under the blue flowerpot.")
    found = client.get(
        f"/v1/agents/{agent['id']}/archival-memory/search",
        params={"query": "where is the spare key?", "search_mode": "vector", "top_k": 1},
    ).json()["results"]
    assert found[0]["id"] == stored["ids"][-1]
