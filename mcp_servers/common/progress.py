"""Progress of a long tool call, told to the client that asked for it (a `progressToken`).

A tool that works in a worker thread (embedding chunks, reading pages) reports through
`ToolProgress.in_thread()`, a plain callable that hands each step back to the event loop; a
client that sent no `progressToken` gets nothing, and its call costs nothing more. Each step is
also a `notifications/message` at `info`, for clients that show logs rather than progress bars
(filtered by the level the client chose, `client_logging`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import anyio.from_thread
from mcp.server.mcpserver import Context

from mcp_servers.common.client_logging import ClientLogLevels, log_to_client

StepReport = Callable[[float, float | None, str], None]
"""`report(done, total, message)`, callable from a worker thread."""


class ToolProgress:
    """Reports the steps of one tool call to its client, from the loop or from a worker thread."""

    def __init__(self, ctx: Context[Any, Any] | None, levels: ClientLogLevels, *, logger: str) -> None:
        self._ctx = ctx
        self._levels = levels
        self._logger = logger

    async def step(self, done: float, total: float | None, message: str) -> None:
        if self._ctx is None:
            return
        await self._ctx.report_progress(done, total, message)
        await log_to_client(self._levels, self._ctx, "info", message, logger=self._logger)

    def in_thread(self) -> StepReport:
        """A callable for a worker thread started by `anyio.to_thread.run_sync`."""

        def report(done: float, total: float | None, message: str) -> None:
            anyio.from_thread.run(functools.partial(self.step, done, total, message))

        return report
