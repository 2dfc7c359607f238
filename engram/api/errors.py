"""One place that turns runtime errors into HTTP answers with Letta's body shape."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engram.errors import (
    CapabilityMissing,
    Conflict,
    EngramError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ProviderError,
    UnsupportedMediaType,
)
from engram.input_limits import MAX_JSON_DEPTH
from engram.store.db import database_unavailable, storage_full

log = logging.getLogger(__name__)

TOO_DEEP_TO_DECODE = (
    f"the JSON body is nested too deep to decode; fields may nest at most {MAX_JSON_DEPTH} levels"
)
# Subclasses before the classes they refine: the first match wins.
STATUS = {
    UnsupportedMediaType: 415,
    PayloadTooLarge: 413,
    NotFound: 404,
    InvalidInput: 422,
    Conflict: 409,
    ProviderError: 502,
    CapabilityMissing: 503,
}


def _status(exc: EngramError) -> int:
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 400


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(EngramError)
    async def _engram_error(_request: Request, exc: EngramError) -> JSONResponse:
        status = _status(exc)
        # letta-client retries 409s (and 5xx) unless told not to; these will not go away
        # (a missing capability needs an operator).
        headers = {"x-should-retry": "false"} if status in (409, 503) else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": list(error.get("loc", ())),
                "msg": error.get("msg", ""),
                "type": error.get("type", ""),
            }
            for error in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # A body nested deeper than the JSON decoder goes is not a body that failed to
        # parse for an unknown reason: name the limit, as for a deep field (input_limits).
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
            error = {"loc": ["body"], "msg": TOO_DEEP_TO_DECODE, "type": "input_limit"}
            return JSONResponse({"detail": [error]}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(StaleDataError)
    async def _stale(_request: Request, exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            {"detail": "the object changed while this request ran; retry it"}, status_code=409
        )

    app.add_middleware(UnexpectedErrors)


DATABASE_UNAVAILABLE = (
    "the database is unavailable right now (restarting or unreachable); retry shortly"
)
STORAGE_FULL = (
    "the disk holding the database is full, so nothing of this request was saved: free "
    "some space (or grow the volume), then retry"
)
STORAGE_FULL_RETRY_SECONDS = "60"


class UnexpectedErrors:
    """Answers a bug with a JSON 500, and a database outage with a 503; keeps the
    connection open.

    Starlette's own last-resort handler re-raises after answering, which makes the server
    drop the client's keep-alive connection; one bad request should not cost the client
    its next one.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if storage_full(exc):
                # 507 Insufficient Storage: the request was fine; the disk is not.
                log.error(
                    "disk full on %s %s: %s",
                    scope.get("method"),
                    scope.get("path"),
                    _first_line(exc),
                )
                if started:
                    raise
                response = JSONResponse(
                    {"detail": STORAGE_FULL},
                    status_code=507,
                    headers={"Retry-After": STORAGE_FULL_RETRY_SECONDS},
                )
                await response(scope, receive, send)
                return
            if database_unavailable(exc):
                # Not a bug: the server comes back, and so do its pooled connections.
                log.warning(
                    "database unavailable on %s %s: %s",
                    scope.get("method"),
                    scope.get("path"),
                    exc.__cause__ or exc,
                )
                if started:
                    raise
                response = JSONResponse(
                    {"detail": DATABASE_UNAVAILABLE},
                    status_code=503,
                    headers={"Retry-After": "1"},
                )
                await response(scope, receive, send)
                return
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            response = JSONResponse(
                {"detail": f"internal error ({type(exc).__name__}); see the server log"},
                status_code=500,
            )
            await response(scope, receive, send)


def _first_line(exc: BaseException) -> str:
    """The driver's own words, without the statement and parameters SQLAlchemy appends
    (a passage's whole text, say)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__
