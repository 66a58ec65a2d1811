"""The host's MCP clients, one `ServerConnection` per server, by name.

The servers the host was started with are the platform's own; a server registered at run time
(`add_server`, the admin API) is connected through the outbound guard, so its URL must lead to
the public internet or to a destination the platform allows (`AGENTMESH_OUTBOUND_ALLOW`), and a
DNS answer that changes after the URL was saved cannot redirect the connection.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from anyio.abc import TaskGroup

from agentmesh.outbound import OutboundGuard
from host.server_connection import ConnectionState, ServerConnection, ServerUnavailable


class McpPool:
    """The host's clients, by server name, started in the application's task group."""

    def __init__(
        self,
        servers: Mapping[str, str],
        *,
        listing_token: Callable[[str], str],
        outbound: OutboundGuard,
        on_tools_changed: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._listing_token = listing_token
        self._outbound = outbound
        self.on_tools_changed = on_tools_changed
        """Told the name of a server whose tools changed (set by whoever caches its tool list)."""
        self._connections: dict[str, ServerConnection] = {}
        self._task_group: TaskGroup | None = None
        for name, url in servers.items():
            self._connections[name] = self._new_connection(name, url, registered=False)

    def _new_connection(self, name: str, url: str, *, registered: bool) -> ServerConnection:
        return ServerConnection(
            name,
            url,
            listing_token=lambda: self._listing_token(name),
            outbound=self._outbound if registered else None,
            on_message=self._message,
            on_tools_changed=self._tools_changed,
        )

    async def _message(self, server: str, message: Any) -> None:
        # Servers on protocol 2025-11-25 announce changes as notifications on the session.
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            await self._tools_changed(server)

    async def _tools_changed(self, server: str) -> None:
        if self.on_tools_changed is not None:
            await self.on_tools_changed(server)

    async def start(self, task_group: TaskGroup) -> None:
        """Start one connection task per server in `task_group` (the application's lifespan)."""
        self._task_group = task_group
        for connection in self._connections.values():
            task_group.start_soon(connection.run)

    def stop(self) -> None:
        for connection in self._connections.values():
            connection.close()

    def add_server(self, name: str, url: str) -> None:
        """Register (or re-point) a server at run time; it connects in the background, each
        connection through the outbound guard."""
        existing = self._connections.get(name)
        if existing is not None and existing.url == url:
            return
        if existing is not None:
            existing.close()
        connection = self._new_connection(name, url, registered=True)
        self._connections[name] = connection
        if self._task_group is not None:
            self._task_group.start_soon(connection.run)

    def remove_server(self, name: str) -> bool:
        """Disconnect and forget a server; False when there was none by that name."""
        connection = self._connections.pop(name, None)
        if connection is None:
            return False
        connection.close()
        return True

    def servers(self) -> list[str]:
        return sorted(self._connections)

    def has(self, name: str) -> bool:
        return name in self._connections

    def connection(self, server: str) -> ServerConnection:
        try:
            return self._connections[server]
        except KeyError:
            raise ServerUnavailable(f"no MCP server named '{server}' is registered") from None

    def states(self) -> list[ConnectionState]:
        return [connection.state for connection in self._connections.values()]

    async def wait_ready(self, timeout: float) -> dict[str, bool]:
        """Wait up to `timeout` seconds in all for every server; report which connected."""
        deadline = time.monotonic() + timeout
        results: dict[str, bool] = {}
        for name, connection in self._connections.items():
            results[name] = await connection.wait_ready(max(0.0, deadline - time.monotonic()))
        return results
