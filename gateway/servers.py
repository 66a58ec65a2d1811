"""MCP servers registered by URL through the admin API: persisted, and connected without a restart.

The servers the gateway was started with (from settings or `agentmesh up`) are fixed; a platform
admin adds, re-points and removes further servers here. Each change is stored first (bumping the
`servers` config version in the same transaction) and then applied to this replica's connection
pool; the other replicas see the version move at their next turn and re-read the registrations
(`sync`). Every stored registration is handed to the pool again when the gateway starts.

A registered URL passes the outbound guard before it is stored (a server on loopback, a private
network or a metadata address is refused unless `AGENTMESH_OUTBOUND_ALLOW` names it), and the
pool connects to it through the guard again, so a DNS answer that changes later cannot redirect it.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.errors import AgentmeshError
from agentmesh.outbound import OutboundGuard
from gateway.tables import McpServerRow, utcnow
from host.catalog import ToolCatalog
from host.config_versions import bump
from host.mcp_pool import McpPool

SERVER_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
"""Lower-case letters, digits and dashes: a name that stays unambiguous inside `server__tool`."""

McpUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2048, allowed_schemes=["http", "https"])]


class ServerRegistryError(AgentmeshError):
    """A refused registry operation."""


class InvalidServerName(ServerRegistryError):
    code = "invalid_server_name"


class ServerNameTaken(ServerRegistryError):
    """The name belongs to a server the gateway was started with."""

    code = "server_name_reserved"


class ServerNotFound(ServerRegistryError):
    code = "server_not_found"


class ServerRegistration(BaseModel):
    """Where a server's Streamable HTTP endpoint is. It must accept the mesh's tokens (`aud mcp:<name>`)."""

    model_config = ConfigDict(extra="forbid")

    url: McpUrl = Field(description="the server's MCP endpoint, e.g. https://tools.internal/mcp")


class ServerView(BaseModel):
    """A server the gateway connects to, and whether it is connected now."""

    name: str
    url: str
    source: str = Field(description="'startup' (configured) or 'admin' (registered through this API)")
    connected: bool
    last_error: str | None = None
    registered_by: str | None = None
    updated_at: datetime | None = None


class ServerRegistry:
    """Registered servers in the platform database, mirrored into the host's pool."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        pool: McpPool,
        catalog: ToolCatalog,
        *,
        outbound: OutboundGuard,
        startup: Iterable[str] = (),
    ) -> None:
        self._sessions = sessions
        self._pool = pool
        self._catalog = catalog
        self._outbound = outbound
        self._startup = frozenset(startup)

    async def connect_registered(self) -> list[str]:
        """Hand every stored registration to the pool (at start); returns their names."""
        rows = [row for row in await self._rows() if row.name not in self._startup]
        for row in rows:
            self._pool.add_server(row.name, row.url)
        return [row.name for row in rows]

    async def register(self, name: str, registration: ServerRegistration, registered_by: str) -> ServerView:
        """Store `name` -> URL (replacing an earlier URL) and connect to it in the background;
        a URL the platform does not call for tenants is refused (`BlockedDestination`)."""
        self._check_changeable(name)
        url = str(registration.url)
        await self._outbound.check(url)
        async with self._sessions() as db, db.begin():
            row = await db.get(McpServerRow, name, with_for_update=True)
            if row is None:
                row = McpServerRow(name=name, url=url, registered_by=registered_by)
                db.add(row)
            else:
                row.url = url
                row.registered_by = registered_by
                row.updated_at = utcnow()
            await bump(db, "servers")
        self._connect(name, url)
        return self._view_of(row)

    async def remove(self, name: str) -> None:
        """Delete a registration and disconnect the server; its tools leave every catalog."""
        self._check_changeable(name)
        async with self._sessions() as db, db.begin():
            row = await db.get(McpServerRow, name, with_for_update=True)
            if row is None:
                raise ServerNotFound(f"no registered MCP server named '{name}'")
            await db.delete(row)
            await bump(db, "servers")
        self._disconnect(name)

    async def sync(self) -> None:
        """Make this replica's pool match the stored registrations (another replica changed them)."""
        rows = {row.name: row.url for row in await self._rows() if row.name not in self._startup}
        for name in self._pool.servers():
            if name not in self._startup and name not in rows:
                self._disconnect(name)
        for name, url in rows.items():
            self._connect(name, url)

    def _check_changeable(self, name: str) -> None:
        if not re.fullmatch(SERVER_NAME_PATTERN, name):
            raise InvalidServerName(
                f"'{name}' is not a server name: a lower-case letter, then up to 31 lower-case "
                "letters, digits or dashes"
            )
        if name in self._startup:
            raise ServerNameTaken(f"'{name}' is configured at startup and cannot be changed here")

    def _connect(self, name: str, url: str) -> None:
        if self._pool.has(name) and self._pool.connection(name).url == url:
            return
        self._catalog.forget(name)  # tools listed from the old URL are not the new server's
        # The connection outlives this request: start it outside the request's context (its
        # tenant, trace and log bindings), as if it had been there from the start.
        contextvars.Context().run(self._pool.add_server, name, url)

    def _disconnect(self, name: str) -> None:
        self._pool.remove_server(name)
        self._catalog.forget(name)

    async def get(self, name: str) -> ServerView:
        for view in await self.all():
            if view.name == name:
                return view
        raise ServerNotFound(f"no MCP server named '{name}'")

    async def all(self) -> list[ServerView]:
        """Every server of the pool, startup and registered, by name."""
        registered = {row.name: row for row in await self._rows()}
        views = []
        for state in sorted(self._pool.states(), key=lambda s: s.name):
            row = registered.get(state.name)
            views.append(
                ServerView(
                    name=state.name,
                    url=state.url,
                    source="admin" if row is not None and state.name not in self._startup else "startup",
                    connected=state.connected,
                    last_error=state.last_error,
                    registered_by=row.registered_by if row is not None else None,
                    updated_at=row.updated_at if row is not None else None,
                )
            )
        return views

    def _view_of(self, row: McpServerRow) -> ServerView:
        state = next((s for s in self._pool.states() if s.name == row.name), None)
        return ServerView(
            name=row.name,
            url=row.url,
            source="admin",
            connected=bool(state and state.connected),
            last_error=state.last_error if state else None,
            registered_by=row.registered_by,
            updated_at=row.updated_at,
        )

    async def _rows(self) -> list[McpServerRow]:
        async with self._sessions() as db:
            return list((await db.execute(sa.select(McpServerRow).order_by(McpServerRow.name))).scalars())
