"""The file tools end to end over HTTP: files uploaded to a folder and ingested by the
server, the folder attached to an agent, and a model (the scripted fake LLM) calling
``open_files``, ``grep_files`` and ``semantic_search_files`` in real turns; the agent's
prompt and the context inspector show its folders' files. Sentences planted in the files
are found with each tool."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.conftest import AgentFactory
from tests.compat.conftest import letta_client_for
from tests.fakes import FakeLLM, reply
from tests.support.inprocess import InProcessServer

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


def make_folder(api: httpx.Client, files: dict[str, str]) -> Folder:
    """A folder whose files the server has uploaded, parsed, chunked and embedded."""
    name = f"orchard-{uuid.uuid4().hex[:8]}"
    created = api.post(
        "/v1/folders/",
        json={
            "name": name,
            "description": "Notes about the orchard",
            "instructions": "Quote the file and line you read.",
        },
    )
    assert created.status_code == 200, created.text
    folder = Folder(created.json()["id"], name)
    for file_name, content in files.items():
        uploaded = api.post(
            f"/v1/folders/{folder.id}/upload",
            files={"file": (file_name, content.encode(), "text/plain")},
        )
        assert uploaded.status_code == 200, uploaded.text
        wait_until_ingested(api, folder.id, uploaded.json()["id"])
    return folder


def wait_until_ingested(api: httpx.Client, folder_id: str, file_id: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = api.get(f"/v1/folders/{folder_id}/files/{file_id}")
        assert found.status_code == 200, found.text
        status = found.json()["processing_status"]
        if status in ("completed", "error"):
            assert status == "completed", found.text
            return
        time.sleep(0.1)
    raise AssertionError(f"file {file_id} was not ingested in time")


def attach(api: httpx.Client, agent_id: str, folder: Folder) -> dict[str, Any]:
    response = api.patch(f"/v1/agents/{agent_id}/folders/attach/{folder.id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def detach(api: httpx.Client, agent_id: str, folder: Folder) -> None:
    response = api.patch(f"/v1/agents/{agent_id}/folders/detach/{folder.id}")
    assert response.status_code == 200, response.text


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
def orchard(api: httpx.Client) -> Iterator[Folder]:
    folder = make_folder(api, {"guide.txt": GUIDE, "log.md": LOG})
    yield folder
    api.delete(f"/v1/folders/{folder.id}")


def test_attaching_gives_the_tools_and_the_directories_and_detaching_takes_them(
    api: httpx.Client, make_agent: AgentFactory, orchard: Folder
) -> None:
    agent = make_agent()
    before = context(api, agent["id"])

    attach(api, agent["id"], orchard)
    attached = context(api, agent["id"])
    tools_attached = tool_names(api, agent["id"])
    detach(api, agent["id"], orchard)
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
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    orchard: Folder,
) -> None:
    agent = make_agent()
    attach(api, agent["id"], orchard)
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
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    orchard: Folder,
) -> None:
    agent = make_agent()
    attach(api, agent["id"], orchard)
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
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    orchard: Folder,
) -> None:
    agent = make_agent()
    attach(api, agent["id"], orchard)
    fake_llm.script(
        reply.tool_call("semantic_search_files", {"query": "when is fruit harvested", "limit": 2}),
        reply.text("Late September."),
    )

    turn(api, agent["id"], "When do we harvest?")

    result = fake_llm.chat_requests[1].tool_results[-1]
    assert result.startswith("Found 2 passages")
    best = result.split("=== ", 2)[1]
    assert best.startswith(f"{orchard.name}/guide.txt (lines 1-6, passage #1) ===")
    assert "Apples are picked in late September." in best


def test_a_misused_file_tool_is_an_error_the_model_reads(
    api: httpx.Client,
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    orchard: Folder,
) -> None:
    agent = make_agent()
    attach(api, agent["id"], orchard)
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
            attach(api, agent.id, orchard)
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
