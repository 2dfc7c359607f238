"""Engram as a Python library: the operations the REST API serves, in-process, named as
``letta-client`` names them, so code moves between the two by changing the client line.

    from engram import Engram
    with Engram.open("~/.engram") as client:
        agent = client.agents.create(name="a", model="openai/gpt-4o-mini")

``Engram`` is synchronous; ``AsyncEngram`` is its twin for code already on an event loop.
"""

from __future__ import annotations

from engram.client.core import AsyncEngram
from engram.client.sync import Engram

__all__ = ["AsyncEngram", "Engram"]
