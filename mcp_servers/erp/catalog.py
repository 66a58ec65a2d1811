"""The ERP server's current tools: the repository's YAML tools plus those stored in the database.

The gateway and the ERP server are separate processes sharing the database, so the server
watches the store's catalog version (one small row, polled every second) and reloads the
stored tools when it moves, then tells listening clients that the tool list changed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import anyio
import structlog

from mcp_servers.erp.tool_config import HttpToolConfig
from mcp_servers.erp.tool_store import ToolConfigStore

log = structlog.get_logger(__name__)

POLL_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class CatalogEntry:
    """A tool as served: its configuration, its owner (`None`: every tenant) and where it came from."""

    config: HttpToolConfig
    tenant_id: str | None
    source: Literal["repository", "database"]


class ToolCatalog:
    """A snapshot of every configured tool, replaced whole when the stored tools change."""

    def __init__(self, builtin: list[HttpToolConfig], store: ToolConfigStore) -> None:
        self._builtin = {config.name: CatalogEntry(config, None, "repository") for config in builtin}
        self._store = store
        self._entries: dict[str, CatalogEntry] = dict(self._builtin)
        self._version: int | None = None

    def get(self, name: str) -> CatalogEntry | None:
        return self._entries.get(name)

    def entries(self) -> list[CatalogEntry]:
        return [self._entries[name] for name in sorted(self._entries)]

    async def refresh(self) -> bool:
        """Reload the stored tools if the catalog version moved; returns whether anything was reloaded."""
        version = await self._store.version()
        if version == self._version:
            return False
        entries = dict(self._builtin)
        for stored in await self._store.list_all():
            if stored.config.name in entries:
                log.warning(
                    "erp_tool_shadowed", tool=stored.config.name, reason="a built-in tool has this name"
                )
                continue
            entries[stored.config.name] = CatalogEntry(stored.config, stored.tenant_id, "database")
        self._entries = entries
        self._version = version
        log.info("erp_catalog_loaded", version=version, tools=len(entries))
        return True

    async def watch(
        self, on_change: Callable[[], Awaitable[None]], *, interval: float = POLL_INTERVAL_SECONDS
    ) -> None:
        """Poll for changes until cancelled, calling `on_change` after each reload."""
        while True:
            await anyio.sleep(interval)
            try:
                changed = await self.refresh()
            except Exception as exc:  # the database may be briefly away: keep the last catalog, try again
                log.warning("erp_catalog_refresh_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                continue
            if changed:
                await on_change()
