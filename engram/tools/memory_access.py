"""What a sandboxed child is handed to reach its agent's memory: the socket of the memory
gateway (``engram.runtime.memory_gateway``), the agent and a token for one call.

It lives here, beside the sandbox that passes it on, so that the sandbox needs nothing from
the runtime that issues it: the gateway builds one, ``sandbox.run_tool`` takes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MemoryAccess:
    """What a child needs to reach the gateway: where, for which agent, with which token."""

    socket_path: str
    agent_id: str
    token: str

    def for_child(self, socket_path: str | None = None) -> dict[str, str]:
        return {
            "socket": socket_path or self.socket_path,
            "agent_id": self.agent_id,
            "token": self.token,
        }


CLIENT_DIR = Path(__file__).with_name("child")
"""The directory holding ``engram_memory.py``, the module a tool imports to use the door."""
