"""A scripted fake LLM served over real HTTP on 127.0.0.1, speaking both OpenAI's
chat completions and Anthropic's Messages API.

Tests never call a real model: the engram server (a separate process) talks
to this fake through the official ``openai`` and ``anthropic`` SDKs, so the whole
HTTP path — JSON bodies, SSE streaming, error statuses, retries, dropped
connections — is exercised. One script serves both: each reply is rendered in
the wire format of the request that consumes it.

The server is uvicorn + Starlette running in a daemon thread with its own
event loop: concurrent requests and streaming come for free, delays are
non-blocking, and start-up takes a few milliseconds once imported.

Standalone (benchmarks)::

    python -m tests.fakes.fake_llm --port 0 --mode echo   # first stdout line = base URL
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.responses import Response as HTTPResponse
from starlette.routing import Route

from . import anthropic_wire
from .openai_wire import (
    ResolvedCall,
    completion_body,
    embeddings_body,
    error_body,
    error_headers,
    stream_payloads,
    validate_chat_body,
)
from .replies import (
    BrokenJSONReply,
    ErrorReply,
    FakeRequest,
    Handler,
    Reply,
    Response,
    TextReply,
    ToolCallsReply,
    TruncatedReply,
    Wire,
    echo_handler,
    ok_handler,
    reply,
    tool_then_answer_handler,
)

__all__ = ["DEFAULT_MODELS", "FakeLLM", "FakeLLMHandlerError", "Rule", "main", "reply"]

DEFAULT_MODELS: tuple[str, ...] = ("gpt-4o-mini", "fake-small", "text-embedding-3-small")
Endpoint = Literal["chat", "embeddings", "any"]
_START_TIMEOUT = 10.0
_SLEEP_SLICE = 0.05
SSEPayload = dict[str, Any] | str | tuple[str, dict[str, Any] | str]
"""An SSE event: OpenAI's bare ``data:`` (object or literal) or Anthropic's named event."""


class FakeLLMHandlerError(RuntimeError):
    """A test-supplied predicate/handler raised; surfaced so script bugs are not silent."""


@dataclass(eq=False)
class Rule:
    """A predicate-guarded reply checked before the queue (persistent unless ``times`` is set)."""

    predicate: Callable[[FakeRequest], bool]
    response: Response
    times: int | None = None
    endpoint: Endpoint = "chat"
    hits: int = 0
    active: bool = field(default=True)

    def matches(self, request: FakeRequest) -> bool:
        if not self.active:
            return False
        if self.endpoint == "chat" and not request.is_chat:
            return False
        if self.endpoint == "embeddings" and not request.is_embeddings:
            return False
        return bool(self.predicate(request))

    def cancel(self) -> None:
        """Stop this rule from matching again."""
        self.active = False


class FakeLLM:
    """Scripted OpenAI-compatible server; see module docstring.

    Resolution order for each chat request: matching rules (first registered
    first), then the script queue, then ``fallback``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] = DEFAULT_MODELS,
        embedding_dim: int = 1536,
        fallback: Handler | None = None,
        api_key: str | None = None,
        validate_messages: bool = True,
    ) -> None:
        self.host = host
        self.models = list(models)
        self.embedding_dim = embedding_dim
        self.api_key = api_key
        self.validate_messages = validate_messages
        self._requested_port = port
        self._default_fallback: Handler = fallback or ok_handler
        self._fallback: Handler = self._default_fallback
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._queue: deque[Response] = deque()
        self._rules: list[Rule] = []
        self._requests: list[FakeRequest] = []
        self._errors: list[BaseException] = []
        # tool_use ids answered beside a thinking block: replaying one needs that thinking.
        self._thinking_tool_ids: set[str] = set()
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self.app = self._build_app()

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeLLM is not started")
        return self._port

    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:12345``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as ``OPENAI_BASE_URL`` / ``base_url`` (ends in ``/v1``)."""
        return f"{self.url}/v1"

    def start(self) -> FakeLLM:
        """Bind a port and serve in a daemon thread; returns once accepting connections."""
        if self._thread is not None:
            return self
        self._stopping.clear()
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto
        # is TCP, and without it keep-alive requests stall ~40 ms (Nagle + delayed ACK).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(1024)
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"fake-llm:{self._port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self._server = self._thread = None
                sock.close()
                raise RuntimeError("fake LLM server failed to start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        """Stop serving; pending delays are cut short so shutdown is quick."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.should_exit = True
        thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ scripting
    def script(self, *responses: Response) -> FakeLLM:
        """Queue replies; each chat request consumes the next one, in order."""
        for item in responses:
            if not isinstance(item, Reply) and not callable(item):
                raise TypeError(f"script items must be replies or handlers, got {item!r}")
        with self._lock:
            self._queue.extend(responses)
        return self

    def when(
        self,
        predicate: Callable[[FakeRequest], bool],
        response: Response,
        *,
        once: bool = False,
        times: int | None = None,
        endpoint: Endpoint = "chat",
    ) -> Rule:
        """Answer requests matching ``predicate`` with ``response``, before the queue.

        Persistent by default; ``once=True`` or ``times=n`` limit it. With
        ``endpoint="embeddings"`` an ErrorReply/delay applies to embeddings.
        """
        if once:
            times = 1
        rule = Rule(predicate=predicate, response=response, times=times, endpoint=endpoint)
        with self._lock:
            self._rules.append(rule)
        return rule

    @property
    def fallback(self) -> Handler:
        return self._fallback

    @fallback.setter
    def fallback(self, handler: Handler | Reply) -> None:
        """Accepts a handler or a fixed Reply (answered to every unscripted call)."""
        if isinstance(handler, Reply):
            fixed = handler
            self._fallback = lambda _request: fixed
        else:
            self._fallback = handler

    def reset(self) -> None:
        """Forget script, rules, recorded requests and errors; restore the default fallback."""
        with self._lock:
            self._queue.clear()
            self._rules.clear()
            self._requests.clear()
            self._errors.clear()
            self._thinking_tool_ids.clear()
            self._fallback = self._default_fallback

    # ------------------------------------------------------------------ inspection
    @property
    def requests(self) -> list[FakeRequest]:
        """Snapshot of every request received (all endpoints), oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[FakeRequest]:
        return [r for r in self.requests if r.is_chat]

    @property
    def embedding_requests(self) -> list[FakeRequest]:
        return [r for r in self.requests if r.is_embeddings]

    @property
    def last_request(self) -> FakeRequest | None:
        with self._lock:
            return self._requests[-1] if self._requests else None

    @property
    def pending(self) -> int:
        """Scripted replies not yet consumed."""
        with self._lock:
            return len(self._queue)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by test-supplied predicates/handlers (answered as HTTP 500)."""
        with self._lock:
            return list(self._errors)

    def assert_script_consumed(self) -> None:
        remaining = self.pending
        if remaining:
            raise AssertionError(
                f"{remaining} scripted LLM repl{'y' if remaining == 1 else 'ies'} never requested"
            )

    def wait_for_requests(
        self, count: int, *, chat_only: bool = True, timeout: float = 5.0
    ) -> list[FakeRequest]:
        """Block until ``count`` (chat) requests arrived; useful for async flows."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self._requests if r.is_chat or not chat_only]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"expected {count} requests to the fake LLM, got {len(found)}"
                    )
                self._changed.wait(left)

    # ------------------------------------------------------------------ resolution
    def _resolve(self, request: FakeRequest) -> Reply:
        """Pick the reply for ``request`` (rules, then queue, then fallback)."""
        with self._lock:
            response: Response | None = None
            for rule in self._rules:
                if rule.matches(request):
                    rule.hits += 1
                    if rule.times is not None and rule.hits >= rule.times:
                        rule.active = False
                    response = rule.response
                    break
            if response is None and request.is_chat:
                response = self._queue.popleft() if self._queue else self._fallback
            if response is None:  # embeddings etc. without a matching rule
                return TextReply()
            result = response if isinstance(response, Reply) else response(request)
            if not isinstance(result, Reply):
                raise TypeError(f"handler returned {result!r}, expected a Reply")
            return result

    def _resolve_calls(self, chosen: ToolCallsReply, request: FakeRequest) -> list[ResolvedCall]:
        offered = request.tool_names
        prefix = "toolu_" if request.wire == "anthropic" else "call_"
        calls: list[ResolvedCall] = []
        for call in chosen.calls:
            name = call.name or (offered[0] if offered else "unknown_tool")
            calls.append(
                ResolvedCall(
                    id=call.id or f"{prefix}{uuid.uuid4().hex[:24]}",
                    name=name,
                    arguments=call.arguments_json(),
                )
            )
        return calls

    # ------------------------------------------------------------------ HTTP layer
    def _build_app(self) -> Starlette:
        routes = [
            Route("/v1/models", self._models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", self._model, methods=["GET"]),
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/messages", self._messages, methods=["POST"]),
            Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            Route(
                "/{path:path}", self._not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
            ),
        ]
        return Starlette(routes=routes)

    async def _record(self, http: Request) -> FakeRequest:
        raw = await http.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._changed:
            record = FakeRequest(
                method=http.method,
                path=http.url.path,
                headers={k.lower(): v for k, v in http.headers.items()},
                body=body,
                raw_body=raw,
                received_at=time.monotonic(),
                index=len(self._requests),
            )
            self._requests.append(record)
            self._changed.notify_all()
        return record

    def _auth_error(self, request: FakeRequest) -> HTTPResponse | None:
        if self.api_key is None or request.api_key == self.api_key:
            return None
        return self._error_response(
            ErrorReply(
                status=401,
                message="Incorrect API key provided."
                if request.wire == "openai"
                else "invalid x-api-key",
                code="invalid_api_key",
                should_retry=False,
            ),
            request.wire,
        )

    @staticmethod
    def _error_response(err: ErrorReply, wire: Wire = "openai") -> HTTPResponse:
        body = anthropic_wire.error_body(err) if wire == "anthropic" else error_body(err)
        return JSONResponse(body, status_code=err.status, headers=error_headers(err))

    async def _sleep(self, seconds: float) -> None:
        """Sleep in slices so ``stop()`` is never held up by a long scripted delay."""
        end = time.monotonic() + seconds
        while not self._stopping.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, _SLEEP_SLICE))

    def _safe_resolve(self, request: FakeRequest) -> Reply:
        try:
            return self._resolve(request)
        except Exception as exc:  # a bug in the test's script: answer 500, keep it for the fixture
            with self._lock:
                self._errors.append(exc)
            return ErrorReply(
                status=500, message=f"fake LLM handler error: {exc!r}", should_retry=False
            )

    async def _models(self, http: Request) -> HTTPResponse:
        request = await self._record(http)
        if (denied := self._auth_error(request)) is not None:
            return denied
        if request.wire == "anthropic":  # same path as OpenAI's; the SDK's header tells
            return JSONResponse(anthropic_wire.models_body(self.models))
        return JSONResponse({"object": "list", "data": [self._model_json(m) for m in self.models]})

    async def _model(self, http: Request) -> HTTPResponse:
        request = await self._record(http)
        if (denied := self._auth_error(request)) is not None:
            return denied
        model_id = http.path_params["model_id"]
        if model_id not in self.models:
            return self._error_response(
                ErrorReply(
                    status=404, message=f"The model '{model_id}' does not exist", param="model"
                ),
                request.wire,
            )
        if request.wire == "anthropic":
            return JSONResponse(anthropic_wire.model_json(model_id))
        return JSONResponse(self._model_json(model_id))

    @staticmethod
    def _model_json(model_id: str) -> dict[str, Any]:
        return {
            "id": model_id,
            "object": "model",
            "created": 1_700_000_000,
            "owned_by": "engram-fake",
        }

    async def _not_found(self, http: Request) -> HTTPResponse:
        request = await self._record(http)
        return self._error_response(
            ErrorReply(
                status=404,
                message=f"Invalid URL ({http.method} {http.url.path})",
                should_retry=False,
            ),
            request.wire,
        )

    async def _chat(self, http: Request) -> HTTPResponse:
        request = await self._record(http)
        if (denied := self._auth_error(request)) is not None:
            return denied
        invalid = validate_chat_body(request.body) if self.validate_messages else None
        if invalid is None and not isinstance(request.body, dict):
            invalid = validate_chat_body(request.body)
        if invalid is not None:
            return self._error_response(invalid)

        chosen = self._safe_resolve(request)
        await self._sleep(chosen.delay)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        model = request.model or "unknown"

        if isinstance(chosen, (TruncatedReply, BrokenJSONReply)):
            partial = TextReply(content=getattr(chosen, "partial_text", ""))
            ids = {"completion_id": completion_id, "created": created, "model": model, "calls": ()}
            if request.stream:
                unfinished = [
                    p
                    for p in stream_payloads(partial, request, **ids)
                    if isinstance(p, dict) and p["choices"] and not p["choices"][0]["finish_reason"]
                ]
                return self._faulty_stream(chosen, unfinished, broken_event=None)
            return self._faulty_body(chosen, completion_body(partial, request, **ids))

        if isinstance(chosen, ErrorReply):
            if not (request.stream and chosen.partial_text is not None):
                return self._error_response(chosen)
            payloads = stream_payloads(
                chosen, request, completion_id=completion_id, created=created, model=model, calls=()
            )
            return self._sse(payloads, chosen.chunk_delay)

        if not isinstance(chosen, (TextReply, ToolCallsReply)):
            chosen = TextReply(content="OK", delay=chosen.delay, chunk_delay=chosen.chunk_delay)
        calls = self._resolve_calls(chosen, request) if isinstance(chosen, ToolCallsReply) else []
        if request.stream:
            payloads = stream_payloads(
                chosen,
                request,
                completion_id=completion_id,
                created=created,
                model=model,
                calls=calls,
            )
            return self._sse(payloads, chosen.chunk_delay)
        body = completion_body(
            chosen, request, completion_id=completion_id, created=created, model=model, calls=calls
        )
        return JSONResponse(body)

    async def _messages(self, http: Request) -> HTTPResponse:
        """Anthropic's ``POST /v1/messages``, answered from the same script as chat."""
        request = await self._record(http)
        if (denied := self._auth_error(request)) is not None:
            return denied
        if self.validate_messages or not isinstance(request.body, dict):
            with self._lock:
                issued = set(self._thinking_tool_ids)
            invalid = anthropic_wire.validate_messages_body(request.body, issued)
            if invalid is not None:
                return self._error_response(invalid, "anthropic")

        chosen = self._safe_resolve(request)
        await self._sleep(chosen.delay)
        ids = {"message_id": f"msg_{uuid.uuid4().hex[:24]}", "model": request.model or "unknown"}
        if isinstance(chosen, (TruncatedReply, BrokenJSONReply)):
            partial = TextReply(content=getattr(chosen, "partial_text", ""))
            if request.stream:
                cut = TruncatedReply(partial_text=partial.content)
                events = anthropic_wire.stream_events(cut, request, calls=(), **ids)
                return self._faulty_stream(chosen, events, broken_event="content_block_delta")
            body = anthropic_wire.message_body(partial, request, calls=(), **ids)
            return self._faulty_body(chosen, body)
        if isinstance(chosen, ErrorReply):
            if not (request.stream and chosen.partial_text is not None):
                return self._error_response(chosen, "anthropic")
            events = anthropic_wire.stream_events(chosen, request, calls=(), **ids)
            return self._sse(events, chosen.chunk_delay)

        if not isinstance(chosen, (TextReply, ToolCallsReply)):
            chosen = TextReply(content="OK", delay=chosen.delay, chunk_delay=chosen.chunk_delay)
        calls = self._resolve_calls(chosen, request) if isinstance(chosen, ToolCallsReply) else []
        if chosen.reasoning or chosen.redacted_thinking:
            with self._lock:
                self._thinking_tool_ids.update(call.id for call in calls)
        if request.stream:
            events = anthropic_wire.stream_events(chosen, request, calls=calls, **ids)
            return self._sse(events, chosen.chunk_delay)
        return JSONResponse(anthropic_wire.message_body(chosen, request, calls=calls, **ids))

    def _faulty_stream(
        self,
        fault: TruncatedReply | BrokenJSONReply,
        unfinished: Sequence[SSEPayload],
        *,
        broken_event: str | None,
    ) -> HTTPResponse:
        """A stream that opens normally, then breaks: cut off after ``unfinished``, or
        with the broken body as the event after the opening one."""
        if isinstance(fault, TruncatedReply):
            return _CutConnection(self._sse_bytes(unfinished, fault.chunk_delay), None)
        broken: SSEPayload = (broken_event, fault.body) if broken_event else fault.body
        return self._sse([unfinished[0], broken], 0.0)

    def _faulty_body(
        self, fault: TruncatedReply | BrokenJSONReply, body: dict[str, Any]
    ) -> HTTPResponse:
        """A 200 JSON answer that is invalid, or whose connection drops halfway through."""
        if isinstance(fault, BrokenJSONReply):
            return HTTPResponse(fault.body, media_type="application/json")
        encoded = json.dumps(body).encode()

        async def first_half() -> AsyncIterator[bytes]:
            yield encoded[: len(encoded) // 2]

        return _CutConnection(first_half(), len(encoded), media_type="application/json")

    async def _sse_bytes(
        self, payloads: Iterable[SSEPayload], chunk_delay: float
    ) -> AsyncIterator[bytes]:
        for i, payload in enumerate(payloads):
            if i and chunk_delay:
                await self._sleep(chunk_delay)
            name, data = payload if isinstance(payload, tuple) else (None, payload)
            text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
            line = f"event: {name}\ndata: {text}\n\n" if name else f"data: {text}\n\n"
            yield line.encode()

    def _sse(self, payloads: Iterable[SSEPayload], chunk_delay: float) -> StreamingResponse:
        return StreamingResponse(
            self._sse_bytes(payloads, chunk_delay),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def _embeddings(self, http: Request) -> HTTPResponse:
        request = await self._record(http)
        if (denied := self._auth_error(request)) is not None:
            return denied
        body = request.json
        if "input" not in body or not request.input_texts:
            return self._error_response(
                ErrorReply(status=400, message="'input' is a required property", param="input")
            )
        chosen = self._safe_resolve(request)
        await self._sleep(chosen.delay)
        if isinstance(chosen, ErrorReply):
            return self._error_response(chosen)
        dim = body.get("dimensions")
        dim = dim if isinstance(dim, int) and dim > 0 else self.embedding_dim
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return self._error_response(
                ErrorReply(
                    status=400,
                    message=f"Invalid encoding_format: {encoding!r}",
                    param="encoding_format",
                )
            )
        model = request.model or "text-embedding-3-small"
        return JSONResponse(
            embeddings_body(request.input_texts, model=model, dim=dim, encoding_format=encoding)
        )


class _CutConnection(HTTPResponse):
    """Status 200 and part of a body, then the connection closes unfinished.

    Returning from the ASGI call without the final body message makes uvicorn log
    "ASGI callable returned without completing response" and close the socket, so the
    client sees exactly what a dropped connection looks like: a body that stops.
    """

    def __init__(
        self,
        body: AsyncIterator[bytes],
        content_length: int | None,
        media_type: str = "text/event-stream",
    ) -> None:
        super().__init__(media_type=media_type)
        self._parts = body
        self._content_length = content_length

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", self.media_type.encode())]  # type: ignore[union-attr]
        if self._content_length is not None:
            headers.append((b"content-length", str(self._content_length).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async for part in self._parts:
            await send({"type": "http.response.body", "body": part, "more_body": True})


# ---------------------------------------------------------------------- CLI


def _mode_handler(mode: str, tool: str) -> Handler:
    if mode == "echo":
        return echo_handler
    if mode == "ok":
        return ok_handler
    if mode == "tool-then-answer":
        return tool_then_answer_handler(preferred_tool=tool)
    raise ValueError(f"unknown mode {mode!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; the first stdout line is the base URL."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.fake_llm", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=["echo", "ok", "tool-then-answer"], default="echo")
    parser.add_argument(
        "--tool", default="archival_memory_insert", help="tool to call in tool-then-answer mode"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds of delay added to every chat reply"
    )
    parser.add_argument(
        "--models", default=",".join(DEFAULT_MODELS), help="comma-separated model ids"
    )
    parser.add_argument("--embedding-dim", type=int, default=1536)
    parser.add_argument("--api-key", default=None, help="if set, require this bearer token")
    args = parser.parse_args(argv)

    handler = _mode_handler(args.mode, args.tool)
    if args.latency > 0:
        inner, latency = handler, args.latency
        handler = lambda request: reply.delay(latency, then=inner(request))  # noqa: E731

    fake = FakeLLM(
        host=args.host,
        port=args.port,
        models=[m for m in args.models.split(",") if m],
        embedding_dim=args.embedding_dim,
        fallback=handler,
        api_key=args.api_key,
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with fake:
        print(fake.base_url, flush=True)
        while not done.wait(0.5):
            if fake._thread is None or not fake._thread.is_alive():
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
