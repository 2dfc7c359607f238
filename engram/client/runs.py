"""``client.runs`` and ``client.steps``: what turns did, step by step."""

from __future__ import annotations

from engram.client.resource import Resource


class AsyncRuns(Resource):
    pass


class AsyncSteps(Resource):
    pass
