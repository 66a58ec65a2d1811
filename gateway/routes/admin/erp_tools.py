"""`/api/admin/.../erp/tools` and `.../erp/credentials`: ERP tools as configuration, no code or restart.

A tenant admin manages the tenant's own tools (listed and callable for that tenant only) and
the encrypted service credentials they authenticate with; a platform admin manages the tools of
every tenant under `/api/admin/erp/tools`. A write returns once the ERP server serves the change
(`live: true`), so an agent's next turn can call the tool; `live: false` means the ERP server
has not shown it yet (it is unreachable, or slower than the wait). A changed definition that the
server serves exactly as written is accepted for tool pinning by the admin who wrote it.

`POST .../erp/tools/{name}/test` runs one tool the tenant can see with sample arguments, as the
tenant, through the host's single-call path: the tenant's policy decides (a tool under approval
is refused here, like any call outside a turn), the call is audited, and the answer shows what
an agent would read (text, structured result, renderer hints, duration, error code).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import anyio
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from starlette.requests import Request
from starlette.responses import Response

from agentmesh.outbound import SAVED_URL_RULE
from gateway.admin_auth import TENANT_PATH, AdminAccess, platform_admin, tenant_admin
from gateway.errors import ApiError
from gateway.openapi import Operation
from host.caller import Caller
from host.catalog import ToolSpec
from host.server_connection import ServerUnavailable
from mcp_servers.erp.models import TOOL_NAME_PATTERN, HttpToolConfig, StoredToolConfig

ERP_SERVER = "erp"
ABSOLUTE_URL_RULE = f"A `url` relative to the ERP API needs no check; an absolute one does. {SAVED_URL_RULE}"
LIVE_WAIT_SECONDS = 5.0
CREDENTIAL_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class ErpToolView(BaseModel):
    """A stored ERP tool configuration."""

    name: str
    tenant_id: str | None = Field(description="the owning tenant; null: every tenant")
    config: HttpToolConfig
    updated_at: datetime
    live: bool | None = Field(
        default=None, description="after a write: whether the ERP server lists the change already"
    )

    @classmethod
    def of(cls, stored: StoredToolConfig, live: bool | None = None) -> ErpToolView:
        return cls(
            name=stored.config.name,
            tenant_id=stored.tenant_id,
            config=stored.config,
            updated_at=stored.updated_at,
            live=live,
        )


class ErpToolList(BaseModel):
    """Stored ERP tools, by name (the built-in demo tools are not listed)."""

    items: list[ErpToolView]


class ErpToolDeleted(BaseModel):
    """A removed tool."""

    name: str
    live: bool


class ToolTestCall(BaseModel):
    """Sample arguments for one call of the tool."""

    model_config = ConfigDict(extra="forbid")

    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolTestResult(BaseModel):
    """What the call returned, as an agent would read it."""

    tool: str = Field(description="server:tool")
    is_error: bool
    error_code: str | None = None
    text: str
    structured: dict[str, Any] | None = None
    render: dict[str, Any] = Field(default_factory=dict, description="the tool's renderer hints")
    duration_ms: float
    truncated: bool = False


class CredentialIn(BaseModel):
    """A service credential's secret (an API key or token); stored encrypted, never returned."""

    model_config = ConfigDict(extra="forbid")

    secret: SecretStr = Field(min_length=1, max_length=4096)


class CredentialList(BaseModel):
    """The names of the tenant's service credentials (never their values)."""

    names: list[str]


TOOL_PATH: dict[str, dict[str, Any]] = {"name": {"type": "string", "pattern": TOOL_NAME_PATTERN}}
CREDENTIAL_PATH: dict[str, dict[str, Any]] = {"name": {"type": "string", "pattern": CREDENTIAL_PATTERN}}
TENANT_TOOL_PATH: dict[str, dict[str, Any]] = {**TENANT_PATH, **TOOL_PATH}
TENANT_CREDENTIAL_PATH: dict[str, dict[str, Any]] = {**TENANT_PATH, **CREDENTIAL_PATH}


def _tool_operations(
    prefix: str, scope: str, path_schemas: dict[str, dict[str, Any]]
) -> dict[str, Operation[Any, Any]]:
    one = {**path_schemas, **TOOL_PATH}
    return {
        "list": Operation(
            "GET",
            f"{prefix}",
            f"list{scope}ErpTools",
            f"List {scope.lower()} ERP tools",
            "erp",
            ErpToolList,
            errors=(403, 404),
            path_schemas=path_schemas,
        ),
        "create": Operation(
            "POST",
            f"{prefix}",
            f"create{scope}ErpTool",
            f"Add a {scope.lower()} ERP tool",
            "erp",
            ErpToolView,
            body=HttpToolConfig,
            status=201,
            errors=(400, 403, 404, 409, 413),
            path_schemas=path_schemas,
            description=ABSOLUTE_URL_RULE,
        ),
        "get": Operation(
            "GET",
            f"{prefix}/{{name}}",
            f"get{scope}ErpTool",
            f"Read a {scope.lower()} ERP tool",
            "erp",
            ErpToolView,
            errors=(403, 404),
            path_schemas=one,
        ),
        "update": Operation(
            "PUT",
            f"{prefix}/{{name}}",
            f"update{scope}ErpTool",
            f"Replace a {scope.lower()} ERP tool",
            "erp",
            ErpToolView,
            body=HttpToolConfig,
            errors=(400, 403, 404, 413),
            path_schemas=one,
            description=ABSOLUTE_URL_RULE,
        ),
        "delete": Operation(
            "DELETE",
            f"{prefix}/{{name}}",
            f"delete{scope}ErpTool",
            f"Remove a {scope.lower()} ERP tool",
            "erp",
            ErpToolDeleted,
            errors=(403, 404),
            path_schemas=one,
        ),
    }


TENANT_TOOLS = _tool_operations("/api/admin/tenants/{tenant_id}/erp/tools", "Tenant", TENANT_PATH)
PLATFORM_TOOLS = _tool_operations("/api/admin/erp/tools", "Platform", {})

TEST_CALL = Operation(
    "POST",
    "/api/admin/tenants/{tenant_id}/erp/tools/{name}/test",
    "testErpTool",
    "Call one ERP tool the tenant can use with sample arguments, as the tenant (audited)",
    "erp",
    ToolTestResult,
    body=ToolTestCall,
    errors=(400, 403, 404, 413),
    path_schemas=TENANT_TOOL_PATH,
)

LIST_CREDENTIALS = Operation(
    "GET",
    "/api/admin/tenants/{tenant_id}/erp/credentials",
    "listErpCredentials",
    "List the names of the tenant's ERP service credentials",
    "erp",
    CredentialList,
    errors=(403, 404),
    path_schemas=TENANT_PATH,
)
PUT_CREDENTIAL = Operation(
    "PUT",
    "/api/admin/tenants/{tenant_id}/erp/credentials/{name}",
    "putErpCredential",
    "Set a service credential (encrypted at rest, never returned)",
    "erp",
    None,
    body=CredentialIn,
    status=204,
    errors=(400, 403, 404, 413),
    path_schemas=TENANT_CREDENTIAL_PATH,
)
DELETE_CREDENTIAL = Operation(
    "DELETE",
    "/api/admin/tenants/{tenant_id}/erp/credentials/{name}",
    "deleteErpCredential",
    "Remove a service credential",
    "erp",
    None,
    status=204,
    errors=(403, 404),
    path_schemas=TENANT_CREDENTIAL_PATH,
)


def _shows(spec: ToolSpec | None, expected: HttpToolConfig | None) -> bool:
    if expected is None:
        return spec is None
    return (
        spec is not None
        and spec.description == expected.description
        and spec.input_schema == expected.input_schema
    )


async def until_served(access: AdminAccess, name: str, expected: HttpToolConfig | None) -> bool:
    """Refresh the host's view of the ERP server until tool `name` is `expected` (None: gone).

    A changed tool is withheld until its new definition is accepted (tool pinning). Here the
    admin has just written that definition, so once the server serves exactly what was written
    (description and input schema), the admin's change is taken as the acceptance; a server that
    serves anything else stays withheld. Gives up after a few seconds, or at once when the ERP
    server cannot be reached.
    """
    catalog = access.state.host.catalog
    deadline = time.monotonic() + LIVE_WAIT_SECONDS
    while True:
        try:
            await catalog.refresh(ERP_SERVER)
        except (ServerUnavailable, MCPError):
            return False
        spec = catalog.find(ERP_SERVER, name)
        if _shows(spec, expected):
            if spec is not None and catalog.is_withheld(spec):
                await _accept_written(access, spec)
            return True
        if time.monotonic() >= deadline:
            return False
        await anyio.sleep(0.2)


async def _accept_written(access: AdminAccess, spec: ToolSpec) -> None:
    pins = access.state.admin.pins
    pending = next((c for c in await pins.changed() if (c.server, c.tool) == (spec.server, spec.name)), None)
    if pending is None or pending.pending_hash != spec.definition_hash:
        return  # the server moved on again: what it serves now was not written here
    await pins.accept(spec.server, spec.name, accepted_by=access.principal)
    await access.state.host.catalog.reload_pins()


async def _access(request: Request, platform: bool) -> AdminAccess:
    return platform_admin(request) if platform else await tenant_admin(request)


def _handlers(operations: dict[str, Operation[Any, Any]], platform: bool) -> list[Operation[Any, Any]]:
    async def list_tools(request: Request) -> Response:
        access = await _access(request, platform)
        stored = await access.state.admin.erp_tools.for_tenant(access.tenant_id)
        return operations["list"].reply(ErpToolList(items=[ErpToolView.of(s) for s in stored]))

    async def create_tool(request: Request) -> Response:
        access = await _access(request, platform)
        config: HttpToolConfig = await operations["create"].read_body(
            request, access.state.settings.max_body_bytes
        )
        stored = await access.state.admin.erp_tools.create(access.tenant_id, config)
        await access.record("erp_tool.create", f"erp:{config.name}", arguments=config.model_dump(mode="json"))
        live = await until_served(access, config.name, config)
        return operations["create"].reply(ErpToolView.of(stored, live))

    async def get_tool(request: Request) -> Response:
        access = await _access(request, platform)
        stored = await access.state.admin.erp_tools.get(access.tenant_id, request.path_params["name"])
        return operations["get"].reply(ErpToolView.of(stored))

    async def update_tool(request: Request) -> Response:
        access = await _access(request, platform)
        config: HttpToolConfig = await operations["update"].read_body(
            request, access.state.settings.max_body_bytes
        )
        name = request.path_params["name"]
        if config.name != name:
            raise ApiError(
                "name_mismatch",
                f"the body names tool '{config.name}' but the path names '{name}'",
                details=[{"field": "name", "problem": "must equal the tool name in the path"}],
            )
        stored = await access.state.admin.erp_tools.update(access.tenant_id, config)
        await access.record("erp_tool.update", f"erp:{name}", arguments=config.model_dump(mode="json"))
        live = await until_served(access, config.name, config)
        return operations["update"].reply(ErpToolView.of(stored, live))

    async def delete_tool(request: Request) -> Response:
        access = await _access(request, platform)
        name = request.path_params["name"]
        await access.state.admin.erp_tools.delete(access.tenant_id, name)
        await access.record("erp_tool.delete", f"erp:{name}")
        live = await until_served(access, name, None)
        return operations["delete"].reply(ErpToolDeleted(name=name, live=live))

    return [
        operations["list"].bind(list_tools),
        operations["create"].bind(create_tool),
        operations["get"].bind(get_tool),
        operations["update"].bind(update_tool),
        operations["delete"].bind(delete_tool),
    ]


async def test_tool(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    name = request.path_params["name"]
    body = await TEST_CALL.read_body(request, access.state.settings.max_body_bytes)
    caller = Caller(tenant_id=access.tenant_id, subject=access.user.subject, roles=access.user.roles)
    outcome = await access.state.host.call_tool(caller, ERP_SERVER, name, body.arguments)
    if outcome.error_code == "tool_not_found":
        raise ApiError("tool_not_found", f"tenant '{access.tenant_id}' has no ERP tool '{name}'")
    spec = access.state.host.catalog.find(ERP_SERVER, name)
    return TEST_CALL.reply(
        ToolTestResult(
            tool=f"{ERP_SERVER}:{name}",
            is_error=outcome.is_error,
            error_code=outcome.error_code,
            text=outcome.text,
            structured=outcome.structured,
            render=spec.render if spec is not None else {},
            duration_ms=round(outcome.duration_ms, 3),
            truncated=outcome.truncated,
        )
    )


async def list_credentials(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    names = await access.state.admin.erp_credentials.names(access.tenant_id)
    return LIST_CREDENTIALS.reply(CredentialList(names=names))


async def put_credential(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    name = request.path_params["name"]
    body = await PUT_CREDENTIAL.read_body(request, access.state.settings.max_body_bytes)
    await access.state.admin.erp_credentials.put(access.tenant_id, name, body.secret.get_secret_value())
    await access.record("erp_credential.put", f"erp-credential:{name}")
    return PUT_CREDENTIAL.reply()


async def delete_credential(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    name = request.path_params["name"]
    if not await access.state.admin.erp_credentials.delete(access.tenant_id, name):
        raise ApiError("credential_not_found", f"the tenant has no credential '{name}'")
    await access.record("erp_credential.delete", f"erp-credential:{name}")
    return DELETE_CREDENTIAL.reply()


operations = [
    *_handlers(TENANT_TOOLS, platform=False),
    *_handlers(PLATFORM_TOOLS, platform=True),
    TEST_CALL.bind(test_tool),
    LIST_CREDENTIALS.bind(list_credentials),
    PUT_CREDENTIAL.bind(put_credential),
    DELETE_CREDENTIAL.bind(delete_credential),
]
