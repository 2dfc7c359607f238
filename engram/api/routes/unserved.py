"""Contract paths Engram does not serve yet: a 501 naming the path, never a 404.

A client calling an operation Engram lacks must learn that the operation is missing, not that
its id is wrong. ``install_unserved_routes`` runs after every other router is included and adds
an explicit 501 route for each contract operation no route serves, so an operation stops
answering 501 the moment a router starts serving it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts

from engram.api.contract_paths import CONTRACT_PATHS, ContractPath, path_shape

Endpoint = Callable[[], Awaitable[JSONResponse]]

# letta-client retries every 5xx twice with backoff unless told not to: a missing operation
# stays missing, so say so and let the caller fail at once.
NO_RETRY = {"x-should-retry": "false"}

_CONTRACT_PATH_ATTRIBUTE = "engram_unserved_contract_path"


def not_implemented_detail(operation: ContractPath) -> str:
    return f"{operation.method} {operation.path} is not implemented by this Engram server yet"


def served_shapes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path shape) of every route the app serves; see ``path_shape``."""
    shapes: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        if route.path is None or contract_path_of(route.endpoint) is not None:
            continue
        for method in route.methods or ():
            shapes.add((method, path_shape(route.path)))
    return shapes


def unserved_operations(app: FastAPI) -> list[ContractPath]:
    """Contract operations that no route of ``app`` serves, in contract order."""
    served = served_shapes(app)
    return [operation for operation in CONTRACT_PATHS if operation.shape not in served]


def install_unserved_routes(app: FastAPI) -> list[ContractPath]:
    """Answer 501 on every contract operation the app does not serve; returns them.

    Call once, after including every other router: operations served by then are skipped,
    while a router included after this call would lose its contract operations to the 501s.
    """
    missing = unserved_operations(app)
    router = APIRouter(tags=["unserved"])
    for operation in missing:
        router.add_api_route(
            operation.path,
            _answer_501(operation),
            methods=[operation.method],
            name=f"unserved_{operation.operation}",
            include_in_schema=False,
        )
    app.include_router(router)
    return missing


def not_implemented_route(router: APIRouter, operation: ContractPath) -> None:
    """Add to ``router`` a 501 route for a Letta operation outside the contract that
    Engram does not serve, answered like the contract's own unserved paths."""
    router.add_api_route(
        operation.path,
        _answer_501(operation),
        methods=[operation.method],
        name=f"unserved_{operation.operation}",
        include_in_schema=False,
    )


def contract_path_of(endpoint: object) -> ContractPath | None:
    """The operation a 501 endpoint stands in for; None for any other endpoint."""
    return getattr(endpoint, _CONTRACT_PATH_ATTRIBUTE, None)


def _answer_501(operation: ContractPath) -> Endpoint:
    detail = not_implemented_detail(operation)

    # No parameters: path, query and body are left unread, so any request shape gets the 501.
    async def not_implemented() -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=501, headers=NO_RETRY)

    setattr(not_implemented, _CONTRACT_PATH_ATTRIBUTE, operation)
    return not_implemented
