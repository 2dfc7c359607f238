"""Folders, their files and an agent's folders and files through ``engram.Engram``: the same
operations as the REST API, with the same shapes and the same refusals."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from engram import Engram
from engram.errors import Conflict, InvalidInput, NotFound, UnsupportedMediaType
from tests.client.shapes import new_agent, shape


def rest(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def wait_until_ingested(client: Engram, folder_id: str, file_id: str) -> Any:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = client.folders.files.retrieve(file_id, folder_id=folder_id)
        if found.processing_status in ("completed", "error"):
            return found
        time.sleep(0.1)
    raise AssertionError(f"file {file_id} is still being ingested")


def test_folder_lifecycle_answers_as_the_api_does(engram_client: Engram, api: httpx.Client) -> None:
    made = engram_client.folders.create(name="manuals", description="how-tos")
    over_http = rest(api.post("/v1/folders/", json={"name": f"m-{uuid.uuid4().hex[:8]}"}))
    api.delete(f"/v1/folders/{over_http['id']}")
    updated = engram_client.folders.update(made.id, instructions="cite the page")

    assert made.id.startswith("source-")
    assert shape(made) == shape(over_http)
    assert updated.instructions == "cite the page"
    assert [f.id for f in engram_client.folders.list(name="manuals")] == [made.id]
    with pytest.raises(Conflict):
        engram_client.folders.create(name="manuals")
    engram_client.folders.delete(made.id)
    with pytest.raises(NotFound):
        engram_client.folders.retrieve(made.id)


def test_uploads_in_every_form_are_ingested_and_agents_open_them(
    engram_client: Engram, tmp_path: Path
) -> None:
    folder = engram_client.folders.create(name="notes")
    on_disk = tmp_path / "disk.md"
    on_disk.write_text("# Disk\nKept on disk.")
    uploads = [
        engram_client.folders.files.upload(folder.id, file=on_disk),
        engram_client.folders.files.upload(folder.id, file=b"Raw bytes.", name="raw.txt"),
        engram_client.folders.files.upload(
            folder.id, file=("tuple.txt", io.BytesIO(b"From a tuple."), "text/plain")
        ),
    ]
    done = [wait_until_ingested(engram_client, folder.id, u.id) for u in uploads]
    agent_id = new_agent(engram_client, max_files_open=1)

    attached = engram_client.agents.folders.attach(folder.id, agent_id=agent_id)
    closed = engram_client.agents.files.open(uploads[1].id, agent_id=agent_id)
    swapped = engram_client.agents.files.open(uploads[2].id, agent_id=agent_id)
    page = engram_client.agents.files.list(agent_id, is_open=True)
    closed_all = engram_client.agents.files.close_all(agent_id)

    assert [d.processing_status for d in done] == ["completed"] * 3
    assert sorted(f.file_name for f in engram_client.folders.files.list(folder.id)) == [
        "disk.md",
        "raw.txt",
        "tuple.txt",
    ]
    assert [s["id"] for s in attached.sources] == [folder.id]
    assert engram_client.folders.agents.list(folder.id) == [agent_id]
    assert [f.id for f in engram_client.agents.folders.list(agent_id)] == [folder.id]
    assert closed == []
    assert swapped == ["notes/raw.txt"]
    assert [(f.file_name, f.visible_content) for f in page.files] == [
        ("notes/tuple.txt", "From a tuple.")
    ]
    assert closed_all == ["notes/tuple.txt"]
    engram_client.agents.folders.detach(folder.id, agent_id=agent_id)
    assert engram_client.agents.files.list(agent_id).files == []


def test_bad_uploads_are_refused_naming_the_field(engram_client: Engram) -> None:
    folder = engram_client.folders.create(name="strict")

    with pytest.raises(InvalidInput, match="^file:"):
        engram_client.folders.files.upload(folder.id, file=b"", name="empty.txt")
    with pytest.raises(UnsupportedMediaType, match="supported"):
        engram_client.folders.files.upload(folder.id, file=("a.exe", b"MZ", None))
    with pytest.raises(InvalidInput, match="^name:"):
        engram_client.folders.files.upload(folder.id, file=("ok.txt", b"text"), name="..")
    with pytest.raises(NotFound):
        engram_client.folders.files.upload("source-nope", file=b"text", name="a.txt")

    assert engram_client.folders.files.list(folder.id) == []
