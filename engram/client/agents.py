"""``client.agents``: create, list, retrieve, update and delete agents, and the agent's
sub-resources (messages, blocks, tools, passages, archives)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engram.client.agent_files import AgentFileMethods
from engram.client.archives import AsyncAgentArchives, AsyncAgentPassages
from engram.client.blocks import AsyncAgentBlocks
from engram.client.messages import AsyncAgentMessages
from engram.client.resource import Resource
from engram.client.tools import AsyncAgentTools

if TYPE_CHECKING:
    from engram.runtime.engine import Services


class AsyncAgents(AgentFileMethods, Resource):
    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.messages = AsyncAgentMessages(services)
        self.blocks = AsyncAgentBlocks(services)
        self.tools = AsyncAgentTools(services)
        self.passages = AsyncAgentPassages(services)
        self.archives = AsyncAgentArchives(services)
