"""Configured ERP tools as MCP tools: how each is listed, and what one call does.

A call resolves the tenant from the verified mesh token, refuses another tenant's tool,
validates the arguments against the input schema, opens the tenant's service credential for
just this request (or signs the caller's identity token), makes the HTTP call and checks the
answer against the output schema. The
result carries `structuredContent` and a readable text; a failure raises an `ErpToolError`, which
the server's error boundary reports with its `code` and whether it is `retryable`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from jsonschema import Draft202012Validator
from mcp_types import CallToolResult, TextContent, Tool, ToolAnnotations

from agentmesh.errors import AgentmeshError
from agentmesh.mesh_tokens import LISTING_TENANT
from mcp_servers.common.results import FORWARDS_USER_TOKEN_META_KEY, TENANT_META_KEY, render_meta
from mcp_servers.common.schemas import portable_schema
from mcp_servers.common.tenant import TenantContext, TenantResolver
from mcp_servers.erp.arguments import check_arguments
from mcp_servers.erp.catalog import CatalogEntry, ToolCatalog
from mcp_servers.erp.credentials import ServiceCredentialStore
from mcp_servers.erp.errors import (
    BadUpstreamResponse,
    CredentialMissing,
    ToolNotAvailable,
    UserTokenUnavailable,
)
from mcp_servers.erp.forwarding import UserTokenForwarding
from mcp_servers.erp.identity import UpstreamIdentity
from mcp_servers.erp.rendering import render_text
from mcp_servers.erp.tool_config import HttpToolConfig
from mcp_servers.erp.upstream import ErpHttp, prepare

log = structlog.get_logger(__name__)


def _translations(config: HttpToolConfig) -> dict[str, dict[str, Any]]:
    """The tool's wording per language. The output's own summary is its English wording (the text
    the server returns), so an English reader's answer composed from the data says it too."""
    translations: dict[str, dict[str, Any]] = {
        language: words.model_dump(exclude_defaults=True)
        for language, words in config.output.translations.items()
    }
    if config.output.summary:
        translations["en"] = {"summary": config.output.summary}
    return translations


def mcp_tool(entry: CatalogEntry) -> Tool:
    """How a configured tool is listed in `tools/list`."""
    config = entry.config
    hints = config.output.hints
    meta = render_meta(
        config.output.format,
        fields=hints.fields,
        sortable=hints.sortable,
        filterable=hints.filterable,
        priority=hints.priority,
        rows=hints.rows,
        translations=_translations(config),
    )
    if entry.tenant_id is not None:
        meta[TENANT_META_KEY] = entry.tenant_id
    if config.auth.mode == "forward":
        meta[FORWARDS_USER_TOKEN_META_KEY] = True
    title = config.title or config.name.replace("_", " ").capitalize()
    return Tool(
        name=config.name,
        title=title,
        description=config.description,
        input_schema=portable_schema(config.input_schema),
        output_schema=portable_schema(config.output_schema) if config.output_schema else None,
        # A read is idempotent; a write may not be. The ERP is the company's system, outside
        # this server: the tools reach an open world.
        annotations=ToolAnnotations(
            title=title,
            read_only_hint=config.read_only,
            destructive_hint=config.destructive,
            idempotent_hint=config.read_only,
            open_world_hint=True,
        ),
        _meta=meta,
    )


def _check_output(config_name: str, schema: dict[str, Any], data: dict[str, Any]) -> None:
    errors = sorted(
        Draft202012Validator(schema).iter_errors(data), key=lambda e: list(map(str, e.absolute_path))
    )
    if errors:
        listed = "; ".join(
            f"{'.'.join(map(str, e.absolute_path)) or 'answer'}: {e.message[:120]}" for e in errors[:5]
        )
        raise BadUpstreamResponse(
            f"the ERP's answer does not match the output schema of {config_name}: {listed}",
            details={"problems": len(errors)},
        )


class ConfiguredTools:
    """The configured tools of one server, callable for the tenant of the current request."""

    def __init__(
        self,
        catalog: ToolCatalog,
        http: ErpHttp,
        credentials: ServiceCredentialStore,
        identity: UpstreamIdentity,
        tenants: TenantResolver,
        *,
        base_url: Callable[[], str | None],
        forwarding: UserTokenForwarding,
    ) -> None:
        self._catalog = catalog
        self._http = http
        self._credentials = credentials
        self._identity = identity
        self._forwarding = forwarding
        self._tenants = tenants
        self._base_url = base_url

    def listed(self) -> list[Tool]:
        """Platform tools plus the caller's own; the host's listing token sees every tenant's."""
        tenant_id = self._tenants.current().tenant_id
        return [
            mcp_tool(entry)
            for entry in self._catalog.entries()
            if entry.tenant_id in (None, tenant_id) or tenant_id == LISTING_TENANT
        ]

    def __contains__(self, name: str) -> bool:
        return self._catalog.get(name) is not None

    async def call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        """Run tool `name` for the current tenant; an expected failure raises an `AgentmeshError`
        (an `ErpToolError`, or the outbound guard's refusal of the tool's URL)."""
        caller = self._tenants.current()
        started = time.perf_counter()
        try:
            result = await self._call(name, arguments, caller)
        except AgentmeshError as error:
            log.info(
                "erp_tool_failed",
                tool=name,
                tenant_id=caller.tenant_id,
                code=error.code,
                retryable=error.retryable,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            raise
        log.info(
            "erp_tool_called",
            tool=name,
            tenant_id=caller.tenant_id,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return result

    async def fetch(self, config: HttpToolConfig, arguments: dict[str, Any]) -> dict[str, Any]:
        """Make the ERP call `config` describes for the current tenant (a lookup, not a listed tool)."""
        return await self._request(config, arguments, self._tenants.current())

    async def _request(
        self, config: HttpToolConfig, arguments: dict[str, Any], caller: TenantContext
    ) -> dict[str, Any]:
        auth_headers = await self._auth_headers(config, caller)
        request = prepare(config, arguments, base_url=self._base_url(), auth_headers=auth_headers)
        data = await self._http.call(config, request)
        if config.output_schema is not None:
            _check_output(config.name, config.output_schema, data)
        return data

    async def _call(self, name: str, arguments: dict[str, Any], caller: TenantContext) -> CallToolResult:
        entry = self._catalog.get(name)
        if entry is None or (entry.tenant_id is not None and entry.tenant_id != caller.tenant_id):
            raise ToolNotAvailable(f"tool '{name}' is not available to tenant '{caller.tenant_id}'")
        config = entry.config
        check_arguments(name, config.input_schema, arguments)
        data = await self._request(config, arguments, caller)
        return CallToolResult(
            content=[TextContent(type="text", text=render_text(config.output, data))], structured_content=data
        )

    async def _auth_headers(self, config: HttpToolConfig, caller: TenantContext) -> dict[str, str]:
        """What the tool's auth mode sends: the tenant's service credential, a fresh identity
        token for the caller, or the caller's own token."""
        auth = config.auth
        if auth.mode == "forward":
            self._forwarding.check(config)
            if not caller.user_token:
                raise UserTokenUnavailable(
                    f"tool '{config.name}' acts with the user's own sign-in, which this call does not "
                    "carry (the host sends it only with a call made for a signed-in user)"
                )
            return {"Authorization": f"Bearer {caller.user_token}"}
        if auth.mode == "user":
            return {"Authorization": f"Bearer {self._identity.token_for(caller, config)}"}
        if auth.mode != "service" or auth.credential is None:
            return {}
        credential = await self._credentials.reveal(caller.tenant_id, auth.credential)
        if credential is None:
            raise CredentialMissing(
                f"tenant '{caller.tenant_id}' has no service credential '{auth.credential}' "
                "for its ERP; an administrator must add it"
            )
        return {auth.header: f"{auth.scheme} {credential}" if auth.scheme else credential}
