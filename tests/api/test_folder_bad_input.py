"""Bad uploads and bad folder requests get a clear 4xx naming the field, and leave nothing
stored: empty or oversize files, types without a parser, unsafe names, missing folders,
two uploads of one name at once; a file that cannot be read ends ``error``, never a 500.
Over raw HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.conftest import MODEL, detail_text, error_fields
from tests.fakes import FakeLLM
from tests.helpers import failing_on_server_errors
from tests.support.backends import Backend
from tests.support.server import EngramServer, serving

UPLOAD_LIMIT = 4096


@pytest.fixture(scope="module")
def server(
    fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> Iterator[Any]:
    with serving(
        tmp_path_factory.mktemp("uploads"),
        fake_llm_server.base_url,
        {"ENGRAM_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)},
        database_url=backend.database_url(),
        in_process=True,
    ) as engram:
        yield engram


@pytest.fixture
def http(server: EngramServer, fake_llm: FakeLLM) -> Iterator[httpx.Client]:
    with (
        failing_on_server_errors() as record,
        server.client(event_hooks={"response": [record]}) as client,
    ):
        yield client


@pytest.fixture
def folder(http: httpx.Client) -> Iterator[dict[str, Any]]:
    response = http.post("/v1/folders/", json={"name": f"in-{uuid.uuid4().hex[:8]}"})
    assert response.status_code == 200, response.text
    yield response.json()
    http.delete(f"/v1/folders/{response.json()['id']}")


def upload(
    http: httpx.Client,
    folder_id: str,
    filename: str,
    data: bytes,
    content_type: str = "text/plain",
    **params: str,
) -> httpx.Response:
    return http.post(
        f"/v1/folders/{folder_id}/upload",
        files={"file": (filename, data, content_type)},
        params=params,
    )


def file_names(http: httpx.Client, folder_id: str) -> list[str]:
    response = http.get(f"/v1/folders/{folder_id}/files")
    assert response.status_code == 200, response.text
    return sorted(f["file_name"] for f in response.json())


def wait_until_ingested(http: httpx.Client, folder_id: str, file_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found: dict[str, Any] = http.get(f"/v1/folders/{folder_id}/files/{file_id}").json()
        if found["processing_status"] in ("completed", "error"):
            return found
        time.sleep(0.1)
    raise AssertionError(f"file {file_id} is still being ingested")


# --------------------------------------------------------------------------- uploads


def test_an_empty_file_is_refused_naming_it(http: httpx.Client, folder: dict[str, Any]) -> None:
    response = upload(http, folder["id"], "empty.txt", b"")

    assert response.status_code == 422
    assert error_fields(response) == ["file"]
    assert "empty.txt" in detail_text(response)
    assert file_names(http, folder["id"]) == []


def test_a_file_over_the_upload_limit_is_a_413_naming_the_setting(
    http: httpx.Client, folder: dict[str, Any]
) -> None:
    just_over = upload(http, folder["id"], "big.txt", b"x" * (UPLOAD_LIMIT + 1))
    far_over = upload(http, folder["id"], "huge.txt", b"x" * (UPLOAD_LIMIT + 200_000))

    assert just_over.status_code == 413
    assert error_fields(just_over) == ["file"]
    assert "ENGRAM_MAX_UPLOAD_BYTES" in detail_text(just_over)
    assert far_over.status_code == 413
    assert error_fields(far_over) == ["file"]
    assert "ENGRAM_MAX_UPLOAD_BYTES" in detail_text(far_over)
    assert file_names(http, folder["id"]) == []


def test_a_type_without_a_parser_is_a_415_listing_the_supported_types(
    http: httpx.Client, folder: dict[str, Any]
) -> None:
    response = upload(http, folder["id"], "setup.exe", b"MZ\x90\x00", "application/x-msdownload")

    assert response.status_code == 415
    assert error_fields(response) == ["file"]
    assert "supported" in detail_text(response)
    assert "text/plain" in detail_text(response)
    assert file_names(http, folder["id"]) == []


def test_a_path_in_a_file_name_is_dropped_to_its_base_name(
    http: httpx.Client, folder: dict[str, Any]
) -> None:
    climbing = upload(http, folder["id"], "../../etc/passwd.txt", b"not a password file")
    windows = upload(http, folder["id"], "..\\..\\boot.txt", b"nor a boot file")
    renamed = upload(http, folder["id"], "x.txt", b"renamed", name="../up/there.txt")

    assert climbing.status_code == 200, climbing.text
    assert climbing.json()["file_name"] == "passwd.txt"
    assert windows.json()["file_name"] == "boot.txt"
    assert renamed.json()["file_name"] == "there.txt"


@pytest.mark.parametrize(
    ("filename", "name", "field"),
    [
        ("..", None, "file"),
        ("ok.txt", "", "name"),
        ("ok.txt", "a\x00b.txt", "name"),
        ("ok.txt", "../..", "name"),
    ],
    ids=["dots-only", "empty-name", "nul-in-name", "dots-only-name"],
)
def test_a_name_that_names_no_file_is_refused_naming_the_field(
    http: httpx.Client, folder: dict[str, Any], filename: str, name: str | None, field: str
) -> None:
    params = {"name": name} if name is not None else {}
    response = upload(http, folder["id"], filename, b"some text", **params)

    assert response.status_code == 422, response.text
    assert field in error_fields(response)
    assert file_names(http, folder["id"]) == []


def test_a_nul_in_the_file_name_is_refused_naming_file(
    http: httpx.Client, folder: dict[str, Any]
) -> None:
    # Written by hand: HTTP clients percent-encode a NUL in a multipart file name.
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="bad\x00name.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"some text\r\n"
        b"--b0undary--\r\n"
    )
    response = http.post(
        f"/v1/folders/{folder['id']}/upload",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=b0undary"},
    )

    assert response.status_code == 422, response.text
    assert "file" in error_fields(response)
    assert file_names(http, folder["id"]) == []


def test_an_upload_without_a_file_part_is_refused_naming_file(
    http: httpx.Client, folder: dict[str, Any]
) -> None:
    response = http.post(f"/v1/folders/{folder['id']}/upload", data={"other": "x"})

    assert response.status_code == 422
    assert "file" in error_fields(response)


def test_an_unknown_duplicate_handling_is_refused_naming_it(
    http: httpx.Client, folder: dict[str, Any]
) -> None:
    response = upload(http, folder["id"], "a.txt", b"text", duplicate_handling="overwrite")

    assert response.status_code == 422
    assert error_fields(response) == ["duplicate_handling"]


def test_an_upload_to_a_missing_folder_is_a_404(http: httpx.Client) -> None:
    response = upload(http, "source-00000000-0000-4000-8000-000000000000", "a.txt", b"text")

    assert response.status_code == 404
    assert "folder" in detail_text(response)


@pytest.mark.parametrize("handling", ["error", "suffix", "skip"])
def test_two_uploads_of_one_name_at_once_never_make_two_files_of_that_name(
    http: httpx.Client, folder: dict[str, Any], handling: str
) -> None:
    def send(n: int) -> httpx.Response:
        return upload(
            http, folder["id"], "same.txt", f"version {n}".encode(), duplicate_handling=handling
        )

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))

    statuses = sorted(a.status_code for a in answers)
    names = file_names(http, folder["id"])
    if handling == "error":
        assert statuses == [200, 409, 409, 409]
        assert names == ["same.txt"]
    elif handling == "suffix":
        assert statuses == [200] * 4
        assert names == ["same.txt", "same_(1).txt", "same_(2).txt", "same_(3).txt"]
    else:
        assert statuses == [200] * 4
        assert len({a.json()["id"] for a in answers}) == 1
        assert names == ["same.txt"]


def test_a_file_that_cannot_be_read_ends_in_error_with_a_message(
    http: httpx.Client, folder: dict[str, Any]
) -> None:
    garbage = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog" + bytes(range(256)) * 4
    response = upload(http, folder["id"], "broken.pdf", garbage, "application/pdf")
    assert response.status_code == 200, response.text

    ended = wait_until_ingested(http, folder["id"], response.json()["id"])
    chunks = http.get(f"/v1/folders/{folder['id']}/passages").json()

    assert ended["processing_status"] == "error"
    assert "broken.pdf" in ended["error_message"]
    assert chunks == []


# --------------------------------------------------------------------------- folders


def test_a_folder_needs_a_name_and_a_free_one(http: httpx.Client, folder: dict[str, Any]) -> None:
    unnamed = http.post("/v1/folders/", json={"name": ""})
    taken = http.post("/v1/folders/", json={"name": folder["name"]})
    renamed_onto = http.post("/v1/folders/", json={"name": f"other-{uuid.uuid4().hex[:6]}"})
    clash = http.patch(f"/v1/folders/{renamed_onto.json()['id']}", json={"name": folder["name"]})
    http.delete(f"/v1/folders/{renamed_onto.json()['id']}")

    assert unnamed.status_code == 422
    assert error_fields(unnamed) == ["name"]
    assert taken.status_code == 409
    assert "name" in detail_text(taken)
    assert clash.status_code == 409


def test_a_chunk_size_out_of_range_is_refused_naming_it(http: httpx.Client) -> None:
    response = http.post("/v1/folders/", json={"name": "tiny", "embedding_chunk_size": 2})

    assert response.status_code == 422
    assert error_fields(response) == ["embedding_chunk_size"]


def test_a_folders_archive_is_no_archive(http: httpx.Client, folder: dict[str, Any]) -> None:
    archives = http.get("/v1/archives/", params={"limit": 1000}).json()
    hidden = [a for a in archives if a["name"] == f"folder:{folder['name']}"]

    assert hidden == []


def test_missing_agents_files_and_folders_are_404s(
    http: httpx.Client, folder: dict[str, Any]
) -> None:
    agent = http.post("/v1/agents/", json={"model": MODEL}).json()
    missing = "file-00000000-0000-4000-8000-000000000000"

    answers = [
        http.patch(f"/v1/agents/{agent['id']}/folders/attach/source-nope"),
        http.patch(f"/v1/agents/agent-nope/folders/attach/{folder['id']}"),
        http.patch(f"/v1/agents/{agent['id']}/files/{missing}/open"),
        http.get(f"/v1/folders/{folder['id']}/files/{missing}"),
        http.delete(f"/v1/folders/{folder['id']}/{missing}"),
        http.get("/v1/folders/source-nope"),
    ]

    http.delete(f"/v1/agents/{agent['id']}")

    assert [a.status_code for a in answers] == [404] * len(answers)
