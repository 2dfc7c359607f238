"""Reading and editing the calling agent's memory from inside a custom tool.

    from engram_memory import memory

    def remember_city(city: str) -> str:
        memory.append_block("human", f"Lives in {city}")
        memory.archival_insert(f"The user moved to {city}.", tags=["location"])
        return "noted"

This module is importable inside the sandbox only; it speaks line-delimited JSON over a
Unix socket with the server, sending the agent's id and a token valid for this one tool
call. It uses the standard library alone.
"""

from __future__ import annotations

import json
import socket
from typing import Any, cast

__all__ = ["MemoryAccessError", "memory"]


class MemoryAccessError(Exception):
    """The server refused a memory request, or the tool has no memory access."""


class AgentMemory:
    """The agent's memory as this tool call may see it."""

    def __init__(self) -> None:
        self._socket_path: str | None = None
        self._token: str | None = None
        self.agent_id: str | None = None
        self._connection: socket.socket | None = None
        self._buffer = b""

    def _configure(self, socket: str, agent_id: str, token: str) -> None:
        self._socket_path, self.agent_id, self._token = socket, agent_id, token

    def _request(self, op: str, **args: Any) -> Any:
        if self._socket_path is None:
            raise MemoryAccessError(
                "this tool call has no agent: memory access exists only when an agent's "
                "tool runs (in the agent loop or through /v1/agents/{id}/tools/{name}/run)"
            )
        message = {"op": op, "args": args, "agent_id": self.agent_id, "token": self._token}
        connection = self._connect(self._socket_path)
        connection.sendall(json.dumps(message).encode() + b"\n")
        answer = json.loads(self._read_line(connection))
        if not answer.get("ok"):
            raise MemoryAccessError(answer.get("error", "refused"))
        return answer.get("result")

    def _object(self, op: str, **args: Any) -> dict[str, Any]:
        """One JSON object back: a block, or the outcome of an edit."""
        return cast("dict[str, Any]", self._request(op, **args))

    def _objects(self, op: str, **args: Any) -> list[dict[str, Any]]:
        """A JSON list of objects back: blocks, or passages found."""
        return cast("list[dict[str, Any]]", self._request(op, **args))

    def _connect(self, socket_path: str) -> socket.socket:
        if self._connection is None:
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connection.connect(socket_path)
            self._connection = connection
        return self._connection

    def _read_line(self, connection: socket.socket) -> bytes:
        while b"\n" not in self._buffer:
            chunk = connection.recv(65536)
            if not chunk:
                self._connection = None
                raise MemoryAccessError("the server closed the memory connection")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def list_blocks(self) -> list[dict[str, Any]]:
        """Every core memory block: label, value, limit, read_only, description."""
        return self._objects("list_blocks")

    def get_block(self, label: str) -> dict[str, Any]:
        return self._object("get_block", label=label)

    def set_block(self, label: str, value: str) -> dict[str, Any]:
        """Replace the block's whole value (within its limit, unless it is read-only)."""
        return self._object("set_block", label=label, value=value)

    def append_block(self, label: str, text: str) -> dict[str, Any]:
        return self._object("append_block", label=label, text=text)

    def replace_in_block(self, label: str, old: str, new: str) -> dict[str, Any]:
        """Replace ``old``, which must appear exactly once in the block, with ``new``."""
        return self._object("replace_in_block", label=label, old=old, new=new)

    def archival_insert(self, text: str, tags: list[str] | None = None) -> dict[str, Any]:
        return self._object("archival_insert", text=text, tags=tags)

    def archival_search(
        self, query: str, top_k: int = 10, tags: list[str] | None = None
    ) -> list[dict[str, Any]]:
        return self._objects("archival_search", query=query, top_k=top_k, tags=tags)


memory = AgentMemory()
