"""The tool catalog: every server's `tools/list`, cached, namespaced and selectable by glob."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from typing import Any

import structlog
from mcp_types import Tool
from pydantic import BaseModel, Field

from host.mcp_pool import McpPool, ServerUnavailable
from mcp_servers.common.results import RENDER_META_KEY, TENANT_META_KEY

log = structlog.get_logger(__name__)

EXTERNAL_SEPARATOR = "__"


class ToolSpec(BaseModel):
    """One tool of one server as the host sees it."""

    server: str
    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    read_only: bool = False
    destructive: bool = False
    render: dict[str, Any] = Field(default_factory=dict)
    owner_tenant: str | None = None
    definition_hash: str = ""

    @property
    def qualified_name(self) -> str:
        """`server:tool`, the name policies match against."""
        return f"{self.server}:{self.name}"

    @property
    def external_name(self) -> str:
        """`server__tool`: valid as an MCP, Anthropic, OpenAI and Gemini tool name."""
        return f"{self.server}{EXTERNAL_SEPARATOR}{self.name}"

    def visible_to(self, tenant_id: str) -> bool:
        return self.owner_tenant is None or self.owner_tenant == tenant_id

    @classmethod
    def from_mcp(cls, server: str, tool: Tool) -> ToolSpec:
        meta = tool.meta or {}
        annotations = tool.annotations
        return cls(
            server=server,
            name=tool.name,
            description=tool.description or "",
            input_schema=dict(tool.input_schema or {}),
            output_schema=dict(tool.output_schema) if tool.output_schema else None,
            read_only=bool(annotations and annotations.read_only_hint),
            destructive=bool(annotations and annotations.destructive_hint),
            render=dict(meta.get(RENDER_META_KEY) or {}),
            owner_tenant=meta.get(TENANT_META_KEY),
            definition_hash=definition_hash(tool),
        )


def definition_hash(tool: Tool) -> str:
    """A hash of what a model reads about a tool: name, description and both schemas."""
    definition = {
        "name": tool.name,
        "description": tool.description or "",
        "input_schema": tool.input_schema or {},
        "output_schema": tool.output_schema or {},
    }
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


def split_external_name(external: str) -> tuple[str, str]:
    """`erp__get_customer_debt` -> (`erp`, `get_customer_debt`)."""
    server, _, tool = external.partition(EXTERNAL_SEPARATOR)
    return server, tool


def matches_any(qualified_name: str, globs: Iterable[str]) -> bool:
    return any(fnmatchcase(qualified_name, pattern) for pattern in globs)


class ToolCatalog:
    """Cached tool lists by server, refreshed on start, on a TTL and on change notifications."""

    def __init__(self, pool: McpPool, *, ttl_seconds: float = 300.0) -> None:
        self._pool = pool
        self._ttl = ttl_seconds
        self._tools: dict[str, list[ToolSpec]] = {}
        self._fetched_at: dict[str, float] = {}
        self.version = 0

    async def refresh(self, server: str) -> list[ToolSpec]:
        """Fetch `server`'s tools now; on failure keep what was cached."""
        tools = await self._pool.connection(server).list_tools()
        self._tools[server] = [ToolSpec.from_mcp(server, tool) for tool in tools]
        self._fetched_at[server] = time.monotonic()
        self.version += 1
        log.info("catalog_refreshed", server=server, tools=len(tools))
        return self._tools[server]

    async def refresh_all(self) -> None:
        for server in self._pool.servers():
            try:
                await self.refresh(server)
            except ServerUnavailable as exc:
                log.info("catalog_refresh_skipped", server=server, reason=str(exc))

    async def ensure_fresh(self, servers: Sequence[str]) -> None:
        """Refresh the given servers whose lists are missing or older than the TTL."""
        now = time.monotonic()
        for server in servers:
            if server not in self._tools or now - self._fetched_at.get(server, 0.0) > self._ttl:
                try:
                    await self.refresh(server)
                except ServerUnavailable:
                    continue

    def invalidate(self, server: str) -> None:
        self._fetched_at.pop(server, None)

    def all_tools(self) -> list[ToolSpec]:
        return [tool for tools in self._tools.values() for tool in tools]

    def select(self, globs: Sequence[str], *, tenant_id: str) -> list[ToolSpec]:
        """Tools matching any of `globs` that `tenant_id` may see (policy is applied by the caller)."""
        return [
            tool
            for tool in self.all_tools()
            if tool.visible_to(tenant_id) and matches_any(tool.qualified_name, globs)
        ]

    def find(self, server: str, name: str) -> ToolSpec | None:
        return next((tool for tool in self._tools.get(server, []) if tool.name == name), None)

    def servers_for(self, globs: Sequence[str]) -> list[str]:
        """Servers any of `globs` can refer to (the part before the colon)."""
        names = {pattern.split(":", 1)[0] for pattern in globs}
        return [server for server in self._pool.servers() if any(fnmatchcase(server, n) for n in names)]
