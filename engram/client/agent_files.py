"""``client.agents.export_file`` and ``client.agents.import_file``: agent files."""

from __future__ import annotations

from engram.client.resource import Resource


class AgentFileMethods(Resource):
    """Mixed into ``client.agents``."""
