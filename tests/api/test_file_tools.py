"""The file tools end to end: a model (the scripted fake LLM) calls ``open_files``,
``grep_files`` and ``semantic_search_files`` in real turns over HTTP, and the agent's
prompt and the context inspector show its folders' files.

A folder is set up here as the folder API leaves one once its files are ingested: its
archive and chunks are made through the archive API (so the chunks carry real
embeddings), the folder, file and attachment rows are written in the server's database,
and the attachment goes through the same calls the attach operation makes
(``file_views.add_folder`` and ``sync_file_tools``). Sentences planted in the files are
found with each tool."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engram.ids import new_id
from engram.ops.file_tools import sync_file_tools
from engram.store import file_views
from engram.store import tables as t
from engram.store.db import make_engine
from tests.api.conftest import AgentFactory
from tests.compat.conftest import letta_client_for
from tests.fakes import FakeLLM, reply
from tests.support.inprocess import InProcessServer, settings_from

GUIDE = "\n".join(
    [
        "Field guide to the orchard",
        "",
        "The pear trees stand along the east wall.",
        "The wifi network in the barn is called Owl-5G.",
        "Apples are picked in late September.",
        "The ladder is kept behind the cider press.",
    ]
)
LOG = "Maintenance log\nThe tractor's oil was changed on 3 March.\nThe mower needs new blades."
FILE_TOOLS = {"open_files", "grep_files", "semantic_search_files"}


@dataclass
class Folder:
    id: str
    name: str
    archive_id: str


@contextlib.contextmanager
def server_session(server: InProcessServer) -> Iterator[Session]:
    """A session on the server's own database, committed on the way out."""
    engine = make_engine(settings_from(server.env).resolved_database_url)
    try:
        with Session(engine) as session, session.begin():
            yield session
    finally:
        engine.dispose()


def make_folder(api: httpx.Client, server: InProcessServer, files: dict[str, str]) -> Folder:
    """A folder whose files are parsed and chunked: one chunk per non-empty line, each
    citing its line, embedded by the server through the archive API."""
    name = f"orchard-{uuid.uuid4().hex[:8]}"
    archive = api.post("/v1/archives/", json={"name": f"{name}-chunks"})
    assert archive.status_code == 200, archive.text
    folder = Folder(new_id("source"), name, archive.json()["id"])
    chunks: list[tuple[str, str, int]] = []
    with server_session(server) as session:
        session.add(
            t.Folder(
                id=folder.id,
                name=name,
                description="Notes about the orchard",
                instructions="Quote the file and line you read.",
                embedding_config=archive.json()["embedding_config"],
                archive_id=folder.archive_id,
            )
        )
        session.flush()
        for file_name, content in files.items():
            file_id = new_id("file")
            session.add(
                t.File(
                    id=file_id,
                    folder_id=folder.id,
                    file_name=file_name,
                    original_file_name=file_name,
                    file_type="text/plain",
                    file_size=len(content),
                    content=content,
                    processing_status="completed",
                )
            )
            lines = content.split("\n")
            chunks += [(file_id, line, n) for n, line in enumerate(lines, 1) if line]
    for file_id, text, line in chunks:
        added = api.post(f"/v1/archives/{folder.archive_id}/passages", json={"text": text})
        assert added.status_code == 200, added.text
        with server_session(server) as session:
            passage = session.scalars(select(t.Passage).where(t.Passage.id == added.json()["id"]))
            row = passage.one()
            row.file_id = file_id
            row.metadata_ = {
                "file_id": file_id,
                "page": None,
                "first_line": line,
                "last_line": line,
            }
    return folder


def attach(server: InProcessServer, agent_id: str, folder: Folder) -> None:
    """What the folder attach operation does in its transaction."""
    with server_session(server) as session:
        session.add(t.AgentFolder(agent_id=agent_id, folder_id=folder.id))
        session.flush()
        file_views.add_folder(session, agent_id, folder.id)
        sync_file_tools(session, agent_id)


def detach(server: InProcessServer, agent_id: str, folder: Folder) -> None:
    with server_session(server) as session:
        file_views.remove_folder(session, agent_id, folder.id)
        session.execute(
            t.AgentFolder.__table__.delete().where(
                t.AgentFolder.agent_id == agent_id, t.AgentFolder.folder_id == folder.id
            )
        )
        sync_file_tools(session, agent_id)


def tool_names(api: httpx.Client, agent_id: str) -> set[str]:
    response = api.get(f"/v1/agents/{agent_id}/tools")
    assert response.status_code == 200, response.text
    return {tool["name"] for tool in response.json()}


def context(api: httpx.Client, agent_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/agents/{agent_id}/context")
    assert response.status_code == 200, response.text
    return response.json()


def turn(api: httpx.Client, agent_id: str, text: str) -> list[dict[str, Any]]:
    response = api.post(f"/v1/agents/{agent_id}/messages", json={"input": text})
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


@pytest.fixture
def orchard(api: httpx.Client, engram_server: InProcessServer) -> Iterator[Folder]:
    folder = make_folder(api, engram_server, {"guide.txt": GUIDE, "log.md": LOG})
    yield folder
    with server_session(engram_server) as session:
        session.execute(t.Folder.__table__.delete().where(t.Folder.id == folder.id))
    api.delete(f"/v1/archives/{folder.archive_id}")


def test_attaching_gives_the_tools_and_the_directories_and_detaching_takes_them(
    api: httpx.Client, engram_server: InProcessServer, make_agent: AgentFactory, orchard: Folder
) -> None:
    agent = make_agent()
    before = context(api, agent["id"])

    attach(engram_server, agent["id"], orchard)
    attached = context(api, agent["id"])
    tools_attached = tool_names(api, agent["id"])
    detach(engram_server, agent["id"], orchard)
    after = context(api, agent["id"])

    assert before["directories"] is None and before["num_tokens_directories"] == 0
    shown = attached["directories"]
    assert f'<directory name="{orchard.name}">' in shown
    assert f'<file status="closed" name="{orchard.name}/guide.txt">' in shown
    assert "<instructions>Quote the file and line you read.</instructions>" in shown
    assert attached["num_tokens_directories"] > 0
    assert (
        attached["context_window_size_current"]
        - before["context_window_size_current"]
        - attached["num_tokens_directories"]
        == attached["num_tokens_functions_definitions"] - before["num_tokens_functions_definitions"]
    )
    assert tools_attached >= FILE_TOOLS
    assert not FILE_TOOLS & tool_names(api, agent["id"])
    assert after["directories"] is None
    assert after["system_prompt"] == before["system_prompt"]
    assert after["core_memory"] == before["core_memory"]


def test_grep_files_finds_a_planted_sentence_with_its_line(
    api: httpx.Client,
    engram_server: InProcessServer,
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    orchard: Folder,
) -> None:
    agent = make_agent()
    attach(engram_server, agent["id"], orchard)
    fake_llm.script(
        reply.tool_call("grep_files", {"pattern": r"wifi .* called", "context_lines": 1}),
        reply.text("It is Owl-5G."),
    )

    turn(api, agent["id"], "What is the barn's wifi called?")

    result = fake_llm.chat_requests[1].tool_results[-1]
    assert f"=== {orchard.name}/guide.txt:4 ===" in result
    assert "> 4: The wifi network in the barn is called Owl-5G." in result
    assert "  5: Apples are picked in late September." in result


def test_open_files_puts_the_window_in_the_next_prompt_and_the_inspector(
    api: httpx.Client,
    engram_server: InProcessServer,
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    orchard: Folder,
) -> None:
    agent = make_agent()
    attach(engram_server, agent["id"], orchard)
    name = f"{orchard.name}/guide.txt"
    fake_llm.script(
        reply.tool_call(
            "open_files", {"file_requests": [{"file_name": name, "offset": 5, "length": 1}]}
        ),
        reply.text("Behind the cider press."),
    )

    turn(api, agent["id"], "Where is the ladder?")

    assert fake_llm.chat_requests[1].tool_results[-1] == f"Opened {name} (lines 6-6 of 6)."
    first, second = (request.system_text for request in fake_llm.chat_requests[:2])
    planted = "6: The ladder is kept behind the cider press."
    assert planted not in first
    assert f'<file status="open" name="{name}">' in second and planted in second
    shown = context(api, agent["id"])
    assert planted in shown["directories"]
    assert "- current_files_open=1" in shown["directories"]


def test_semantic_search_files_finds_a_planted_sentence_by_meaning(
    api: httpx.Client,
    engram_server: InProcessServer,
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    orchard: Folder,
) -> None:
    agent = make_agent()
    attach(engram_server, agent["id"], orchard)
    fake_llm.script(
        reply.tool_call("semantic_search_files", {"query": "when is fruit harvested", "limit": 2}),
        reply.text("Late September."),
    )

    turn(api, agent["id"], "When do we harvest?")

    result = fake_llm.chat_requests[1].tool_results[-1]
    assert result.startswith("Found 2 passages")
    best = result.split("=== ", 2)[1]
    assert best.startswith(f"{orchard.name}/guide.txt (line 5, passage #1) ===")
    assert "Apples are picked in late September." in best


def test_a_misused_file_tool_is_an_error_the_model_reads(
    api: httpx.Client,
    engram_server: InProcessServer,
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    orchard: Folder,
) -> None:
    agent = make_agent()
    attach(engram_server, agent["id"], orchard)
    fake_llm.script(
        reply.tool_call("grep_files", {"pattern": "(unclosed"}),
        reply.tool_call("open_files", {"file_requests": [{"file_name": "nope.txt"}]}),
        reply.text("Sorry."),
    )

    messages = turn(api, agent["id"], "Search badly.")

    returns = [m for m in messages if m["message_type"] == "tool_return_message"]
    assert [m["status"] for m in returns] == ["error", "error"]
    assert "pattern is not a valid regular expression" in returns[0]["tool_return"]
    assert f"attached files: {orchard.name}/guide.txt" in returns[1]["tool_return"]


def test_a_letta_client_user_sees_the_file_tools_and_their_results(
    engram_server: InProcessServer, fake_llm: FakeLLM, api: httpx.Client, orchard: Folder
) -> None:
    with letta_client_for(engram_server) as client:
        agent = client.agents.create(model="openai/gpt-4o-mini")
        try:
            attach(engram_server, agent.id, orchard)
            fake_llm.script(
                reply.tool_call("grep_files", {"pattern": "oil was changed", "include": "*.md"}),
                reply.text("On 3 March."),
            )

            tools = list(client.agents.tools.list(agent.id))
            response = client.agents.messages.create(
                agent.id, messages=[{"role": "user", "content": "When was the oil changed?"}]
            )
        finally:
            client.agents.delete(agent.id)
    _check_letta_view(tools, response, orchard)


def _check_letta_view(tools: Any, response: Any, orchard: Folder) -> None:
    file_tools = {tool.name: tool for tool in tools if tool.name in FILE_TOOLS}
    assert set(file_tools) == FILE_TOOLS
    assert {tool.tool_type for tool in file_tools.values()} == {"letta_files_core"}
    parameters = file_tools["open_files"].json_schema["parameters"]
    item = parameters["properties"]["file_requests"]["items"]
    assert set(item["properties"]) == {"file_name", "offset", "length"}
    returned = [m for m in response.messages if m.message_type == "tool_return_message"]
    assert returned and returned[0].status == "success"
    text = returned[0].tool_return
    assert f"=== {orchard.name}/log.md:2 ===" in text
    assert "The tractor's oil was changed on 3 March." in text
