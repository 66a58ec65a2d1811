"""The MCP server features a tenant's clients see at the gateway's `/mcp` besides tools:
resources (the knowledge documents), prompts (the agents and the servers' prompts) and argument
completions, each for one caller under the tenant's policy.

Tools are the host's (`AgentHost.catalog_for`, `AgentHost.call_tool`); what is here only
decides which agents and tools a caller has, through the host's `TenantView`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from mcp_types import (
    Completion,
    GetPromptResult,
    Prompt,
    PromptReference,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    ResourceTemplateReference,
)

from host.agents import AgentConfig
from host.caller import Caller
from host.catalog import ToolSpec
from host.config_sync import HostConfig
from host.knowledge_resources import KnowledgeResources, ResourceNotFound
from host.prompt_catalog import (
    LANGUAGES,
    PromptNotFound,
    ServerPrompts,
    agent_prompt,
    complete_from,
    render_agent_prompt,
)


class TenantView(Protocol):
    """What the caller's tenant may use: its agents and its tools, policy applied."""

    def agents_for(self, tenant_id: str) -> list[AgentConfig]: ...

    async def tools_for(self, caller: Caller, globs: Iterable[str]) -> list[ToolSpec]: ...

    async def catalog_for(self, caller: Caller) -> list[ToolSpec]: ...


class ServerFeatures:
    """Resources, prompts and completions for a caller; none when the host mints no mesh tokens
    (its servers could not be asked as the caller's tenant)."""

    def __init__(
        self,
        view: TenantView,
        *,
        config: HostConfig,
        knowledge: KnowledgeResources | None,
        server_prompts: ServerPrompts | None,
    ) -> None:
        self._view = view
        self._config = config
        self._knowledge = knowledge
        self._server_prompts = server_prompts

    async def resource_templates_for(self, caller: Caller) -> list[ResourceTemplate]:
        """The knowledge-document template, when the caller may read the documents."""
        return await self._knowledge.templates(caller) if self._knowledge else []

    async def resources_for(self, caller: Caller) -> list[Resource]:
        """The tenant's knowledge documents, when the caller may read them (`host.knowledge_resources`)."""
        return await self._knowledge.listed(caller) if self._knowledge else []

    async def read_resource(self, caller: Caller, uri: str) -> ReadResourceResult:
        """One resource for the caller, policy-checked and audited (`ResourceNotFound`, `ResourceDenied`)."""
        if self._knowledge is None or not self._knowledge.serves(uri):
            raise ResourceNotFound(f"no resource '{uri}' is available")
        await self._config.refresh()
        return await self._knowledge.read(caller, uri)

    async def prompts_for(self, caller: Caller) -> list[Prompt]:
        """The tenant's agents as prompts, and the servers' prompts of tools it may use."""
        prompts = [agent_prompt(agent) for agent in self._view.agents_for(caller.tenant_id)]
        if self._server_prompts is not None:
            prompts += await self._server_prompts.listed(caller, await self._view.catalog_for(caller))
        return prompts

    async def get_prompt(self, caller: Caller, name: str, arguments: dict[str, str]) -> GetPromptResult:
        """A prompt rendered for the caller; raises `PromptNotFound` or `InvalidPromptArguments`."""
        agent = self._enabled_agent(caller, name)
        if agent is not None:
            return render_agent_prompt(agent, await self._view.tools_for(caller, agent.tools), arguments)
        if self._server_prompts is None:
            raise PromptNotFound(f"no prompt '{name}' is available")
        return await self._server_prompts.get(caller, name, arguments, await self._view.catalog_for(caller))

    async def complete(
        self, caller: Caller, ref: PromptReference | ResourceTemplateReference, argument: dict[str, str]
    ) -> Completion:
        """Values for a prompt's or a resource template's argument, as the caller's tenant."""
        if isinstance(ref, ResourceTemplateReference):
            return (
                await self._knowledge.complete(caller, ref, argument)
                if self._knowledge
                else Completion(values=[])
            )
        agent = self._enabled_agent(caller, ref.name)
        if agent is not None:
            if argument["name"] == "language":
                return complete_from(list(LANGUAGES), argument["value"])
            if argument["name"] == "question":
                return complete_from(agent.examples, argument["value"])
            return Completion(values=[])
        if self._server_prompts is None:
            return Completion(values=[])
        try:
            return await self._server_prompts.complete(
                caller, ref.name, argument, await self._view.catalog_for(caller)
            )
        except PromptNotFound:
            return Completion(values=[])

    def _enabled_agent(self, caller: Caller, name: str) -> AgentConfig | None:
        return next((agent for agent in self._view.agents_for(caller.tenant_id) if agent.name == name), None)
