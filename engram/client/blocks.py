"""``client.blocks`` (blocks by id, shareable between agents) and ``client.agents.blocks``
(an agent's core memory blocks by label)."""

from __future__ import annotations

from engram.client.resource import Resource


class AsyncBlocks(Resource):
    pass


class AsyncAgentBlocks(Resource):
    pass
