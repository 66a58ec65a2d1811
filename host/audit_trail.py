"""The host's audit trail: every policy decision and tool call, written off the hot path.

A turn only appends to an in-memory buffer; a background task writes the buffer to the audit
table in batches. `aclose` writes whatever is left, so shutting down loses nothing; a failed
write keeps its events for the next attempt.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

import anyio
import structlog

from host.caller import Caller
from policies.audit import AuditEvent, arguments_hash
from policies.model import Decision

log = structlog.get_logger(__name__)

_MAX_BUFFERED = 100_000
"""Past this many unwritten events (the database away for long) the oldest are dropped, loudly."""


class AuditSink(Protocol):
    """Where audit events are written (the `AuditLog` table)."""

    async def append(self, *events: AuditEvent) -> None: ...


class AuditTrail:
    """Buffers `AuditEvent`s and appends them to an `AuditLog` in batches."""

    def __init__(self, audit_log: AuditSink, *, batch_size: int = 500, interval_seconds: float = 0.2) -> None:
        self._log = audit_log
        self._batch_size = batch_size
        self._interval = interval_seconds
        self._buffer: deque[AuditEvent] = deque()
        self._wake = anyio.Event()
        self._stopped = anyio.Event()
        self._flush_lock = anyio.Lock()
        self.written = 0

    # -- recording (synchronous, cheap) ------------------------------------------------------

    def record(self, event: AuditEvent) -> None:
        """Queue one event for writing."""
        if len(self._buffer) >= _MAX_BUFFERED:
            dropped = self._buffer.popleft()
            log.error("audit_buffer_overflow", dropped_action=dropped.action, tenant=dropped.tenant_id)
        self._buffer.append(event)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    def decision(
        self,
        caller: Caller,
        resource: str,
        decision: Decision,
        *,
        arguments: Mapping[str, Any] | None = None,
        action: str = "policy.decision",
    ) -> None:
        """A policy decision about `resource` (an agent, a tool, a model) for `caller`."""
        self.record(
            AuditEvent(
                tenant_id=caller.tenant_id,
                principal=caller.subject,
                action=action,
                resource=resource,
                effect=decision.effect,
                rule=decision.rule,
                arguments_hash=arguments_hash(arguments),
                detail={"session_id": caller.session_id} if caller.session_id else {},
            )
        )

    def tool_call(
        self,
        caller: Caller,
        resource: str,
        arguments: Mapping[str, Any],
        *,
        is_error: bool,
        error_code: str | None,
        duration_ms: float,
        rule: str,
    ) -> None:
        """A tool call that ran, with how it ended (never its arguments or result, only a hash)."""
        detail: dict[str, Any] = {"duration_ms": round(duration_ms, 2)}
        if error_code:
            detail["error_code"] = error_code
        if caller.session_id:
            detail["session_id"] = caller.session_id
        self.record(
            AuditEvent(
                tenant_id=caller.tenant_id,
                principal=caller.subject,
                action="tool.call",
                resource=resource,
                effect="error" if is_error else "ok",
                rule=rule,
                arguments_hash=arguments_hash(arguments),
                detail=detail,
            )
        )

    def approval_resolved(
        self,
        approver: Caller,
        requester: Caller,
        resource: str,
        arguments: Mapping[str, Any],
        *,
        approve: bool,
    ) -> None:
        """A person approved or rejected a call `requester`'s turn asked for."""
        self.record(
            AuditEvent(
                tenant_id=requester.tenant_id,
                principal=approver.subject,
                action="approval.resolved",
                resource=resource,
                effect="approved" if approve else "rejected",
                rule="human-approval",
                arguments_hash=arguments_hash(arguments),
                detail={"requested_by": requester.subject},
            )
        )

    @property
    def pending(self) -> int:
        """Events recorded and not yet written."""
        return len(self._buffer)

    # -- writing (background) ----------------------------------------------------------------

    async def run(self) -> None:
        """Write batches until `aclose`; start it in the application's task group."""
        while not self._stopped.is_set():
            with anyio.move_on_after(self._interval):
                await self._wake.wait()
            self._wake = anyio.Event()
            await self.flush()

    async def flush(self) -> None:
        """Write everything buffered now; on failure the events stay buffered for the next try."""
        async with self._flush_lock:
            while self._buffer:
                batch = [self._buffer.popleft() for _ in range(min(self._batch_size, len(self._buffer)))]
                started = time.perf_counter()
                try:
                    await self._log.append(*batch)
                except Exception as exc:  # the database may be away: keep the events, retry later
                    self._buffer.extendleft(reversed(batch))
                    log.warning(
                        "audit_write_failed", events=len(batch), error=f"{type(exc).__name__}: {exc}"[:300]
                    )
                    return
                self.written += len(batch)
                log.debug(
                    "audit_written", events=len(batch), ms=round((time.perf_counter() - started) * 1000, 2)
                )

    async def aclose(self) -> None:
        """Stop the background writer and write what is left."""
        self._stopped.set()
        self._wake.set()
        with anyio.CancelScope(shield=True):
            await self.flush()
            if self._buffer:
                log.error("audit_events_unwritten_at_shutdown", events=len(self._buffer))


class _Discard:
    async def append(self, *events: AuditEvent) -> None:
        return None


class NoAuditTrail(AuditTrail):
    """The audit trail of a host without a database: decisions still apply, nothing is kept."""

    def __init__(self) -> None:
        super().__init__(_Discard())

    def record(self, event: AuditEvent) -> None:
        return None
