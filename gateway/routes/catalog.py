"""What a user may use: `GET /api/{tenant_id}/agents` and `GET /api/{tenant_id}/tools`.

The agents the tenant's policy enables (the platform's and the tenant's own, never another
tenant's), and the tools the caller's tenant may call, each with the policy's effect for the
caller (`allow`, or `approve`: every call waits for an admin) and the rule that decided it. The
same catalog a chat turn and `/mcp` work from: others' tools and tools withheld for a changed
definition are not listed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import AuthenticatedUser, authenticate, require_tenant
from gateway.openapi import Operation
from gateway.routes.chat import TENANT_PATH
from gateway.state import GatewayState
from host.agents import AgentDisplay
from host.answers import tool_titles
from host.language import Language
from mcp_servers.common.results import OutputFormat


class AgentSummary(BaseModel):
    """An agent the caller may talk to (its prompt and routing keywords are the admins')."""

    name: str
    description: str
    display: dict[Language, AgentDisplay] = Field(description="title and summary per language, where set")
    examples: list[str]
    suggestions: list[str] = Field(
        description="questions to offer the caller under this agent: the tenant's own, else its examples"
    )
    output_format: OutputFormat | None
    tenant_owned: bool = Field(description="the tenant's own agent rather than the platform's")


class AgentSummaryList(BaseModel):
    """The agents the tenant's policy enables, by name."""

    items: list[AgentSummary]


class ToolSummary(BaseModel):
    """A tool the caller's tenant may call, and under which rule."""

    server: str
    name: str
    qualified_name: str
    titles: dict[Language, str] = Field(description="what the tool does, per language, where its server says")
    description: str
    input_schema: dict[str, object]
    read_only: bool
    tenant_owned: bool
    effect: Literal["allow", "approve"]
    rule: str


class ToolSummaryList(BaseModel):
    """The tools of the caller's catalog, by qualified name."""

    items: list[ToolSummary]


AGENTS = Operation(
    "GET",
    "/api/{tenant_id}/agents",
    "listAgents",
    "The agents the caller may talk to",
    "catalog",
    AgentSummaryList,
    errors=(400, 403, 404, 429),
    path_schemas=TENANT_PATH,
)
TOOLS = Operation(
    "GET",
    "/api/{tenant_id}/tools",
    "listTools",
    "The tools the caller's tenant may call, with the policy's effect and rule for the caller",
    "catalog",
    ToolSummaryList,
    errors=(400, 403, 404, 429),
    path_schemas=TENANT_PATH,
)


async def _caller(request: Request) -> tuple[GatewayState, AuthenticatedUser, dict[str, str]]:
    state: GatewayState = request.app.state.gateway
    user = authenticate(request)
    require_tenant(user, request.path_params["tenant_id"])
    await state.tenants.require(user.tenant_id)
    return state, user, await state.admission.admit(user)


async def list_agents(request: Request) -> Response:
    state, user, headers = await _caller(request)
    await state.host.config.refresh()
    agents = sorted(state.host.agents_for(user.tenant_id), key=lambda agent: agent.name)
    suggested = await state.suggestions.of_tenant(user.tenant_id)
    items = [
        AgentSummary(
            name=agent.name,
            description=agent.description,
            display=agent.display,
            examples=agent.examples,
            suggestions=suggested.get(agent.name) or agent.examples,
            output_format=agent.output_format,
            tenant_owned=agent.tenant_id is not None,
        )
        for agent in agents
    ]
    return AGENTS.reply(AgentSummaryList(items=items), headers=headers)


async def list_tools(request: Request) -> Response:
    state, user, headers = await _caller(request)
    caller = user.caller()
    items = []
    for tool in sorted(await state.host.catalog_for(caller), key=lambda tool: tool.qualified_name):
        decision = state.host.authorizer.listing(caller, tool)
        if decision.effect == "deny":
            continue
        items.append(
            ToolSummary(
                server=tool.server,
                name=tool.name,
                qualified_name=tool.qualified_name,
                titles=tool_titles(tool.title, tool.render),
                description=tool.description,
                input_schema=tool.input_schema,
                read_only=tool.read_only,
                tenant_owned=tool.owner_tenant is not None,
                effect=decision.effect,
                rule=decision.rule,
            )
        )
    return TOOLS.reply(ToolSummaryList(items=items), headers=headers)


operations = [AGENTS.bind(list_agents), TOOLS.bind(list_tools)]
