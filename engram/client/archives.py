"""``client.archives`` (archives and their passages) and an agent's archival memory
(``client.agents.passages``, ``client.agents.archives``)."""

from __future__ import annotations

from engram.client.resource import Resource


class AsyncArchives(Resource):
    pass


class AsyncAgentPassages(Resource):
    pass


class AsyncAgentArchives(Resource):
    pass
