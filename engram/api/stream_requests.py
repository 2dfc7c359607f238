"""The body of ``POST /v1/runs/{run_id}/stream`` (Letta's ``RetrieveStreamRequest``),
checked here for the route and the in-process client alike."""

from __future__ import annotations

from pydantic import Field

from engram.api.schemas import Body
from engram.errors import InvalidInput
from engram.ops.run_stream import Reattach


class RetrieveStream(Body):
    """``run_id`` may repeat the path's; ``otid`` (Letta finds a run by the offline id of a
    message sent in it) must name a message of the path's run."""

    agent_id: str | None = None
    run_id: str | None = None
    otid: str | None = None
    starting_after: int = Field(default=0, ge=0)
    include_pings: bool | None = True
    poll_interval: float | None = Field(default=0.1, gt=0, le=60)
    batch_size: int | None = Field(default=100, ge=1, le=1000)

    def to_op(self, run_id: str) -> Reattach:
        """The options for following ``run_id``, the run the path names."""
        if self.run_id is not None and self.run_id != run_id:
            raise InvalidInput("run_id", f"'{self.run_id}' is not the run in the path, '{run_id}'")
        return Reattach(
            starting_after=self.starting_after,
            include_pings=self.include_pings is not False,
            poll_interval=self.poll_interval or 0.1,
            batch_size=self.batch_size or 100,
            agent_id=self.agent_id,
            otid=self.otid,
        )
