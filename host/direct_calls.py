"""Single tool calls outside a chat turn: the gateway's `/mcp` proxy and the admin API's uploads.

The same rules as a call inside a turn: the tool must be in the caller's tenant's catalog (others'
tools and withheld pins are not found), the tenant's policy decides and the decision is audited,
the server receives an audience-bound mesh token for the caller. A call that needs a person's
approval is refused here: only a chat turn can pause to ask for one.
"""

from __future__ import annotations

from typing import Any

from mcp.shared.dispatcher import ProgressFnT

from host import refusals
from host.authorizer import Authorizer
from host.caller import Caller
from host.catalog import ToolCatalog
from host.config_sync import HostConfig
from host.executor import ToolOutcome
from host.mcp_pool import McpPool
from host.steps import ToolRunner


class DirectCalls:
    """Policy-checked, audited single calls for a caller."""

    def __init__(
        self,
        *,
        config: HostConfig,
        pool: McpPool,
        catalog: ToolCatalog,
        authorizer: Authorizer,
        runner: ToolRunner,
        timeout_seconds: float,
    ) -> None:
        self._config = config
        self._pool = pool
        self._catalog = catalog
        self._authorizer = authorizer
        self._runner = runner
        self._timeout = timeout_seconds

    async def call(
        self,
        caller: Caller,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        progress: ProgressFnT | None = None,
    ) -> ToolOutcome:
        """Call `server:tool` for `caller`; refusals and failures come back as error outcomes.

        `progress` receives the server's progress notifications for the call, if it sends any."""
        await self._config.refresh()
        await self._catalog.ensure_fresh([server] if server in self._pool.servers() else [])
        spec = self._catalog.find(server, tool)
        if spec is None or not spec.visible_to(caller.tenant_id) or self._catalog.is_withheld(spec):
            return refusals.tool_not_found(f"{server}:{tool}")
        decision = self._authorizer.call_tool(caller, spec, arguments)
        if decision.effect == "deny":
            return refusals.denied(decision.reason)
        if decision.effect == "approve":
            return refusals.approval_required(spec.qualified_name)
        outcome = await self._runner.call(
            caller, spec, arguments, granted=frozenset({spec.name}), timeout=self._timeout, progress=progress
        )
        self._authorizer.audit.tool_call(
            caller,
            spec.qualified_name,
            arguments,
            is_error=outcome.is_error,
            error_code=outcome.error_code,
            duration_ms=outcome.duration_ms,
            rule=decision.rule,
        )
        return outcome
