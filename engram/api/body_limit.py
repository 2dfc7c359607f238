"""The request-size limit, enforced before a body is read into memory.

Why a pure ASGI middleware: it sees ``Content-Length`` before anything reads the body, so a
declared oversize body is refused without reading a byte of it, and it wraps ``receive`` so
a chunked body (no length declared) is counted as it streams and refused the moment it
passes the limit. It also puts the per-field limits in force for the request's validators.
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engram.config import Settings
from engram.input_limits import InputLimits, limits_in_force

# Agent files carry a whole agent's history: they get a limit of their own.
AGENT_FILE_PATHS = {"/v1/agents/import", "/v1/agents/import/"}
# So do uploads into folders; the upload itself is held to the limit exactly (a 413 naming
# the file), the request around it gets room for the multipart framing.
UPLOAD_PATH = re.compile(r"^/v1/(folders|sources)/[^/]+/upload/?$")
MULTIPART_ROOM = 64 * 1024
UPLOAD_SETTING = "ENGRAM_MAX_UPLOAD_BYTES"
# The connection is not reused (the rest of the body is never read), and retrying the same
# body cannot succeed.
REFUSAL_HEADERS = {"connection": "close", "x-should-retry": "false"}


class BodyTooLarge(HTTPException):
    """Raised from ``receive``; an HTTPException so the framework answers it as a 413
    instead of as a body it failed to parse."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(413, too_large(limit, setting), headers=dict(REFUSAL_HEADERS))


def too_large(limit: int, setting: str) -> str:
    # An upload's 413 names its field, as the upload's own size check does.
    what = "file: the upload" if setting == UPLOAD_SETTING else "request body"
    return (
        f"{what} is larger than the limit of {limit} bytes "
        f"({limit / (1024 * 1024):.0f} MiB); the server's operator can raise it with {setting}"
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limits = InputLimits.from_settings(settings)
        self.request_bytes = settings.max_request_bytes
        self.agent_file_bytes = settings.max_agent_file_bytes
        self.upload_bytes = settings.max_upload_bytes + MULTIPART_ROOM

    def _limit(self, path: str) -> tuple[int, str]:
        if path in AGENT_FILE_PATHS:
            return self.agent_file_bytes, "ENGRAM_MAX_AGENT_FILE_BYTES"
        if UPLOAD_PATH.match(path):
            return self.upload_bytes, UPLOAD_SETTING
        return self.request_bytes, "ENGRAM_MAX_REQUEST_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self._limit(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit, setting)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit, setting)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with limits_in_force(self.limits):
            try:
                await self.app(scope, counting_receive, tracking_send)
            except BodyTooLarge:
                if started:
                    raise
                await _refuse(scope, receive, send, limit, setting)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int, setting: str) -> None:
    response = JSONResponse(
        {"detail": too_large(limit, setting)}, status_code=413, headers=REFUSAL_HEADERS
    )
    await response(scope, receive, send)
