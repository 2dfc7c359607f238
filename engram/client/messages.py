"""``client.agents.messages``: send messages (a turn), stream them, list, search and
manage the agent's history."""

from __future__ import annotations

from engram.client.resource import Resource


class AsyncAgentMessages(Resource):
    pass
