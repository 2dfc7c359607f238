"""The FastAPI application: routers, error mapping, API-key check, runtime lifecycle."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from engram.api.body_limit import BodyLimit
from engram.api.errors import install_error_handlers
from engram.api.routes import (
    agent_files,
    agents,
    approvals,
    archival,
    archives,
    catalog,
    conversations,
    folders,
    groups,
    identities,
    mcp_legacy,
    mcp_oauth,
    mcp_servers,
    memory,
    message_search,
    messages,
    recall,
    run_stream,
    runs,
    streaming,
    tools,
    unserved,
)
from engram.config import Settings
from engram.runtime import lifecycle
from engram.runtime.engine import Services
from engram.version import __version__

OPEN_PATHS = {"/v1/health", "/v1/health/"}


def create_app(
    settings: Settings | None = None,
    *,
    schema_migrated: bool = False,
    environ: Mapping[str, str] | None = None,
) -> FastAPI:
    """``schema_migrated``: the caller (``engram serve``) brought the schema up to date
    already, so start-up does not migrate a second time. ``environ``: where the providers'
    variables are read (None: this process's environment; see ``Services``)."""
    settings = settings or Settings()
    engram = Services(settings, schema_migrated=schema_migrated, environ=environ)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await lifecycle.start(engram)
        try:
            yield
        finally:
            await engram.close()

    app = FastAPI(title="Engram", version=__version__, lifespan=lifespan)
    app.state.engram = engram
    # Inside the error middleware's reach, so a 413 raised while reading is answered here.
    app.add_middleware(BodyLimit, settings=settings)
    install_error_handlers(app)
    if settings.api_keys:
        _require_api_key(app, settings.api_keys)
    for module in (
        catalog,
        agent_files,
        agents,
        approvals,
        memory,
        archival,
        messages,
        streaming,
        runs,
        run_stream,
        archives,
        tools,
        mcp_servers,
        mcp_legacy,
        mcp_oauth,
        message_search,
        recall,
        identities,
        folders,
        groups,
        conversations,
    ):
        app.include_router(module.router)
    # Last: it answers every contract path no router above has served.
    unserved.install_unserved_routes(app)
    return app


def _require_api_key(app: FastAPI, keys: list[str]) -> None:
    encoded = [key.encode() for key in keys]

    @app.middleware("http")
    async def check_key(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path in OPEN_PATHS:
            return await call_next(request)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        given = token.strip().encode()
        if scheme.lower() == "bearer" and any(hmac.compare_digest(given, k) for k in encoded):
            return await call_next(request)
        return JSONResponse(
            {"detail": "missing or wrong API key: send 'Authorization: Bearer <key>'"},
            status_code=401,
        )
