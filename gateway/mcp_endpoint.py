"""The per-tenant MCP endpoint `/mcp`: one MCP server that is every tool a tenant may use.

An MCP client (an IDE, a desktop assistant) connects with the same bearer token as the chat API.
The tenant comes from that token. `tools/list` answers the tenant's catalog across all servers
(`AgentHost.catalog_for`: policy applied, other tenants' tools and withheld pins hidden) under
`server__tool` names; `tools/call` passes the gateway's rate limit and then runs through
`AgentHost.call_tool`, the same policy decision, audit and audience-bound mesh token as a
tool call inside a chat turn.

Beyond tools, the endpoint offers what applies to a stateless server: the tenant's knowledge
documents as resources (`kb://documents/{id}`, read on the `rag` server as the tenant, under the
policy of `rag:search`, audited: `host.knowledge_resources`), the tenant's agents and the servers'
tool prompts as prompts, argument completions (agents' example questions, MSTs, shipment ids and
SKUs from the tenant's ERP, document ids: `host.prompt_catalog`), `logging/setLevel` (accepted;
with no session there is nothing after the request to apply it to) and progress: a `tools/call`
carrying a `progressToken` gets the server's progress notifications relayed on an SSE answer.
Nothing is pushed outside a request, so every `listChanged` is declared false.

The transport is the SDK's Streamable HTTP session manager in stateless mode with JSON answers:
protocol 2026-07-28 clients send self-contained requests, earlier clients get a session-less
handshake, and any gateway replica can answer any request. A request that asks for progress goes
to a second, streaming manager, whose answer is SSE only when notifications come before it. The
two requests a client sends in a loop, `tools/call` and `tools/list`, take a lean path when they
come from a session-less handshake-era client (`gateway.mcp_lean`): the same handlers and answer,
without the per-request transport, task group and session the SDK builds for them.

Authentication follows the MCP authorization spec: a request without a valid token gets a 401
whose `WWW-Authenticate` names the protected resource metadata (RFC 9728) served under
`/.well-known/oauth-protected-resource`. That metadata names the authorization server: the
identity provider when one is configured, else the gateway itself (`gateway.oauth`). A token
bound to a resource (RFC 8707) is accepted here only when that resource is this endpoint's
canonical URL; platform tokens (the platform audience, as `agentmesh token` mints) are accepted too.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import structlog
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.dispatcher import ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    CallToolRequestParams,
    CallToolResult,
    CompleteRequestParams,
    CompleteResult,
    GetPromptRequestParams,
    GetPromptResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    TextContent,
    Tool,
    ToolAnnotations,
)
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from agentmesh import __version__
from agentmesh.errors import AgentmeshError, ErrorCode
from agentmesh.settings import Settings
from gateway.auth import AuthenticatedUser, authenticate, canonical_resource
from gateway.bodies import read_body
from gateway.errors import ApiError, error_response
from gateway.host_check import HostCheck
from gateway.jsonrpc_guard import (
    JsonRpcRefusal,
    check_protocol_version,
    json_errors,
    parse_jsonrpc,
    replay,
    replay_then,
)
from gateway.mcp_lean import LeanRequest, answer, lean_request, wants_progress
from gateway.openapi import Operation
from gateway.tenants import TenantDirectory
from host.agent_host import AgentHost
from host.caller import Caller
from host.catalog import ToolSpec, split_external_name
from host.executor import ToolOutcome
from host.knowledge_resources import ResourceDenied, ResourceNotFound
from host.prompt_catalog import InvalidPromptArguments, PromptNotFound
from host.server_connection import ServerUnavailable
from mcp_servers.common.client_logging import ClientLogLevels
from mcp_servers.common.errors import error_meta, error_result
from mcp_servers.common.results import RENDER_META_KEY, TENANT_META_KEY

log = structlog.get_logger(__name__)

MCP_PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource"
USER_SCOPE_KEY = "agentmesh.mcp_user"
MCP_SCOPE = "mcp"
"""The one scope the gateway's authorization server grants: use `/mcp` as the signed-in user."""
RATE_LIMITED = -32029
"""JSON-RPC error code of a request refused by the rate limit (server-defined range)."""

INSTRUCTIONS = (
    "The tools your organisation may use on agentmesh, across its ERP, knowledge base, OCR and web "
    "search servers, as your tenant's policy allows. Tool names are `server__tool`."
)

Admit = Callable[[AuthenticatedUser], Awaitable[object]]
"""Charges one request to the caller's rate limits; raises a 429 `ApiError` when over."""


async def _read_mcp_body(request: Request, max_bytes: int, user: AuthenticatedUser) -> bytes:
    """The request's body; one over the cap says how files travel instead (by upload reference)."""
    try:
        return await read_body(request, max_bytes)
    except ApiError as exc:
        if exc.code != "too_large":
            raise
        raise ApiError(
            "too_large",
            f"{exc.message}; send a file by reference instead: POST it to /api/{user.tenant_id}/uploads "
            "and pass the upload:// reference it returns as the tool's argument",
            details=exc.details,
            headers=exc.headers,
        ) from exc


def _whole_list(params: PaginatedRequestParams | None) -> None:
    """Lists are answered whole and never issue a cursor, so any cursor sent is not one of ours."""
    if params is not None and params.cursor is not None:
        message = f"invalid cursor '{params.cursor[:40]}': this server sends whole lists, without cursors"
        raise MCPError(INVALID_PARAMS, message)


class ProtectedResourceMetadata(BaseModel):
    """RFC 9728 metadata of the `/mcp` resource: where its bearer tokens come from."""

    resource: str
    authorization_servers: list[str] = Field(min_length=1)
    bearer_methods_supported: list[str] = Field(default_factory=lambda: ["header"])
    scopes_supported: list[str] | None = Field(
        default=None, description="the scopes the gateway's own authorization server grants for this resource"
    )
    resource_name: str = "agentmesh per-tenant MCP endpoint"


def _listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _base_url(connection: HTTPConnection) -> str:
    return str(connection.base_url).rstrip("/")


def resource_metadata_url(connection: HTTPConnection) -> str:
    """Where the metadata of `/mcp` is: the well-known path with the resource's path appended."""
    return f"{_base_url(connection)}{METADATA_PATH}{MCP_PATH}"


def resource_url(connection: HTTPConnection) -> str:
    """The canonical URL of `/mcp` as this request reaches it: the audience of tokens bound to it."""
    return canonical_resource(f"{_base_url(connection)}{MCP_PATH}")


def names_itself(settings: Settings) -> bool:
    """Whether the gateway is the authorization server of `/mcp` (no identity provider's issuer)."""
    return urlsplit(settings.jwt_issuer).scheme not in ("http", "https")


def _authorization_server(settings: Settings, connection: HTTPConnection) -> str:
    # An identity provider's issuer is its URL; the development issuer is a bare name, and its
    # tokens are minted by this deployment (`agentmesh token`), so the gateway names itself.
    if not names_itself(settings):
        return settings.jwt_issuer
    return _base_url(connection)


def _tool_of(spec: ToolSpec) -> Tool:
    meta: dict[str, Any] = {}
    if spec.render:
        meta[RENDER_META_KEY] = spec.render
    if spec.owner_tenant:
        meta[TENANT_META_KEY] = spec.owner_tenant
    return Tool(
        name=spec.external_name,
        title=spec.title,
        description=spec.description,
        input_schema=spec.input_schema or {"type": "object"},
        output_schema=spec.output_schema,
        annotations=ToolAnnotations(
            title=spec.title,
            read_only_hint=spec.read_only,
            destructive_hint=spec.destructive if not spec.read_only else False,
            idempotent_hint=spec.idempotent,
            open_world_hint=spec.open_world,
        ),
        _meta=meta or None,
    )


def _mcp_error(exc: Exception) -> MCPError:
    """The JSON-RPC error answering a refused resource, prompt or completion request."""
    if isinstance(exc, ResourceNotFound):
        # -32602 as the servers behind the gateway answer (the SDK, after SEP-2164), not -32002.
        return MCPError(INVALID_PARAMS, exc.message, {"code": exc.code})
    if isinstance(exc, ResourceDenied):
        return MCPError(INVALID_REQUEST, exc.message, {"code": exc.code})
    if isinstance(exc, PromptNotFound | InvalidPromptArguments):
        return MCPError(INVALID_PARAMS, exc.message, {"code": exc.code})
    if isinstance(exc, ServerUnavailable):
        return MCPError(INTERNAL_ERROR, exc.message, {"code": exc.code, "retryable": True})
    raise exc


def _error_result(
    message: str, code: ErrorCode, *, retryable: bool = False, **details: Any
) -> CallToolResult:
    """A failed call, reported as the domain servers report theirs (the code in `_meta`)."""
    return error_result(AgentmeshError(message, code=code, details=details, retryable=retryable))


def _relayed_error(outcome: ToolOutcome) -> CallToolResult:
    """A failure the host reports (its own, or the server's): its text and code, passed on as they are."""
    error = AgentmeshError(
        outcome.text,
        code=outcome.error_code or "tool_error",
        details=outcome.error_details,
        retryable=outcome.error_retryable,
    )
    return CallToolResult(
        content=[TextContent(type="text", text=outcome.text)], is_error=True, _meta=error_meta(error)
    )


class TenantMcpEndpoint:
    """The `/mcp` MCP server over the host, and the ASGI app that guards its requests."""

    def __init__(
        self, host: AgentHost, settings: Settings, *, admit: Admit, tenants: TenantDirectory
    ) -> None:
        self._host = host
        self._settings = settings
        self._admit = admit
        self._tenants = tenants
        self._host_check = HostCheck(_listed(settings.allowed_hosts), _listed(settings.allowed_origins))
        self._server: Server[Any] = Server(
            "agentmesh-gateway",
            version=__version__,
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_completion=self._complete,
            get_tool_input_schema=self._input_schema,
        )
        ClientLogLevels().install(self._server)
        self._sessions = StreamableHTTPSessionManager(app=self._server, stateless=True, json_response=True)
        self._streaming = StreamableHTTPSessionManager(app=self._server, stateless=True, json_response=False)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve MCP requests for the duration of the block (the gateway's lifespan)."""
        async with self._sessions.run(), self._streaming.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Guard a request (host and origin, token, tenant, body), then hand it to the MCP server.

        Whatever the MCP layer answers with an HTTP error comes out as a JSON error body.
        """
        connection = HTTPConnection(scope)
        try:
            self._host_check.check(connection)
            user = authenticate(connection, resource=resource_url(connection))
            await self._tenants.require(user.tenant_id)
            body = await _read_mcp_body(Request(scope, receive), self._settings.max_body_bytes, user)
        except ApiError as exc:
            await self._refusal(connection, exc)(scope, receive, send)
            return
        try:
            check_protocol_version(connection.headers.get("mcp-protocol-version"))
            payload = parse_jsonrpc(body)
        except JsonRpcRefusal as refusal:
            await refusal.response(scope, receive, send)
            return
        lean = lean_request(connection.headers, payload)
        if lean is not None:
            response = await answer(lean, lambda: self._lean_result(lean, user))
            await response(scope, receive, send)
            return
        scope[USER_SCOPE_KEY] = user
        if wants_progress(payload):
            await self._streaming.handle_request(scope, replay_then(body, receive), json_errors(send))
            return
        await self._sessions.handle_request(scope, replay(body), json_errors(send))

    async def _lean_result(self, request: LeanRequest, user: AuthenticatedUser) -> BaseModel:
        """The result of a lean-path request, through the same handlers as the SDK's path."""
        if request.method == "tools/call":
            params = CallToolRequestParams.model_validate(request.params, by_name=False)
            return await self._tool_result(user, params, progress=None)
        _whole_list(PaginatedRequestParams.model_validate(request.params, by_name=False))
        return await self._tool_list(user)

    def _refusal(self, connection: HTTPConnection, exc: ApiError) -> Response:
        headers = dict(exc.headers)
        if exc.status == 401:
            challenge = f'Bearer resource_metadata="{resource_metadata_url(connection)}"'
            if connection.headers.get("authorization"):
                description = exc.message.replace('"', "'")
                challenge += f', error="invalid_token", error_description="{description}"'
            headers["WWW-Authenticate"] = challenge
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

    def metadata(self, connection: HTTPConnection) -> ProtectedResourceMetadata:
        return ProtectedResourceMetadata(
            resource=resource_url(connection),
            authorization_servers=[_authorization_server(self._settings, connection)],
            scopes_supported=[MCP_SCOPE] if names_itself(self._settings) else None,
        )

    @staticmethod
    def _user(ctx: ServerRequestContext[Any, Any]) -> AuthenticatedUser:
        request = ctx.request
        user = request.scope.get(USER_SCOPE_KEY) if isinstance(request, Request) else None
        if not isinstance(user, AuthenticatedUser):
            # Every request passes `__call__`, which authenticates it; reaching here is a wiring bug.
            raise RuntimeError("an /mcp request reached its handler without an authenticated user")
        return user

    def _input_schema(self, name: str) -> Mapping[str, Any] | None:
        """The input schema the SDK checks `Mcp-Param-*` headers against, from the cached catalog.

        Without it the SDK would run the whole `tools/list` handler for every call. It is asked
        before the caller is known, so tenant-owned tools are not looked up (their calls are
        validated by the server, like any other): nothing about them shows.
        """
        server, tool = split_external_name(name)
        spec = self._host.catalog.find(server, tool) if server and tool else None
        if spec is None or spec.owner_tenant is not None:
            return None
        return spec.input_schema

    @staticmethod
    def _caller(user: AuthenticatedUser) -> Caller:
        return user.caller()

    async def _admitted(self, ctx: ServerRequestContext[Any, Any]) -> Caller:
        """The caller of a request the rate limit admits; a JSON-RPC error when it does not."""
        return await self._admitted_user(self._user(ctx))

    async def _admitted_user(self, user: AuthenticatedUser) -> Caller:
        try:
            await self._admit(user)
        except ApiError as exc:
            if exc.status != 429:
                raise
            retry_after = int(exc.headers.get("Retry-After", "1"))
            data = {"code": exc.code, "retry_after_seconds": retry_after}
            raise MCPError(RATE_LIMITED, f"{exc.message}; retry in {retry_after} s", data) from exc
        return self._caller(user)

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        _whole_list(params)
        return await self._tool_list(self._user(ctx))

    async def _tool_list(self, user: AuthenticatedUser) -> ListToolsResult:
        specs = await self._host.catalog_for(await self._admitted_user(user))
        return ListToolsResult(tools=[_tool_of(spec) for spec in specs])

    async def _list_resources(
        self, ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        _whole_list(params)
        caller = await self._admitted(ctx)
        try:
            return ListResourcesResult(resources=await self._host.features.resources_for(caller))
        except ServerUnavailable as exc:
            raise _mcp_error(exc) from exc

    async def _list_resource_templates(
        self, ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
    ) -> ListResourceTemplatesResult:
        _whole_list(params)
        caller = await self._admitted(ctx)
        try:
            return ListResourceTemplatesResult(
                resource_templates=await self._host.features.resource_templates_for(caller)
            )
        except ServerUnavailable as exc:
            raise _mcp_error(exc) from exc

    async def _read_resource(
        self, ctx: ServerRequestContext[Any, Any], params: ReadResourceRequestParams
    ) -> ReadResourceResult:
        caller = await self._admitted(ctx)
        try:
            return await self._host.features.read_resource(caller, str(params.uri))
        except (ResourceNotFound, ResourceDenied, ServerUnavailable) as exc:
            raise _mcp_error(exc) from exc

    async def _list_prompts(
        self, ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
    ) -> ListPromptsResult:
        _whole_list(params)
        return ListPromptsResult(prompts=await self._host.features.prompts_for(await self._admitted(ctx)))

    async def _get_prompt(
        self, ctx: ServerRequestContext[Any, Any], params: GetPromptRequestParams
    ) -> GetPromptResult:
        caller = await self._admitted(ctx)
        try:
            return await self._host.features.get_prompt(caller, params.name, dict(params.arguments or {}))
        except (PromptNotFound, InvalidPromptArguments, ServerUnavailable) as exc:
            raise _mcp_error(exc) from exc

    async def _complete(
        self, ctx: ServerRequestContext[Any, Any], params: CompleteRequestParams
    ) -> CompleteResult:
        caller = await self._admitted(ctx)
        argument = {"name": params.argument.name, "value": params.argument.value}
        try:
            return CompleteResult(completion=await self._host.features.complete(caller, params.ref, argument))
        except ServerUnavailable as exc:
            raise _mcp_error(exc) from exc

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams
    ) -> CallToolResult:
        return await self._tool_result(self._user(ctx), params, progress=ctx.session.report_progress)

    async def _tool_result(
        self, user: AuthenticatedUser, params: CallToolRequestParams, *, progress: ProgressFnT | None
    ) -> CallToolResult:
        server, tool = split_external_name(params.name)
        if not server or not tool:
            return _error_result(
                f"unknown tool '{params.name}': tools here are named server__tool, as tools/list shows",
                "tool_not_found",
            )
        try:
            await self._admit(user)
        except ApiError as exc:
            if exc.status != 429:
                raise
            retry_after = int(exc.headers.get("Retry-After", "1"))
            return _error_result(
                f"{exc.message}; retry in {retry_after} s",
                exc.code,
                retryable=True,
                retry_after_seconds=retry_after,
            )
        outcome = await self._host.call_tool(
            self._caller(user),
            server,
            tool,
            dict(params.arguments or {}),
            progress=progress,
        )
        if outcome.error_code == "tool_not_found":
            # Named as this client names tools (`erp__x`), not as policies do (`erp:x`).
            return _error_result(f"no tool '{params.name}' is available", "tool_not_found")
        if outcome.is_error:
            return _relayed_error(outcome)
        spec = self._host.catalog.find(server, tool)
        if outcome.structured is None and spec is not None and spec.output_schema is not None:
            # The host keeps results within its size cap; a result that lost its structured part
            # would break clients that check it against the declared output schema.
            return _error_result(
                f"the result of {params.name} is larger than the gateway passes on; ask for less "
                "(fewer rows, a narrower filter)",
                "too_large",
            )
        return CallToolResult(
            content=[TextContent(type="text", text=outcome.text)],
            structured_content=outcome.structured,
        )


class _McpApp:
    """The ASGI app of the `/mcp` route: the endpoint built in the gateway's lifespan."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint: TenantMcpEndpoint = scope["app"].state.gateway.mcp
        await endpoint(scope, receive, send)


def _metadata_operation(path: str, operation_id: str) -> Operation:
    return Operation(
        "GET",
        path,
        operation_id,
        "OAuth 2.0 protected resource metadata (RFC 9728) of the per-tenant MCP endpoint `/mcp`",
        "mcp",
        ProtectedResourceMetadata,
        errors=(),
        authenticated=False,
    )


METADATA = _metadata_operation(f"{METADATA_PATH}{MCP_PATH}", "getMcpResourceMetadata")
ROOT_METADATA = _metadata_operation(METADATA_PATH, "getResourceMetadata")


async def protected_resource_metadata(request: Request) -> Response:
    endpoint: TenantMcpEndpoint = request.app.state.gateway.mcp
    return METADATA.reply(endpoint.metadata(request), headers={"Cache-Control": "public, max-age=3600"})


operations = [METADATA.bind(protected_resource_metadata), ROOT_METADATA.bind(protected_resource_metadata)]
routes = [Route(MCP_PATH, _McpApp(), methods=["POST"])]
"""`/mcp` speaks MCP (JSON-RPC), not this REST API: a route of its own, outside the OpenAPI document.

POST only: in stateless mode there is no session to `DELETE` and no server-initiated message a
`GET` stream could ever carry, so both are 405 (which the MCP spec lets a server answer)."""
