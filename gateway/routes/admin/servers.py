"""`/api/admin/servers`: the MCP servers every tenant's agents draw tools from (platform admins).

Servers configured at startup are listed but fixed; registered ones can be re-pointed or removed,
and every replica follows within a turn. The list shows each server's health on this replica:
connected or not, its circuit breaker's state, and how many tools it serves.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from agentmesh.outbound import SAVED_URL_RULE
from gateway.admin_auth import platform_admin
from gateway.openapi import Operation
from gateway.servers import SERVER_NAME_PATTERN, ServerRegistration, ServerView


class ServerStatus(ServerView):
    """A server with its health on this replica."""

    circuit: str = Field(description="the circuit breaker: closed (calls flow), open (refused), half_open")
    tools: int = Field(description="tools it serves now (withheld ones included)")


class ServerList(BaseModel):
    """Every MCP server the gateway connects to."""

    items: list[ServerStatus]


SERVER_PATH: dict[str, dict[str, Any]] = {"name": {"type": "string", "pattern": SERVER_NAME_PATTERN}}

LIST = Operation(
    "GET", "/api/admin/servers", "listServers", "List the MCP servers", "servers", ServerList, errors=(403,)
)
GET = Operation(
    "GET",
    "/api/admin/servers/{name}",
    "getServer",
    "Read one MCP server and its connection state",
    "servers",
    ServerView,
    errors=(403, 404),
    path_schemas=SERVER_PATH,
)
REGISTER = Operation(
    "PUT",
    "/api/admin/servers/{name}",
    "registerServer",
    "Register an MCP server by URL (or re-point it); it connects without a restart",
    "servers",
    ServerView,
    body=ServerRegistration,
    errors=(400, 403, 409, 413),
    path_schemas=SERVER_PATH,
    description=(
        "The server must serve Streamable HTTP and accept the mesh's audience-bound tokens "
        "(`aud = mcp:<name>`, keys at `/.well-known/mesh-jwks.json`). Its tools reach a tenant "
        f"only where the tenant's policy allows `<name>:<tool>`. {SAVED_URL_RULE}"
    ),
)

REMOVE = Operation(
    "DELETE",
    "/api/admin/servers/{name}",
    "removeServer",
    "Remove a registered MCP server; its tools leave every tenant's catalog",
    "servers",
    None,
    errors=(403, 404, 409),
    path_schemas=SERVER_PATH,
)


async def list_servers(request: Request) -> Response:
    access = platform_admin(request)
    host = access.state.host
    circuits = host.circuit_states()
    tools: dict[str, int] = {}
    for tool in host.catalog.all_tools():
        tools[tool.server] = tools.get(tool.server, 0) + 1
    items = [
        ServerStatus(
            **view.model_dump(),
            circuit=str(circuits.get(view.name, "closed")),
            tools=tools.get(view.name, 0),
        )
        for view in await access.state.admin.servers.all()
    ]
    return LIST.reply(ServerList(items=items))


async def get_server(request: Request) -> Response:
    access = platform_admin(request)
    return GET.reply(await access.state.admin.servers.get(request.path_params["name"]))


async def register_server(request: Request) -> Response:
    access = platform_admin(request)
    name = request.path_params["name"]
    body = await REGISTER.read_body(request, access.state.settings.max_body_bytes)
    view = await access.state.admin.servers.register(name, body, registered_by=access.principal)
    await access.record("server.register", f"server:{name}", arguments=body.model_dump(mode="json"))
    return REGISTER.reply(view)


async def remove_server(request: Request) -> Response:
    access = platform_admin(request)
    name = request.path_params["name"]
    await access.state.admin.servers.remove(name)
    await access.record("server.remove", f"server:{name}")
    return REMOVE.reply()


operations = [
    LIST.bind(list_servers),
    GET.bind(get_server),
    REGISTER.bind(register_server),
    REMOVE.bind(remove_server),
]
