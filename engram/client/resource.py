"""The base of the client's resources: each holds the services of the open client and calls
one op (or the step entry) per method, then shapes the answer as the API does."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engram.runtime.engine import Services


class Resource:
    """A group of operations on one noun (``client.agents``, ``client.agents.blocks``...)."""

    def __init__(self, services: Services) -> None:
        self._services = services
