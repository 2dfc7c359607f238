"""The program a sandboxed tool call runs: ``python -I sandbox_runner.py``, request on stdin.

It imports nothing from Engram (inside bubblewrap the package is not even visible) and
only the standard library. The request is one JSON object::

    {"source": str, "name": str, "args": {...}, "limits": {...},
     "drop_to_uid": int | null, "max_output_bytes": int, "paths": [str],
     "client": str | null,
     "memory": {"socket": str, "agent_id": str, "token": str} | null}

and the answer, printed on the real stdout, one JSON object::

    {"ok": true, "result": <JSON value or str(result)>, "stdout": str, "stderr": str}
    {"ok": false, "error": "<Type>: <message>", "traceback": str, "stdout": str, "stderr": str}

Nothing is unpickled in either direction.

The order matters: started as root, the runner drops privileges and applies its limits
before anything a tool or its packages supply can run. Only then does it load Engram's
memory client, by its absolute file path (``client``), registering it as ``engram_memory``
so a package shipping a module of that name cannot stand in for it, and only then put the
tool's package folders on ``sys.path``: inserted as plain entries, not site directories, so
their ``.pth`` files and any ``sitecustomize`` they ship are never processed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import resource
import sys
import traceback
from typing import Any

# What the tool printed is kept up to this many characters per stream.
_PRINTED_CHARS = 20_000
_MARKER = "… [truncated: {} more characters]"


def _become_unprivileged(uid: int | None) -> None:
    """Started as root, drop to an unprivileged user first: the kernel does not apply
    the process limit to root, and root could write wherever the sandbox left a door."""
    if uid is None or os.getuid() != 0:
        return
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _apply_limits(limits: dict[str, int]) -> None:
    # The process limit is set here rather than by the parent: inside a user namespace
    # it then counts this sandbox's processes, not every process of the server's user.
    for name, value in limits.items():
        # CPU: the soft limit sends SIGXCPU, so the parent can tell why the child died.
        hard = value + 1 if name == "RLIMIT_CPU" else value
        resource.setrlimit(getattr(resource, name), (value, hard))


def _json_value(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + _MARKER.format(len(text) - limit)


def _answer(message: dict[str, Any], max_bytes: int) -> str:
    """The answer as JSON, a too-long result cut to fit under ``max_bytes``."""
    encoded = json.dumps(message)
    if len(encoded.encode()) <= max_bytes:
        return encoded
    result = message.get("result")
    text = result if isinstance(result, str) else json.dumps(result)
    room = max(0, max_bytes // 4 - 200)  # a character may take up to four bytes
    return json.dumps({**message, "result": _cut(text, room)})


def _open_memory(client: str | None, access: dict[str, str] | None) -> None:
    """Load Engram's ``engram_memory`` from ``client`` (an absolute path) and make it the
    module every ``import engram_memory`` gets; configure it if the call may reach its
    agent's memory. If it cannot be loaded, the name is blocked rather than left for the
    import path to fill."""
    # None in sys.modules makes `import engram_memory` fail; typeshed allows modules only.
    sys.modules["engram_memory"] = None  # type: ignore[assignment]
    spec = importlib.util.spec_from_file_location("engram_memory", client) if client else None
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except OSError:
        return  # unreadable for this user: importing engram_memory raises ImportError
    sys.modules["engram_memory"] = module
    if access:
        module.memory._configure(access["socket"], access["agent_id"], access["token"])


def main() -> None:
    request = json.loads(sys.stdin.read())
    _become_unprivileged(request.get("drop_to_uid"))
    _apply_limits(request.get("limits", {}))
    _open_memory(request.get("client"), request.get("memory"))
    # The tool's own packages (pip_requirements), installed read-only for it; plain
    # entries, so nothing in them runs until the tool imports it.
    sys.path[:0] = [str(path) for path in request.get("paths", [])]
    real_stdout = sys.stdout
    owner = os.getpid()
    printed_out, printed_err = io.StringIO(), io.StringIO()
    message: dict[str, Any]
    try:
        with contextlib.redirect_stdout(printed_out), contextlib.redirect_stderr(printed_err):
            namespace: dict[str, Any] = {"__name__": "__tool__"}
            exec(compile(request["source"], "<tool>", "exec"), namespace)
            function = namespace.get(request["name"])
            if not callable(function):
                raise NameError(f"the source defines no function named '{request['name']}'")
            message = {"ok": True, "result": _json_value(function(**request["args"]))}
    except BaseException as exc:  # the tool's failure is the answer, whatever it is
        message = {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": _cut(traceback.format_exc(), _PRINTED_CHARS),
        }
    if os.getpid() != owner:
        os._exit(1)  # a process the tool forked: only the first process answers
    message["stdout"] = _cut(printed_out.getvalue(), _PRINTED_CHARS)
    message["stderr"] = _cut(printed_err.getvalue(), _PRINTED_CHARS)
    real_stdout.write(_answer(message, request.get("max_output_bytes", 1_000_000)))
    real_stdout.flush()


if __name__ == "__main__":
    main()
