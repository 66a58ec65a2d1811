"""The host's view of its stored configuration, reloaded only when another writer moved it.

Agents, tool pins and registered MCP servers can change on any replica (through the admin API).
Before each turn the host reads the configuration versions (one small shared query, see
`host.config_versions`) and reloads exactly what moved: the agent registry, the accepted tool
pins, or the pool's servers (through `on_servers_changed`, which the gateway sets). Tenant LLM
settings are reloaded by the model registry, which is handed the `llm` version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import structlog

from host.agent_store import AgentStore
from host.agents import AgentConfig, AgentRegistry
from host.catalog import ToolCatalog
from host.config_versions import ConfigVersions

log = structlog.get_logger(__name__)

ServersChanged = Callable[[], Awaitable[None]]


async def _nothing_changed() -> None:
    return None


class HostConfig:
    """The agent registry in force, and the reloads that keep it and the catalog current.

    Without a database (`versions` None) the agents given at construction are the configuration.
    """

    def __init__(
        self,
        agents: list[AgentConfig],
        *,
        catalog: ToolCatalog,
        versions: ConfigVersions | None = None,
        agent_store: AgentStore | None = None,
    ) -> None:
        self.registry = AgentRegistry(agents)
        self._seed = agents
        self._catalog = catalog
        self._versions = versions
        self._agent_store = agent_store
        self._seen: dict[str, int] = {}
        self._lock = anyio.Lock()
        self.on_servers_changed: ServersChanged = _nothing_changed
        """Re-reads the registered MCP servers when another replica changed them (set by the gateway)."""

    async def start(self) -> None:
        """Create the version counters and seed an empty agent store with the agents given."""
        if self._versions is not None:
            await self._versions.ensure()
        if self._agent_store is not None:
            await self._agent_store.seed(self._seed)
        await self.refresh()

    async def refresh(self) -> dict[str, int]:
        """The current versions, after reloading what changed since the last call."""
        if self._versions is None:
            return {}
        current = await self._versions.current()
        if current == self._seen:
            return current
        async with self._lock:
            if self._agent_store is not None and current["agents"] != self._seen.get("agents"):
                self.registry = AgentRegistry(await self._agent_store.list())
                log.info("agents_reloaded", version=current["agents"], agents=len(self.registry.all()))
            if current["pins"] != self._seen.get("pins"):
                await self._catalog.reload_pins()
            if current["servers"] != self._seen.get("servers"):
                await self.on_servers_changed()
            self._seen = current
        return current
