"""One place that turns runtime errors into HTTP answers with Letta's body shape."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError

from engram.errors import Conflict, EngramError, InvalidInput, NotFound, ProviderError

log = logging.getLogger(__name__)

STATUS = {NotFound: 404, InvalidInput: 422, Conflict: 409, ProviderError: 502}


def _status(exc: EngramError) -> int:
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 400


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(EngramError)
    async def _engram_error(_request: Request, exc: EngramError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=_status(exc))

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

    @app.exception_handler(StaleDataError)
    async def _stale(_request: Request, exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            {"detail": "the object changed while this request ran; retry it"}, status_code=409
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(
            {"detail": f"internal error ({type(exc).__name__}); see the server log"},
            status_code=500,
        )
