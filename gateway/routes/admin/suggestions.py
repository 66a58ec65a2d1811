"""`/api/admin/tenants/{tenant_id}/agents/{name}/suggestions`: the questions a tenant's users see
under one agent on the chat's welcome page (`gateway.suggestions`).

Any agent the tenant can use takes them, the platform's too, without the tenant copying it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import TENANT_PATH, AdminAccess, tenant_admin
from gateway.openapi import Operation
from gateway.routes.admin.agents import AGENT_PATH
from gateway.suggestions import SuggestionsIn, SuggestionsView
from host.agent_store import AgentNotFound
from host.agents import AgentConfig

PATH = "/api/admin/tenants/{tenant_id}/agents/{name}/suggestions"

GET = Operation(
    "GET",
    PATH,
    "getAgentSuggestions",
    "The questions the tenant's users see under an agent (its examples until the tenant sets some)",
    "agents",
    SuggestionsView,
    errors=(403, 404),
    path_schemas={**TENANT_PATH, **AGENT_PATH},
)
PUT = Operation(
    "PUT",
    PATH,
    "putAgentSuggestions",
    "Set the questions the tenant's users see under an agent (an empty list: its examples again)",
    "agents",
    SuggestionsView,
    body=SuggestionsIn,
    errors=(400, 403, 404, 413),
    path_schemas={**TENANT_PATH, **AGENT_PATH},
)


async def _agent(access: AdminAccess, name: str) -> AgentConfig:
    """The agent `name` as the tenant sees it: its own, else the platform's."""
    config = access.state.host.config
    await config.refresh()
    agent = config.registry.get(name, access.tenant_id)
    if agent is None:
        raise AgentNotFound(f"no agent named '{name}' here")
    return agent


async def _view(access: AdminAccess, agent: AgentConfig) -> SuggestionsView:
    assert access.tenant_id is not None
    own = (await access.state.suggestions.of_tenant(access.tenant_id)).get(agent.name)
    return SuggestionsView(agent=agent.name, questions=own or agent.examples, tenant_set=bool(own))


async def get_suggestions(request: Request) -> Response:
    access = await tenant_admin(request)
    agent = await _agent(access, request.path_params["name"])
    return GET.reply(await _view(access, agent))


async def put_suggestions(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    agent = await _agent(access, request.path_params["name"])
    body = await PUT.read_body(request, access.state.settings.max_body_bytes)
    await access.state.suggestions.put(access.tenant_id, agent.name, body.questions, by=access.principal)
    await access.record("agent.suggestions.put", f"agent:{agent.name}", arguments=body.model_dump())
    return PUT.reply(await _view(access, agent))


operations = [GET.bind(get_suggestions), PUT.bind(put_suggestions)]
