"""The message bus: tenant-scoped streams of work and events, with durable consumers.

Two engines keep the same interface and the URL decides (`agentmesh.bus_engine.open_bus`): NATS
JetStream when `AGENTMESH_NATS_URL` is set (`agentmesh.bus_nats`), else a durable queue in the
platform database (`agentmesh.bus_sql`). Everything above the bus (ingestion jobs, events, webhooks) is
written against `MessageBus` alone.

Subjects are `<prefix>.<tenant>.<stream>.<type>` (`agentmesh.acme.events.approval.requested`).
The tenant is a subject token taken from the verified context of the publisher, never from a
payload, and a consumer opened for one tenant filters on that token: it cannot see another
tenant's messages. Platform consumers (the webhook dispatcher, the ingestion worker) open
with `tenant_id=None` and must act on each message within the tenant its subject names.

Delivery is at least once: a message is acknowledged only after its work is stored, is
delivered again when its consumer dies (the lease of `ack_wait` runs out) or asks for a retry,
and after `max_attempts` deliveries goes to the `dead` stream with the reason. `run_consumer`
is that policy, the same for every engine.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

import anyio
import structlog
from pydantic import BaseModel, Field

from agentmesh.errors import AgentmeshError

log = structlog.get_logger(__name__)

Stream = Literal["jobs", "events", "dead"]
STREAMS: tuple[Stream, ...] = ("jobs", "events", "dead")


class BusUnavailable(AgentmeshError):
    """The bus cannot be reached (NATS down, database unreachable)."""

    code = "bus_unavailable"
    retryable = True


class PermanentFailure(AgentmeshError):
    """A handler's failure that another delivery cannot cure: the message goes to the dead letters now."""

    code = "permanent_failure"


class BusMessage(BaseModel):
    """A message as a consumer receives it."""

    stream: Stream
    tenant_id: str
    type: str
    msg_id: str
    body: dict[str, Any]
    attempt: int = Field(description="this delivery's number, 1 for the first")


class DeadLetter(BaseModel):
    """A message that failed `max_attempts` times (or permanently), with why."""

    stream: Stream
    tenant_id: str
    type: str
    msg_id: str
    body: dict[str, Any]
    consumer: str
    attempts: int
    reason: str


def dead_letter(message: BusMessage, consumer: str, reason: str) -> DeadLetter:
    return DeadLetter(
        stream=message.stream,
        tenant_id=message.tenant_id,
        type=message.type,
        msg_id=message.msg_id,
        body=message.body,
        consumer=consumer,
        attempts=message.attempt,
        reason=reason,
    )


async def publish_dead_letter(bus: MessageBus, letter: DeadLetter) -> None:
    """Store `letter` on the dead stream, once per consumer and message."""
    await bus.publish(
        "dead",
        letter.tenant_id,
        f"{letter.stream}.{letter.type}",
        letter.model_dump(mode="json"),
        msg_id=f"{letter.consumer}:{letter.msg_id}",
    )


class Delivery(Protocol):
    """One delivery of a message to a consumer; settle it exactly once."""

    @property
    def message(self) -> BusMessage: ...

    async def ack(self) -> None:
        """The work is stored: the message is done for this consumer."""

    async def retry(self, delay_seconds: float) -> None:
        """Deliver the message again after `delay_seconds`."""

    async def dead(self, reason: str) -> None:
        """Give up: the message goes to the dead-letter stream with `reason`."""

    async def in_progress(self) -> None:
        """Still working: extend the lease so the message is not given to another consumer."""


class Consumer(Protocol):
    """A durable consumer: every message of its stream (and tenant, if given) reaches one of the
    processes that open a consumer of the same name."""

    async def next(self, timeout: float) -> Delivery | None:
        """The next delivery, or None when none came within `timeout` seconds."""


class MessageBus(Protocol):
    async def publish(
        self, stream: Stream, tenant_id: str, type: str, body: dict[str, Any], *, msg_id: str
    ) -> None:
        """Store `body` on the stream under `tenant_id`; the same `msg_id` twice is stored once."""

    async def consumer(self, name: str, stream: Stream, *, tenant_id: str | None = None) -> Consumer:
        """The durable consumer `name` of `stream`, of one tenant's messages or (None) of all."""

    async def dead_letters(self, tenant_id: str, *, limit: int = 100) -> list[DeadLetter]:
        """The tenant's dead letters, oldest first."""

    async def purge_tenant(self, tenant_id: str) -> None:
        """Delete every message of the tenant (tenant deletion)."""

    async def aclose(self) -> None: ...


def subject_token(tenant_id: str) -> str:
    """The tenant as one subject token: '.', '*', '>' and whitespace would split or widen a subject."""
    if not tenant_id or any(ch in tenant_id for ch in ".*> \t\r\n"):
        raise ValueError(f"tenant id {tenant_id!r} cannot name a subject")
    return tenant_id


def subject(prefix: str, tenant_id: str, stream: Stream, type: str) -> str:
    return f"{prefix}.{subject_token(tenant_id)}.{stream}.{type}"


Handler = Callable[[BusMessage], Awaitable[None]]
DeadHandler = Callable[[BusMessage, str], Awaitable[None]]


async def _nothing_more(message: BusMessage, reason: str) -> None:
    return None


async def run_consumer(
    consumer: Consumer,
    handler: Handler,
    *,
    max_attempts: int,
    retry_base_seconds: float,
    ack_wait_seconds: float,
    on_dead: DeadHandler = _nothing_more,
    poll_seconds: float = 1.0,
) -> None:
    """Handle deliveries one at a time, forever: ack after `handler` returns, retry with exponential
    backoff when it raises, dead-letter after `max_attempts` (or at once on `PermanentFailure`).

    While the handler runs, the lease is extended every third of `ack_wait_seconds`, so only a
    dead worker's message is delivered elsewhere. `on_dead` learns of each message given up
    (after it is in the dead-letter stream), to record the outcome where people look for it."""
    while True:
        try:
            delivery = await consumer.next(poll_seconds)
        except BusUnavailable as exc:
            log.warning("bus_unavailable", reason=str(exc))
            await anyio.sleep(poll_seconds)
            continue
        if delivery is not None:
            await _settle(delivery, handler, on_dead, max_attempts, retry_base_seconds, ack_wait_seconds)


async def _settle(
    delivery: Delivery,
    handler: Handler,
    on_dead: DeadHandler,
    max_attempts: int,
    retry_base_seconds: float,
    ack_wait: float,
) -> None:
    message = delivery.message
    failure = await _handled(delivery, handler, ack_wait)
    if failure is None:
        await delivery.ack()
        return
    if isinstance(failure, PermanentFailure):
        await delivery.dead(failure.message)
        await on_dead(message, failure.message)
        return
    reason = (
        failure.message if isinstance(failure, AgentmeshError) else f"{type(failure).__name__}: {failure}"
    )
    if message.attempt >= max_attempts:
        reason = f"failed {message.attempt} times; last: {reason}"
        log.warning(
            "bus_dead_letter",
            stream=message.stream,
            tenant_id=message.tenant_id,
            msg_id=message.msg_id,
            reason=reason,
        )
        await delivery.dead(reason)
        await on_dead(message, reason)
    else:
        log.info("bus_retry", msg_id=message.msg_id, attempt=message.attempt, reason=reason)
        await delivery.retry(retry_base_seconds * 2 ** (message.attempt - 1))


async def _handled(delivery: Delivery, handler: Handler, ack_wait: float) -> Exception | None:
    """Run the handler, extending the lease meanwhile; the failure it raised, if any."""

    async def extend() -> None:
        while True:
            await anyio.sleep(ack_wait / 3)
            await delivery.in_progress()

    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(extend)
        try:
            await handler(delivery.message)
        except Exception as exc:  # any failure of the work: retried, then dead-lettered with its reason
            failure = exc
        finally:
            group.cancel_scope.cancel()
    return failure


def now() -> float:
    return time.time()
