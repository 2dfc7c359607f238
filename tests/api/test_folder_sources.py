"""The older names Letta 0.16.8 still served for folders (``/v1/sources/...``) answer as
the folder operations do, so older clients keep working; and the folder counts, names
and metadata."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from tests.api.conftest import AgentFactory


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def wait_until_ingested(api: httpx.Client, source_id: str, file_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found: dict[str, Any] = ok(api.get(f"/v1/sources/{source_id}/files/{file_id}"))
        if found["processing_status"] in ("completed", "error"):
            return found
        time.sleep(0.1)
    raise AssertionError("still being ingested")


def test_sources_paths_serve_the_folder_operations(
    api: httpx.Client, make_agent: AgentFactory
) -> None:
    name = f"src-{uuid.uuid4().hex[:8]}"
    source = ok(api.post("/v1/sources/", json={"name": name}))
    sid = source["id"]
    uploaded = ok(
        api.post(
            f"/v1/sources/{sid}/upload",
            files={"file": ("old.txt", b"An older client uploaded this.", "text/plain")},
        )
    )
    done = wait_until_ingested(api, sid, uploaded["id"])
    agent = make_agent()
    attached = ok(api.patch(f"/v1/agents/{agent['id']}/sources/attach/{sid}"))

    assert ok(api.get(f"/v1/sources/{sid}")) == ok(api.get(f"/v1/folders/{sid}"))
    assert [s["id"] for s in ok(api.get("/v1/sources/", params={"name": name}))] == [sid]
    assert ok(api.get(f"/v1/sources/name/{name}")) == sid
    assert ok(api.get(f"/v1/folders/name/{name}")) == sid
    assert ok(api.get("/v1/sources/count")) == ok(api.get("/v1/folders/count")) >= 1
    assert done["processing_status"] == "completed"
    assert [f["id"] for f in ok(api.get(f"/v1/sources/{sid}/files"))] == [uploaded["id"]]
    chunks = ok(api.get(f"/v1/sources/{sid}/passages"))
    assert [(c["file_id"], c["source_id"]) for c in chunks] == [(uploaded["id"], sid)]
    assert [s["id"] for s in attached["sources"]] == [sid]
    assert [s["id"] for s in ok(api.get(f"/v1/agents/{agent['id']}/sources"))] == [sid]
    assert ok(api.get(f"/v1/sources/{sid}/agents")) == [agent["id"]]

    renamed = ok(api.patch(f"/v1/sources/{sid}", json={"description": "older"}))
    detached = ok(api.patch(f"/v1/agents/{agent['id']}/sources/detach/{sid}"))
    ok(api.delete(f"/v1/sources/{sid}/{uploaded['id']}"))

    assert renamed["description"] == "older"
    assert detached["sources"] == []
    assert ok(api.get(f"/v1/sources/{sid}/files")) == []
    ok(api.delete(f"/v1/sources/{sid}"))
    assert api.get(f"/v1/sources/{sid}").status_code == 404


def test_folder_metadata_counts_files_and_bytes(api: httpx.Client) -> None:
    folder = ok(api.post("/v1/folders/", json={"name": f"meta-{uuid.uuid4().hex[:8]}"}))
    for name, data in (("a.txt", b"12345"), ("b.txt", b"123")):
        ok(
            api.post(
                f"/v1/folders/{folder['id']}/upload", files={"file": (name, data, "text/plain")}
            )
        )

    brief = ok(api.get("/v1/folders/metadata"))
    detailed = ok(
        api.get("/v1/sources/metadata", params={"include_detailed_per_source_metadata": True})
    )
    api.delete(f"/v1/folders/{folder['id']}")

    mine = next(s for s in brief["sources"] if s["source_id"] == folder["id"])
    assert (mine["file_count"], mine["total_size"], mine["files"]) == (2, 8, [])
    assert brief["total_files"] >= 2 and brief["total_size"] >= 8
    listed = next(s for s in detailed["sources"] if s["source_id"] == folder["id"])
    assert sorted((f["file_name"], f["file_size"]) for f in listed["files"]) == [
        ("a.txt", 5),
        ("b.txt", 3),
    ]


def test_an_unknown_folder_name_is_a_404(api: httpx.Client) -> None:
    assert api.get("/v1/folders/name/no-such-folder").status_code == 404
