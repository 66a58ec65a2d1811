"""`/api/admin/.../agents`: agents as configuration, effective on the next turn of every replica.

Platform agents (`/api/admin/agents`, platform admins) serve every tenant whose policy enables
them; a tenant's own agents (`/api/admin/tenants/{tenant_id}/agents`, its admins) serve that
tenant only and stand in for a platform agent of the same name. `POST /api/admin/agents/reload`
writes the agents file (`host/agents.yaml`) over the stored platform agents of the same names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from gateway.admin_auth import TENANT_PATH, AdminAccess, platform_admin, tenant_admin
from gateway.errors import ApiError
from gateway.openapi import Operation
from host.agent_store import AgentNotFound
from host.agents import AgentConfig, load_agents_file

AGENT_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"
AGENT_PATH: dict[str, dict[str, Any]] = {"name": {"type": "string", "pattern": AGENT_NAME_PATTERN}}


class AgentList(BaseModel):
    """Agents, platform ones (`tenant_id` null) and tenant-owned ones."""

    items: list[AgentConfig]


class AgentDeleted(BaseModel):
    name: str
    tenant_id: str | None


def _operations(
    prefix: str, scope: str, path_schemas: dict[str, dict[str, Any]]
) -> dict[str, Operation[Any, Any]]:
    one = {**path_schemas, **AGENT_PATH}
    lower = scope.lower()
    return {
        "list": Operation(
            "GET",
            prefix,
            f"list{scope}Agents",
            f"List {lower} agents" + (" (the platform's and the tenant's own)" if path_schemas else ""),
            "agents",
            AgentList,
            errors=(403, 404),
            path_schemas=path_schemas,
        ),
        "get": Operation(
            "GET",
            f"{prefix}/{{name}}",
            f"get{scope}Agent",
            f"Read a {lower} agent",
            "agents",
            AgentConfig,
            errors=(403, 404),
            path_schemas=one,
        ),
        "put": Operation(
            "PUT",
            f"{prefix}/{{name}}",
            f"put{scope}Agent",
            f"Create or replace a {lower} agent (in force from the next turn)",
            "agents",
            AgentConfig,
            body=AgentConfig,
            errors=(400, 403, 404, 413),
            path_schemas=one,
        ),
        "delete": Operation(
            "DELETE",
            f"{prefix}/{{name}}",
            f"delete{scope}Agent",
            f"Remove a {lower} agent",
            "agents",
            AgentDeleted,
            errors=(403, 404),
            path_schemas=one,
        ),
    }


TENANT_AGENTS = _operations("/api/admin/tenants/{tenant_id}/agents", "Tenant", TENANT_PATH)
PLATFORM_AGENTS = _operations("/api/admin/agents", "Platform", {})
RELOAD = Operation(
    "POST",
    "/api/admin/agents/reload",
    "reloadAgents",
    "Write the agents file's platform agents over the stored ones of the same names",
    "agents",
    AgentList,
    errors=(403,),
)


def _not_found(name: str) -> AgentNotFound:
    return AgentNotFound(f"no agent named '{name}' here")


def _handlers(operations: dict[str, Operation[Any, Any]], platform: bool) -> list[Operation[Any, Any]]:
    async def access_of(request: Request) -> AdminAccess:
        return platform_admin(request) if platform else await tenant_admin(request)

    async def list_agents(request: Request) -> Response:
        access = await access_of(request)
        if platform:
            agents = [a for a in await access.state.admin.agents.list() if a.tenant_id is None]
        else:
            agents = await access.state.admin.agents.list(tenant_id=access.tenant_id)
        return operations["list"].reply(AgentList(items=agents))

    async def get_agent(request: Request) -> Response:
        access = await access_of(request)
        name = request.path_params["name"]
        agent = await access.state.admin.agents.get(name, tenant_id=access.tenant_id)
        if agent is None:
            raise _not_found(name)
        return operations["get"].reply(agent)

    async def put_agent(request: Request) -> Response:
        access = await access_of(request)
        name = request.path_params["name"]
        body: AgentConfig = await operations["put"].read_body(request, access.state.settings.max_body_bytes)
        problems = []
        if body.name != name:
            problems.append({"field": "name", "problem": "must equal the agent name in the path"})
        if "tenant_id" in body.model_fields_set and body.tenant_id != access.tenant_id:
            problems.append({"field": "tenant_id", "problem": "is set by the path; omit it"})
        if problems:
            raise ApiError("invalid_request", "the body does not match the path", details=problems)
        stored = await access.state.admin.agents.upsert(
            body.model_copy(update={"tenant_id": access.tenant_id})
        )
        await access.record("agent.put", f"agent:{name}", arguments=stored.model_dump(mode="json"))
        return operations["put"].reply(stored)

    async def delete_agent(request: Request) -> Response:
        access = await access_of(request)
        name = request.path_params["name"]
        await access.state.admin.agents.delete(name, tenant_id=access.tenant_id)
        await access.record("agent.delete", f"agent:{name}")
        return operations["delete"].reply(AgentDeleted(name=name, tenant_id=access.tenant_id))

    return [
        operations["list"].bind(list_agents),
        operations["get"].bind(get_agent),
        operations["put"].bind(put_agent),
        operations["delete"].bind(delete_agent),
    ]


async def reload_agents(request: Request) -> Response:
    access = platform_admin(request)
    agents = [agent for agent in load_agents_file() if agent.tenant_id is None]
    for agent in agents:
        await access.state.admin.agents.upsert(agent)
    await access.record("agent.reload", "agents-file", detail={"agents": [a.name for a in agents]})
    return RELOAD.reply(AgentList(items=agents))


# The reload operation comes before `/api/admin/agents/{name}`, which would otherwise match it.
operations = [RELOAD.bind(reload_agents), *_handlers(TENANT_AGENTS, False), *_handlers(PLATFORM_AGENTS, True)]
