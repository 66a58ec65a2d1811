"""The tool catalog: every server's `tools/list`, cached, namespaced, pinned and selectable by glob.

A server's list is fetched when first needed, again after its TTL (in the background: turns keep
using the cached list meanwhile), and whenever the server announces a change (the pool's
`subscriptions/listen` stream, or a `notifications/tools/list_changed` on older protocols).
Tools are named `server:tool` for policies (`server__tool` towards models and MCP clients).
Tools whose definition no longer matches its pin (`host.pins`) are withheld from every selection.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import anyio
import structlog
from anyio.abc import TaskGroup
from mcp_types import Tool
from pydantic import BaseModel, Field

from host.mcp_pool import McpPool
from host.server_connection import ServerUnavailable
from mcp_servers.common.results import FORWARDS_USER_TOKEN_META_KEY, RENDER_META_KEY, TENANT_META_KEY

if TYPE_CHECKING:
    from host.pins import ToolPins

log = structlog.get_logger(__name__)

EXTERNAL_SEPARATOR = "__"


def definition_hash(definition: dict[str, Any]) -> str:
    """A hash of what a model reads about a tool: name, description and both schemas."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


class ToolSpec(BaseModel):
    """One tool of one server as the host sees it."""

    server: str
    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    title: str | None = None
    read_only: bool = False
    destructive: bool = False
    idempotent: bool | None = None
    open_world: bool | None = None
    render: dict[str, Any] = Field(default_factory=dict)
    owner_tenant: str | None = None
    forwards_user_token: bool = False
    """The tool sends the user's own token to its upstream (its server says so in `_meta`)."""
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

    def definition(self) -> dict[str, Any]:
        """What is pinned: name, description, input and output schema."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema or {},
        }

    @classmethod
    def from_mcp(cls, server: str, tool: Tool) -> ToolSpec:
        meta = tool.meta or {}
        annotations = tool.annotations
        spec = cls(
            server=server,
            name=tool.name,
            description=tool.description or "",
            input_schema=dict(tool.input_schema or {}),
            output_schema=dict(tool.output_schema) if tool.output_schema else None,
            title=tool.title or (annotations.title if annotations else None),
            read_only=bool(annotations and annotations.read_only_hint),
            destructive=bool(annotations and annotations.destructive_hint),
            idempotent=annotations.idempotent_hint if annotations else None,
            open_world=annotations.open_world_hint if annotations else None,
            render=dict(meta.get(RENDER_META_KEY) or {}),
            owner_tenant=meta.get(TENANT_META_KEY),
            forwards_user_token=meta.get(FORWARDS_USER_TOKEN_META_KEY) is True,
        )
        spec.definition_hash = definition_hash(spec.definition())
        return spec


def split_external_name(external: str) -> tuple[str, str]:
    """`erp__get_customer_debt` -> (`erp`, `get_customer_debt`)."""
    server, _, tool = external.partition(EXTERNAL_SEPARATOR)
    return server, tool


def matches_any(qualified_name: str, globs: Iterable[str]) -> bool:
    return any(fnmatchcase(qualified_name, pattern) for pattern in globs)


class ToolCatalog:
    """Cached tool lists by server, refreshed on first use, on a TTL and on change announcements."""

    def __init__(
        self,
        pool: McpPool,
        *,
        ttl_seconds: float = 300.0,
        pins: ToolPins | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._ttl = ttl_seconds
        self._pins = pins
        self._tools: dict[str, list[ToolSpec]] = {}
        self._fetched_at: dict[str, float] = {}
        self._accepted: dict[tuple[str, str], str] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._refreshing: set[str] = set()
        self._task_group: TaskGroup | None = None
        self.version = 0

    def start(self, task_group: TaskGroup) -> None:
        """Let the catalog refresh stale lists in the background of `task_group`."""
        self._task_group = task_group

    async def refresh(self, server: str) -> list[ToolSpec]:
        """Fetch `server`'s tools now and pin what is new; on failure keep what was cached."""
        async with self._locks.setdefault(server, anyio.Lock()):
            tools = await self._pool.connection(server).list_tools()
            specs = [ToolSpec.from_mcp(server, tool) for tool in tools]
            if not self._pool.has(server):
                return specs  # removed while it was listing: `forget` has run, keep it forgotten
            if self._pins is not None:
                accepted = await self._pins.observe(server, specs)
                self._accepted = {k: v for k, v in self._accepted.items() if k[0] != server} | accepted
            self._tools[server] = specs
            self._fetched_at[server] = self._clock()
            self.version += 1
        withheld = [spec.name for spec in specs if self.is_withheld(spec)]
        log.info("catalog_refreshed", server=server, tools=len(specs), withheld=withheld)
        return specs

    async def refresh_all(self) -> None:
        for server in self._pool.servers():
            try:
                await self.refresh(server)
            except ServerUnavailable as exc:
                log.info("catalog_refresh_skipped", server=server, reason=str(exc))

    async def reload_pins(self) -> None:
        """Re-read accepted hashes (another replica accepted a changed tool)."""
        if self._pins is not None:
            self._accepted = await self._pins.accepted()
            self.version += 1

    async def ensure_fresh(self, servers: Sequence[str]) -> None:
        """Fetch lists never fetched; refresh expired ones (in the background once `start`ed)."""
        now = self._clock()
        for server in servers:
            if server not in self._tools:
                try:
                    await self.refresh(server)
                except ServerUnavailable:
                    continue
            elif now - self._fetched_at.get(server, 0.0) > self._ttl:
                if self._task_group is not None:
                    self.refresh_soon(server)
                    continue
                try:
                    await self.refresh(server)
                except ServerUnavailable:
                    continue

    def refresh_soon(self, server: str) -> None:
        """Refresh `server` in the background (once at a time); without a task group, mark it stale."""
        self._fetched_at.pop(server, None)
        if self._task_group is None or server in self._refreshing:
            return
        self._refreshing.add(server)
        self._task_group.start_soon(self._background_refresh, server)

    async def _background_refresh(self, server: str) -> None:
        try:
            await self.refresh(server)
        except ServerUnavailable as exc:
            log.info("catalog_refresh_skipped", server=server, reason=str(exc))
        except Exception:  # a bug or a database fault must not take the task group down
            log.exception("catalog_refresh_failed", server=server)
        finally:
            self._refreshing.discard(server)

    def preload(self, tools: Sequence[ToolSpec]) -> None:
        """Serve `tools` as if just listed (episode replay: the tools of the recorded turn)."""
        now = self._clock()
        for tool in tools:
            self._tools.setdefault(tool.server, []).append(tool)
            self._fetched_at[tool.server] = now
        self.version += 1

    def invalidate(self, server: str) -> None:
        """Forget when `server` was fetched: its next use (or the background) fetches it again."""
        self.refresh_soon(server)

    def is_withheld(self, tool: ToolSpec) -> bool:
        """Whether the tool's served definition differs from its accepted pin."""
        if self._pins is None:
            return False
        return self._accepted.get((tool.server, tool.name)) != tool.definition_hash

    def all_tools(self) -> list[ToolSpec]:
        """Every cached tool of every server, withheld ones included (for admins and metrics)."""
        return [tool for tools in self._tools.values() for tool in tools]

    def forget(self, server: str) -> None:
        """Drop `server`'s cached tools (it was removed, or re-pointed at another URL)."""
        self._tools.pop(server, None)
        self._fetched_at.pop(server, None)
        self.version += 1

    def forget_tenant(self, tenant_id: str) -> None:
        """Drop the tenant's own tools (tenant deletion; their servers stop listing them too)."""
        for server, tools in self._tools.items():
            self._tools[server] = [tool for tool in tools if tool.owner_tenant != tenant_id]
        self.version += 1

    def select(self, globs: Sequence[str], *, tenant_id: str) -> list[ToolSpec]:
        """Tools matching any of `globs` that `tenant_id` may see and that are not withheld.

        Policy is applied by the caller.
        """
        return [
            tool
            for tool in self.all_tools()
            if tool.visible_to(tenant_id)
            and matches_any(tool.qualified_name, globs)
            and not self.is_withheld(tool)
        ]

    def find(self, server: str, name: str) -> ToolSpec | None:
        return next((tool for tool in self._tools.get(server, []) if tool.name == name), None)

    def servers_for(self, globs: Sequence[str]) -> list[str]:
        """Servers any of `globs` can refer to (the part before the colon)."""
        names = {pattern.split(":", 1)[0] for pattern in globs}
        return [server for server in self._pool.servers() if any(fnmatchcase(server, n) for n in names)]
