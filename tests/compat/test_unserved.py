"""Operations Engram lacks answer 501 naming the operation, so a letta-client user learns the
operation is missing (not that an id is wrong) and the SDK does not retry it; operations a
router serves never get a 501 route."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from engram.api.contract_paths import CONTRACT_PATHS
from engram.api.routes.unserved import install_unserved_routes, not_implemented_detail

# Every contract operation is served now; an app serving none of them stands in for a
# server lacking one.
UNSERVED = next(op for op in CONTRACT_PATHS if op.operation == "list_conversations")


def test_unserved_operation_answers_501_naming_the_operation_without_retrying() -> None:
    app = FastAPI()
    install_unserved_routes(app)

    answer = TestClient(app).get("/v1/conversations/")

    assert answer.status_code == 501
    assert answer.json() == {"detail": not_implemented_detail(UNSERVED)}
    assert answer.json()["detail"] == (
        "GET /v1/conversations/ is not implemented by this Engram server yet"
    )
    # letta-client retries a 5xx unless told not to.
    assert answer.headers["x-should-retry"] == "false"


def test_operations_a_router_serves_get_no_501_route_whatever_its_spelling() -> None:
    app = FastAPI()
    folders = APIRouter()

    # Served without the trailing slash, and with a parameter named differently: both still
    # answer the URLs the SDK requests, so neither may be shadowed by a 501.
    @folders.get("/v1/folders")
    async def list_folders() -> list[str]:
        return []

    @folders.get("/v1/folders/{id}")
    async def retrieve_folder(id: str) -> dict[str, str]:
        return {"id": id}

    app.include_router(folders)

    missing = install_unserved_routes(app)

    assert {str(op) for op in missing} >= {"POST /v1/folders/", "DELETE /v1/folders/{folder_id}"}
    assert not {str(op) for op in missing} & {"GET /v1/folders/", "GET /v1/folders/{folder_id}"}
    assert len(missing) == len(CONTRACT_PATHS) - 2
