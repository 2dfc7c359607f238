"""/v1/agents/{agent_id}/tools/approval/{tool_name}: whether a tool's calls wait for a yes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from engram.api import serialize
from engram.api.deps import Runtime
from engram.api.schemas import ModifyApprovalRequest
from engram.errors import InvalidInput
from engram.ops.agent_tools import set_requires_approval

router = APIRouter(prefix="/v1/agents/{agent_id}/tools", tags=["tools"])


@router.patch("/approval/{tool_name}")
async def modify_approval_for_tool(
    agent_id: str,
    tool_name: str,
    rt: Runtime,
    requires_approval: Annotated[bool | None, Query()] = None,
    body: Annotated[ModifyApprovalRequest | None, Body()] = None,
) -> dict[str, Any]:
    """Letta takes ``requires_approval`` in the body and, deprecated, in the query; the SDK
    sends the body and adds the query only when asked to. The body wins when both come."""
    required = body.requires_approval if body is not None else None
    if required is None:
        required = requires_approval
    if required is None:
        raise InvalidInput(
            "requires_approval",
            'send {"requires_approval": true} or {"requires_approval": false} as the body',
        )
    return serialize.agent(await set_requires_approval(rt, agent_id, tool_name, required))
