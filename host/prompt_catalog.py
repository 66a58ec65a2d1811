"""The prompts a tenant's MCP clients see at the gateway's `/mcp`, and their argument completions.

Two kinds, one list:
- each agent the tenant's policy enables is a prompt named after it (`debt`, `shipment`, ...):
  its arguments are the `question` and its `language` (`en` or `vi`); rendered, it is one user
  message carrying what the agent is for, its system prompt and its tools, then the question,
  with the instruction to answer in the chosen language (by default the question's). `question`
  completes from the agent's examples.
- a server's prompt named after one of that server's tools (`erp__get_customer_debt`) is offered
  exactly when that tool is in the caller's catalog; it is rendered and completed by the server,
  as the caller's tenant (so an MST completes from the tenant's own ERP).
"""

from __future__ import annotations

from typing import cast

from mcp_types import (
    Completion,
    GetPromptResult,
    Prompt,
    PromptArgument,
    PromptMessage,
    PromptReference,
    TextContent,
)

from agentmesh.errors import AgentmeshError
from host.agents import AgentConfig
from host.caller import Caller
from host.catalog import EXTERNAL_SEPARATOR, ToolSpec, split_external_name
from host.language import ANSWER_IN, Language, detect_language
from host.mcp_pool import McpPool
from host.server_connection import ServerUnavailable
from host.tokens import MeshTokenIssuer

LANGUAGES = ("en", "vi")
MAX_COMPLETIONS = 100


class PromptNotFound(AgentmeshError):
    code = "not_found"


class InvalidPromptArguments(AgentmeshError):
    code = "invalid_arguments"


def agent_prompt(agent: AgentConfig) -> Prompt:
    return Prompt(
        name=agent.name,
        title=f"Ask the {agent.name} agent",
        description=agent.description,
        arguments=[
            PromptArgument(
                name="question", description="what to ask, in English or Vietnamese", required=True
            ),
            PromptArgument(
                name="language",
                description="the language of the answer: en or vi (default: the question's)",
                required=False,
            ),
        ],
    )


def render_agent_prompt(
    agent: AgentConfig, tools: list[ToolSpec], arguments: dict[str, str]
) -> GetPromptResult:
    question = arguments.get("question", "").strip()
    if not question:
        raise InvalidPromptArguments(f"the prompt '{agent.name}' needs a question")
    language = arguments.get("language") or detect_language(question)
    if language not in ANSWER_IN:
        raise InvalidPromptArguments(f"language must be one of {', '.join(LANGUAGES)}, not '{language}'")
    context = [f"You are the '{agent.name}' assistant. {agent.description}"]
    if agent.system_prompt:
        context.append(agent.system_prompt)
    if tools:
        context.append("Use these tools: " + ", ".join(tool.external_name for tool in tools) + ".")
    context.append(ANSWER_IN[cast(Language, language)])
    text = "\n\n".join(["\n".join(context), question])
    return GetPromptResult(
        description=agent.description,
        messages=[PromptMessage(role="user", content=TextContent(type="text", text=text))],
    )


def complete_from(candidates: list[str], partial: str) -> Completion:
    """Candidates starting with `partial` (case-insensitive), then those containing it."""
    needle = partial.casefold()
    starting = [value for value in candidates if value.casefold().startswith(needle)]
    containing = [value for value in candidates if needle in value.casefold() and value not in starting]
    values = [*starting, *containing]
    return Completion(
        values=values[:MAX_COMPLETIONS], total=len(values), has_more=len(values) > MAX_COMPLETIONS
    )


class ServerPrompts:
    """The servers' prompts a caller may use: those named after a tool in the caller's catalog."""

    def __init__(self, *, pool: McpPool, issuer: MeshTokenIssuer) -> None:
        self._pool = pool
        self._issuer = issuer

    async def listed(self, caller: Caller, catalog: list[ToolSpec]) -> list[Prompt]:
        usable = {(tool.server, tool.name) for tool in catalog}
        prompts: list[Prompt] = []
        for server in sorted({tool.server for tool in catalog}):
            try:
                served = await self._pool.connection(server).list_prompts(
                    token=self._issuer.for_listing(server)
                )
            except ServerUnavailable:
                continue
            prompts += [
                prompt.model_copy(update={"name": f"{server}{EXTERNAL_SEPARATOR}{prompt.name}"})
                for prompt in served
                if (server, prompt.name) in usable
            ]
        return prompts

    def _usable(self, name: str, catalog: list[ToolSpec]) -> ToolSpec:
        server, prompt = split_external_name(name)
        tool = next((t for t in catalog if (t.server, t.name) == (server, prompt)), None)
        if tool is None:
            raise PromptNotFound(f"no prompt '{name}' is available")
        return tool

    async def get(
        self, caller: Caller, name: str, arguments: dict[str, str], catalog: list[ToolSpec]
    ) -> GetPromptResult:
        tool = self._usable(name, catalog)
        token = self._issuer.for_call(tool.server, caller, frozenset({tool.name}))
        return await self._pool.connection(tool.server).get_prompt(tool.name, arguments, token=token)

    async def complete(
        self, caller: Caller, name: str, argument: dict[str, str], catalog: list[ToolSpec]
    ) -> Completion:
        tool = self._usable(name, catalog)
        token = self._issuer.for_call(tool.server, caller, frozenset({tool.name}))
        ref = PromptReference(type="ref/prompt", name=tool.name)
        return await self._pool.connection(tool.server).complete(ref, argument, token=token)
