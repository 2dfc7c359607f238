"""Folders and files through letta-client: create folders, upload documents that are
ingested in the background, attach folders to agents and open their files."""

from __future__ import annotations

import contextlib
import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import pytest
from fpdf import FPDF
from letta_client import ConflictError, Letta, NotFoundError, UnprocessableEntityError
from letta_client.types import AgentState, Folder

from tests.compat.conftest import AgentFactory, letta_client_for
from tests.fakes.fake_llm import FakeLLM
from tests.support.backends import Backend
from tests.support.server import EngramServer

NOTES = "\n".join(
    [
        "# Field notes",
        "",
        "The lighthouse keeper logs the weather at dawn.",
        "Ferries to the island leave from pier four on weekdays.",
        "The library on the hill closes at six in winter.",
    ]
)
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CHUNK_KEYS = {"file_id", "file_name", "page", "first_line", "last_line"}


@pytest.fixture
def folder(client: Letta) -> Iterator[Folder]:
    made = client.folders.create(name=f"docs-{uuid.uuid4().hex[:8]}", description="manuals")
    yield made
    with contextlib.suppress(NotFoundError):
        client.folders.delete(made.id)


def upload(client: Letta, folder_id: str, filename: str, text: str, **options: Any) -> Any:
    return client.folders.files.upload(
        folder_id, file=(filename, io.BytesIO(text.encode()), "text/plain"), **options
    )


def wait_until_ingested(client: Letta, folder_id: str, file_id: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.folders.files.retrieve(file_id, folder_id=folder_id)
        if found.processing_status in ("completed", "error"):
            return found
        time.sleep(0.1)
    raise AssertionError(f"file {file_id} still {found.processing_status} after {timeout} s")


def folder_passages(client: Letta, folder_id: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = client.get(
        f"/v1/folders/{folder_id}/passages", cast_to=object, options={"params": {"limit": 1000}}
    )
    return answer


def long_text(lines: int) -> str:
    return "\n".join(
        f"Line {n}: the survey of the northern coast continues with tide tables and notes."
        for n in range(1, lines + 1)
    )


def test_create_retrieve_update_list_and_delete_a_folder(client: Letta, folder: Folder) -> None:
    fetched = client.folders.retrieve(folder.id)
    updated = client.folders.update(folder.id, description="all manuals", instructions="cite")
    by_name = client.folders.list(name=folder.name).items
    client.folders.delete(folder.id)

    assert folder.id.startswith("source-")
    assert folder.embedding_config is not None
    assert fetched.name == folder.name
    assert (updated.description, updated.instructions) == ("all manuals", "cite")
    assert [f.id for f in by_name] == [folder.id]
    with pytest.raises(NotFoundError):
        client.folders.retrieve(folder.id)


def test_a_folder_name_is_taken_once(client: Letta, folder: Folder) -> None:
    with pytest.raises(ConflictError, match="name"):
        client.folders.create(name=folder.name)


def test_a_folders_archive_is_not_an_archive(client: Letta, folder: Folder) -> None:
    archives = client.archives.list(limit=1000).items

    assert all(not a.name.startswith(f"folder:{folder.name}") for a in archives)


def test_uploaded_files_are_ingested_into_chunks_that_cite_their_file(
    client: Letta, folder: Folder
) -> None:
    uploaded = upload(client, folder.id, "notes.md", NOTES)
    plain = upload(client, folder.id, "survey.txt", long_text(200))

    assert uploaded.processing_status in ("pending", "parsing", "embedding", "completed")
    assert uploaded.source_id == folder.id
    notes = wait_until_ingested(client, folder.id, uploaded.id)
    survey = wait_until_ingested(client, folder.id, plain.id)
    chunks = folder_passages(client, folder.id)

    assert (notes.processing_status, survey.processing_status) == ("completed", "completed")
    assert notes.total_chunks == notes.chunks_embedded >= 1
    assert survey.total_chunks == survey.chunks_embedded > 1
    assert len(chunks) == notes.total_chunks + survey.total_chunks
    assert all(set(c["metadata"]) >= CHUNK_KEYS for c in chunks)
    by_file = {c["file_id"] for c in chunks}
    assert by_file == {notes.id, survey.id}
    first = min(
        (c for c in chunks if c["file_id"] == survey.id), key=lambda c: c["metadata"]["first_line"]
    )
    assert first["metadata"]["file_name"] == "survey.txt"
    assert first["metadata"]["first_line"] == 1
    assert first["text"].startswith("Line 1:")


def test_a_pdf_and_a_docx_are_ingested_with_their_pages_and_text(
    client: Letta, folder: Folder
) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for page in ("The pump is primed by hand.", "The valve opens clockwise."):
        pdf.add_page()
        pdf.cell(0, 8, page)
    document = docx.Document()
    document.add_heading("Seals", level=1)
    document.add_paragraph("Check the seals every month.")
    written = io.BytesIO()
    document.save(written)

    manual = client.folders.files.upload(
        folder.id, file=("manual.pdf", io.BytesIO(bytes(pdf.output())), "application/pdf")
    )
    seals = client.folders.files.upload(
        folder.id, file=("seals.docx", io.BytesIO(written.getvalue()), DOCX_TYPE)
    )
    manual = wait_until_ingested(client, folder.id, manual.id)
    seals = wait_until_ingested(client, folder.id, seals.id)
    chunks = folder_passages(client, folder.id)
    text = client.folders.files.retrieve(seals.id, folder_id=folder.id, include_content=True)

    assert (manual.processing_status, seals.processing_status) == ("completed", "completed")
    pages = {c["metadata"]["page"] for c in chunks if c["file_id"] == manual.id}
    assert pages == {1, 2}
    assert text.content is not None and "Check the seals every month." in text.content


def test_content_is_answered_only_when_asked_for(client: Letta, folder: Folder) -> None:
    uploaded = upload(client, folder.id, "notes.md", NOTES)
    wait_until_ingested(client, folder.id, uploaded.id)

    plain = client.folders.files.retrieve(uploaded.id, folder_id=folder.id)
    full = client.folders.files.retrieve(uploaded.id, folder_id=folder.id, include_content=True)
    listed = client.folders.files.list(folder.id, include_content=True).items

    assert plain.content is None
    assert full.content is not None and "pier four" in full.content
    assert [f.content for f in listed] == [full.content]


def test_duplicate_names_are_handled_as_asked(client: Letta, folder: Folder) -> None:
    first = upload(client, folder.id, "a.txt", "first version")
    suffixed = upload(client, folder.id, "a.txt", "second version")
    skipped = upload(client, folder.id, "a.txt", "third version", duplicate_handling="skip")
    with pytest.raises(ConflictError, match="a.txt"):
        upload(client, folder.id, "a.txt", "fourth", duplicate_handling="error")
    renamed = upload(client, folder.id, "whatever.txt", "named", name="b.txt")
    replaced = upload(client, folder.id, "a.txt", "fifth version", duplicate_handling="replace")

    names = sorted(f.file_name for f in client.folders.files.list(folder.id).items)
    assert suffixed.file_name == "a_(1).txt"
    assert skipped.id == first.id
    assert renamed.file_name == "b.txt"
    assert replaced.id != first.id
    assert names == ["a.txt", "a_(1).txt", "b.txt"]
    final = wait_until_ingested(client, folder.id, replaced.id)
    full = client.folders.files.retrieve(final.id, folder_id=folder.id, include_content=True)
    assert full.content == "fifth version"


def test_deleting_a_file_deletes_its_chunks(client: Letta, folder: Folder) -> None:
    kept = upload(client, folder.id, "kept.txt", NOTES)
    gone = upload(client, folder.id, "gone.txt", long_text(50))
    wait_until_ingested(client, folder.id, kept.id)
    wait_until_ingested(client, folder.id, gone.id)

    client.folders.files.delete(gone.id, folder_id=folder.id)

    assert {c["file_id"] for c in folder_passages(client, folder.id)} == {kept.id}
    assert [f.id for f in client.folders.files.list(folder.id).items] == [kept.id]
    with pytest.raises(NotFoundError):
        client.folders.files.retrieve(gone.id, folder_id=folder.id)


@pytest.mark.slow
def test_deleting_a_file_mid_ingestion_stops_it_and_leaves_nothing(
    client: Letta, folder: Folder
) -> None:
    big = upload(client, folder.id, "big.txt", long_text(6000))
    # Mid-job: parsed and chunked, embedding begun (the first batch may still be running;
    # on a loaded machine the low-priority embedding thread can take a while with it).
    deadline = time.monotonic() + 300
    while client.folders.files.retrieve(big.id, folder_id=folder.id).processing_status in (
        "pending",
        "parsing",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.folders.files.retrieve(big.id, folder_id=folder.id).processing_status == (
        "embedding"
    )

    client.folders.files.delete(big.id, folder_id=folder.id)
    time.sleep(1.0)  # a batch in flight when it was deleted ends by now

    assert folder_passages(client, folder.id) == []
    assert client.folders.files.list(folder.id).items == []


def test_deleting_a_folder_deletes_its_files_and_chunks(client: Letta) -> None:
    made = client.folders.create(name=f"temp-{uuid.uuid4().hex[:8]}")
    uploaded = upload(client, made.id, "notes.md", NOTES)
    wait_until_ingested(client, made.id, uploaded.id)

    client.folders.delete(made.id)

    with pytest.raises(NotFoundError):
        client.folders.files.list(made.id)
    with pytest.raises(NotFoundError):
        folder_passages(client, made.id)


# --------------------------------------------------------------------------- agents


@pytest.fixture
def agent(make_agent: AgentFactory) -> AgentState:
    return make_agent(max_files_open=2)


def test_an_attached_folder_shows_its_files_to_the_agent_until_detached(
    client: Letta, folder: Folder, agent: AgentState
) -> None:
    early = upload(client, folder.id, "early.md", NOTES)
    wait_until_ingested(client, folder.id, early.id)

    attached = client.agents.folders.attach(folder.id, agent_id=agent.id)
    late = upload(client, folder.id, "late.txt", "Written after the folder was attached.")
    wait_until_ingested(client, folder.id, late.id)
    files = client.agents.files.list(agent.id).files
    folders_of_agent = client.agents.folders.list(agent.id).items
    agents_of_folder = client.folders.agents.list(folder.id)
    detached = client.agents.folders.detach(folder.id, agent_id=agent.id)

    assert attached is not None and [s.id for s in attached.sources] == [folder.id]
    assert attached.max_files_open == 2
    assert {f.file_name for f in files} == {f"{folder.name}/early.md", f"{folder.name}/late.txt"}
    assert not any(f.is_open for f in files)
    assert [f.id for f in folders_of_agent] == [folder.id]
    assert agents_of_folder == [agent.id]
    assert detached is not None and detached.sources == []
    assert client.agents.files.list(agent.id).files == []


def test_opening_past_max_files_open_closes_the_least_recently_used(
    client: Letta, folder: Folder, agent: AgentState
) -> None:
    uploaded = [upload(client, folder.id, f"f{n}.txt", f"file number {n}") for n in range(3)]
    for item in uploaded:
        wait_until_ingested(client, folder.id, item.id)
    client.agents.folders.attach(folder.id, agent_id=agent.id)

    first = client.agents.files.open(uploaded[0].id, agent_id=agent.id)
    second = client.agents.files.open(uploaded[1].id, agent_id=agent.id)
    third = client.agents.files.open(uploaded[2].id, agent_id=agent.id)
    shown = client.agents.files.list(agent.id, is_open=True).files
    client.agents.files.close(uploaded[2].id, agent_id=agent.id)
    still_open = client.agents.files.list(agent.id, is_open=True).files
    closed_all = client.agents.files.close_all(agent.id)

    assert (first, second) == ([], [])
    assert third == [f"{folder.name}/f0.txt"]
    assert {f.file_id for f in shown} == {uploaded[1].id, uploaded[2].id}
    assert {f.visible_content for f in shown} == {"file number 1", "file number 2"}
    assert [f.file_id for f in still_open] == [uploaded[1].id]
    assert closed_all == [f"{folder.name}/f1.txt"]
    assert client.agents.files.list(agent.id, is_open=True).files == []


def test_agent_file_settings_are_set_on_create_and_update(
    client: Letta, make_agent: AgentFactory
) -> None:
    made = make_agent(max_files_open=3, per_file_view_window_char_limit=5000)
    updated = client.agents.update(made.id, max_files_open=7)

    assert (made.max_files_open, made.per_file_view_window_char_limit) == (3, 5000)
    assert (updated.max_files_open, updated.per_file_view_window_char_limit) == (7, 5000)


# --------------------------------------------------------------------------- restart


@pytest.mark.slow
def test_an_ingestion_cut_by_a_restart_resumes_and_stores_each_chunk_once(
    fake_llm: FakeLLM, tmp_path: Path, backend: Backend
) -> None:
    database = backend.database_url()
    first = EngramServer(tmp_path / "data", fake_llm.base_url, database_url=database)
    first.start()
    try:
        with letta_client_for(first) as client:
            made = client.folders.create(name="restart")
            big = upload(client, made.id, "big.txt", long_text(4000))
            deadline = time.monotonic() + 60
            while client.folders.files.retrieve(big.id, folder_id=made.id).chunks_embedded == 0:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        first.stop()
    second = EngramServer(tmp_path / "data", fake_llm.base_url, database_url=database)
    second.start()
    try:
        with letta_client_for(second) as client:
            cut = client.folders.files.retrieve(big.id, folder_id=made.id)
            done = wait_until_ingested(client, made.id, big.id, timeout=300)
            chunks = folder_passages(client, made.id)
    finally:
        second.stop()

    assert cut.processing_status != "completed"
    assert done.processing_status == "completed"
    assert done.chunks_embedded == done.total_chunks == len(chunks)
    assert len({c["metadata"]["first_line"] for c in chunks}) == len(chunks)


def test_folders_given_at_create_and_update_are_attached_as_by_attach(
    client: Letta, folder: Folder, make_agent: AgentFactory
) -> None:
    uploaded = upload(client, folder.id, "notes.md", NOTES)
    wait_until_ingested(client, folder.id, uploaded.id)
    file_tools = {"open_files", "grep_files", "semantic_search_files"}

    made = make_agent(folder_ids=[folder.id])

    assert [source.id for source in made.sources] == [folder.id]
    assert {tool.name for tool in made.tools} >= file_tools
    assert [view.file_id for view in client.agents.files.list(made.id).files] == [uploaded.id]

    emptied = client.agents.update(made.id, source_ids=[])

    assert emptied.sources == []
    assert not {tool.name for tool in emptied.tools} & file_tools
    assert client.agents.files.list(made.id).files == []

    again = client.agents.update(made.id, source_ids=[folder.id])
    assert [source.id for source in again.sources] == [folder.id]


def test_an_unknown_folder_at_create_is_a_404_and_no_agent(
    client: Letta, make_agent: AgentFactory
) -> None:
    before = len(list(client.agents.list()))

    with pytest.raises(NotFoundError, match="source-00000000"):
        make_agent(folder_ids=["source-00000000-0000-4000-8000-000000000000"])

    assert len(list(client.agents.list())) == before


def test_agent_files_list_in_attach_order_when_an_order_is_given(
    client: Letta, folder: Folder, agent: AgentState
) -> None:
    client.agents.folders.attach(folder.id, agent_id=agent.id)
    uploaded = []
    for n in range(3):
        item = upload(client, folder.id, f"o{n}.txt", f"ordered file {n}")
        wait_until_ingested(client, folder.id, item.id)
        uploaded.append(item.id)
    client.agents.files.open(uploaded[0], agent_id=agent.id)  # most recently used now

    used = [f.file_id for f in client.agents.files.list(agent.id).files]
    oldest_first = [f.file_id for f in client.agents.files.list(agent.id, order="asc").files]
    newest_first = client.agents.files.list(agent.id, order="desc").files
    views = {f.file_id: f.id for f in newest_first}
    before_last = client.agents.files.list(agent.id, order="asc", before=views[uploaded[2]]).files
    after_first = client.agents.files.list(agent.id, order="asc", after=views[uploaded[0]]).files

    assert used[0] == uploaded[0]
    assert oldest_first == uploaded
    assert [f.file_id for f in newest_first] == list(reversed(uploaded))
    assert [f.file_id for f in before_last] == uploaded[:2]
    assert [f.file_id for f in after_first] == uploaded[1:]


def test_a_folder_keeps_its_embedding_model_on_update(client: Letta, folder: Folder) -> None:
    same = folder.embedding_config.model_dump()
    other = {**same, "embedding_model": "another-model", "embedding_dim": 1536}

    kept = client.folders.update(folder.id, embedding_config=same, description="same model")
    with pytest.raises(UnprocessableEntityError) as caught:
        client.folders.update(folder.id, embedding_config=other, description="other model")

    assert kept.description == "same model"
    assert "embedding_config" in str(caught.value)
    assert client.folders.retrieve(folder.id).description == "same model"
