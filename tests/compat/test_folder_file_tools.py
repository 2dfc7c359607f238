"""The file tools with real folders, through letta-client: files uploaded and ingested by
the server, a folder attached to an agent, and the model (the scripted fake LLM) finding
sentences planted in the files with ``grep_files``, ``open_files`` and
``semantic_search_files``. The tools come with an agent's first folder and go with its
last, as in Letta."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator
from typing import Any

import docx
import pytest
from fpdf import FPDF
from letta_client import Letta, NotFoundError
from letta_client.types import Folder

from tests.compat.conftest import AgentFactory
from tests.compat.test_folders import upload, wait_until_ingested
from tests.fakes import FakeLLM, reply

FILE_TOOLS = {"open_files", "grep_files", "semantic_search_files"}
PLANTED = "The spare key to the greenhouse hangs under the blue watering can."
PLANTED_LINE = 45


def guide() -> str:
    """A file of several chunks, with one sentence to find on line 45."""
    lines = [
        f"Row {n}: crates of seed potatoes in the storage shed, counted and labelled."
        for n in range(1, 90)
    ]
    lines[PLANTED_LINE - 1] = PLANTED
    return "\n".join(lines)


@pytest.fixture
def make_folder(client: Letta) -> Iterator[Any]:
    made: list[str] = []

    def factory() -> Folder:
        folder = client.folders.create(name=f"farm-{uuid.uuid4().hex[:8]}")
        made.append(folder.id)
        return folder

    yield factory
    for folder_id in made:
        with contextlib.suppress(NotFoundError):
            client.folders.delete(folder_id)


def tool_names(client: Letta, agent_id: str) -> set[str]:
    return {tool.name or "" for tool in client.agents.tools.list(agent_id)}


def test_the_file_tools_come_with_the_first_folder_and_go_with_the_last(
    client: Letta, make_agent: AgentFactory, make_folder: Any
) -> None:
    agent = make_agent()
    first, second = make_folder(), make_folder()

    attached = client.agents.folders.attach(first.id, agent_id=agent.id)
    client.agents.folders.attach(second.id, agent_id=agent.id)
    client.agents.folders.detach(first.id, agent_id=agent.id)
    with_one = tool_names(client, agent.id)
    client.agents.folders.detach(second.id, agent_id=agent.id)
    with_none = tool_names(client, agent.id)
    client.agents.folders.attach(first.id, agent_id=agent.id)
    client.folders.delete(first.id)

    assert not FILE_TOOLS & {tool.name for tool in agent.tools}
    assert attached is not None
    file_tools = [tool for tool in attached.tools if tool.name in FILE_TOOLS]
    assert {tool.name for tool in file_tools} == FILE_TOOLS
    assert {tool.tool_type for tool in file_tools} == {"letta_files_core"}
    assert with_one >= FILE_TOOLS
    assert not FILE_TOOLS & with_none
    assert not FILE_TOOLS & tool_names(client, agent.id)


def test_each_file_tool_finds_a_sentence_planted_in_an_uploaded_file(
    client: Letta, fake_llm: FakeLLM, make_agent: AgentFactory, make_folder: Any
) -> None:
    folder = make_folder()
    name = f"{folder.name}/guide.txt"
    for filename, text in [("guide.txt", guide()), ("other.md", "Nothing about keys here.")]:
        uploaded = upload(client, folder.id, filename, text)
        assert wait_until_ingested(client, folder.id, uploaded.id).processing_status == "completed"
    agent = make_agent()
    client.agents.folders.attach(folder.id, agent_id=agent.id)
    fake_llm.script(
        reply.tool_call("grep_files", {"pattern": "greenhouse", "context_lines": 1}),
        reply.tool_call(
            "open_files",
            {"file_requests": [{"file_name": name, "offset": PLANTED_LINE - 1, "length": 2}]},
        ),
        reply.tool_call("semantic_search_files", {"query": "where is the greenhouse key hidden"}),
        reply.text("Under the blue watering can."),
    )

    response = client.agents.messages.create(
        agent.id, messages=[{"role": "user", "content": "Where is the greenhouse key?"}]
    )
    shown: dict[str, Any] = client.get(f"/v1/agents/{agent.id}/context", cast_to=object)
    file_blocks = {
        block.label: block for block in client.agents.retrieve(agent.id).memory.file_blocks
    }

    returns = [m for m in response.messages if m.message_type == "tool_return_message"]
    assert [m.status for m in returns] == ["success"] * 3
    grep, opened, search = (m.tool_return for m in returns)
    assert f"=== {name}:{PLANTED_LINE} ===" in grep
    assert f"> {PLANTED_LINE}: {PLANTED}" in grep
    assert opened.startswith(f"Opened {name} (lines {PLANTED_LINE}-{PLANTED_LINE + 1} of 89)")
    best = search.split("=== ", 2)[1]
    assert best.startswith(name) and PLANTED in best
    first_line, last_line = _cited_lines(best)
    assert first_line <= PLANTED_LINE <= last_line
    window = f"{PLANTED_LINE}: {PLANTED}"
    assert window not in fake_llm.chat_requests[1].system_text
    assert window in fake_llm.chat_requests[2].system_text
    assert window in shown["directories"] and shown["num_tokens_directories"] > 0
    opened_block, closed_block = file_blocks[name], file_blocks[f"{folder.name}/other.md"]
    assert (opened_block.is_open, closed_block.is_open) == (True, False)
    assert window in opened_block.value and closed_block.value == ""
    assert opened_block.value in shown["directories"]
    assert {opened_block.source_id, closed_block.source_id} == {folder.id}


def _cited_lines(header: str) -> tuple[int, int]:
    """The line range a result header cites: ``... (lines 40-52, passage #1) ===``."""
    cited = header.split("(", 1)[1].split(",")[0].removeprefix("lines ").removeprefix("line ")
    first, _, last = cited.partition("-")
    return int(first), int(last or first)


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
IN_PDF = "The night ferry to Karrow leaves from pier nine at eleven."
IN_DOCX = "The boiler room key is kept in the red tin above the sink."


def pdf_with_a_sentence_on_page_two() -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for page in range(1, 4):
        pdf.add_page()
        for n in range(1, 9):
            pdf.cell(0, 8, f"Page {page}, entry {n}: harbour tariffs and mooring fees.")
            pdf.ln()
        if page == 2:
            pdf.cell(0, 8, IN_PDF)
    return bytes(pdf.output())


def docx_with_a_sentence() -> bytes:
    document = docx.Document()
    document.add_heading("Caretaker's notes", level=1)
    for n in range(1, 6):
        document.add_paragraph(f"Note {n}: the hall chairs are stacked on Fridays.")
    document.add_paragraph(IN_DOCX)
    written = io.BytesIO()
    document.save(written)
    return written.getvalue()


@pytest.mark.parametrize(
    ("filename", "media_type", "make", "planted", "page"),
    [
        ("harbour.pdf", "application/pdf", pdf_with_a_sentence_on_page_two, IN_PDF, 2),
        ("caretaker.docx", DOCX_TYPE, docx_with_a_sentence, IN_DOCX, None),
    ],
)
def test_a_sentence_planted_in_a_generated_document_is_found_by_each_tool(
    client: Letta,
    fake_llm: FakeLLM,
    make_agent: AgentFactory,
    make_folder: Any,
    filename: str,
    media_type: str,
    make: Any,
    planted: str,
    page: int | None,
) -> None:
    folder = make_folder()
    uploaded = client.folders.files.upload(
        folder.id, file=(filename, io.BytesIO(make()), media_type)
    )
    assert wait_until_ingested(client, folder.id, uploaded.id).processing_status == "completed"
    agent = make_agent()
    client.agents.folders.attach(folder.id, agent_id=agent.id)
    name = f"{folder.name}/{filename}"
    fake_llm.script(
        reply.tool_call("grep_files", {"pattern": planted.split(" ", 3)[3][:20]}),
        reply.tool_call("open_files", {"file_requests": [{"file_name": name}]}),
        reply.tool_call("semantic_search_files", {"query": planted.lower().rstrip(".")}),
        reply.text("Found it."),
    )

    response = client.agents.messages.create(
        agent.id, messages=[{"role": "user", "content": "Look it up in the files."}]
    )

    returns = [m for m in response.messages if m.message_type == "tool_return_message"]
    assert [m.status for m in returns] == ["success"] * 3
    grep, opened, search = (m.tool_return for m in returns)
    assert f"=== {name}:" in grep and planted in grep
    assert opened.startswith(f"Opened {name} (lines 1-")
    assert planted in fake_llm.chat_requests[2].system_text
    best = search.split("=== ", 2)[1]
    assert best.startswith(name) and planted in best
    if page is not None:
        assert f"(page {page}, line" in best
