"""Letta 0.16.8's MCP OAuth routes, answered plainly: Engram has no OAuth flow.

Letta connects to an MCP server that asks for OAuth by streaming the authorization steps
(``connect``) and finishing them at its callback. Engram takes a server's credentials as
``auth_token`` or ``custom_headers`` instead (docs/mcp.md). Without these stand-ins the
paths would answer a 404 or 405 that reads as a wrong id or method; each answers a 501 that
names the path and says what to do, with ``x-should-retry: false`` as every unserved
operation does."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from engram.api.routes.unserved import NO_RETRY

router = APIRouter(tags=["mcp-servers (OAuth, not served)"])

INSTEAD = (
    "Engram has no MCP OAuth flow: give the server's token in auth_token (or its headers "
    "in custom_headers) when adding or updating it, e.g. POST /v1/mcp-servers/"
)


def _answer(request: Request) -> JSONResponse:
    detail = f"{request.method} {request.url.path} is not served by Engram. {INSTEAD}"
    return JSONResponse({"detail": detail}, status_code=501, headers=NO_RETRY)


@router.post("/v1/tools/mcp/servers/connect", status_code=501)
async def connect_legacy(request: Request) -> JSONResponse:
    return _answer(request)


@router.get("/v1/mcp-servers/connect/{mcp_server_id}", status_code=501)
async def connect(request: Request) -> JSONResponse:
    return _answer(request)


@router.get("/v1/tools/mcp/oauth/callback", status_code=501)
async def oauth_callback(request: Request) -> JSONResponse:
    return _answer(request)
