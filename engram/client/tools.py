"""``client.tools`` (the tool catalogue, custom tools) and ``client.agents.tools``."""

from __future__ import annotations

from engram.client.resource import Resource


class AsyncTools(Resource):
    pass


class AsyncAgentTools(Resource):
    pass
