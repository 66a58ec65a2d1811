"""Delivering events to tenants' webhooks: signed, retried with backoff, dead after N failures.

Two loops run in every gateway replica. One is a member of the bus's durable `webhooks`
consumer of every tenant's events: it turns each event into deliveries for the webhooks of the
tenant its subject names (never the tenant a payload claims) and acknowledges it once they are
stored. The other takes due deliveries (leased, so one replica makes each attempt) and POSTs
the CloudEvent in structured mode (`application/cloudevents+json`), signed per Standard Webhooks,
through the outbound guard, no redirects followed. A 2xx delivers it; anything else is retried
after `base * 2^(attempt-1)` seconds (at most an hour), and after `webhook_max_attempts` the
delivery is dead. Each attempt is logged on the delivery for the admin API.
"""

from __future__ import annotations

import json
import time

import anyio
import httpx2
import structlog

from agentmesh.bus import BusMessage, MessageBus, PermanentFailure, now, run_consumer
from agentmesh.cloudevents import CloudEvent
from agentmesh.errors import AgentmeshError
from agentmesh.settings import Settings
from gateway.webhook_signature import signature_headers
from gateway.webhooks import DeliveryAttempt, DueDelivery, WebhookStore

log = structlog.get_logger(__name__)

CONSUMER = "webhooks"
CONTENT_TYPE = "application/cloudevents+json"
MAX_BACKOFF_SECONDS = 3600.0
BATCH = 16
IDLE_SECONDS = 0.25
MAX_ERROR_CHARS = 300


class WebhookDispatcher:
    """Fans events out to deliveries and sends them."""

    def __init__(
        self, store: WebhookStore, bus: MessageBus, client: httpx2.AsyncClient, settings: Settings
    ) -> None:
        self._store = store
        self._bus = bus
        self._client = client
        self._settings = settings

    async def run(self) -> None:
        """Both loops, until cancelled."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._fan_out)
            group.start_soon(self._send_due)

    async def _fan_out(self) -> None:
        settings = self._settings
        await run_consumer(
            await self._bus.consumer(CONSUMER, "events"),
            self._on_event,
            max_attempts=settings.bus_max_attempts,
            retry_base_seconds=settings.bus_retry_base_seconds,
            ack_wait_seconds=settings.bus_ack_wait_seconds,
        )

    async def _on_event(self, message: BusMessage) -> None:
        event = CloudEvent.model_validate(message.body)
        if event.tenantid != message.tenant_id:
            raise PermanentFailure(f"an event on {message.tenant_id}'s subject names tenant {event.tenantid}")
        await self._store.fan_out(message.tenant_id, event)

    async def _send_due(self) -> None:
        lease = self._settings.webhook_timeout_seconds * 2
        while True:
            # Shielded: a read cancelled halfway (the gateway stopping) leaves its pooled
            # connection to a clean-up that can outlive the event loop and hang the shutdown.
            with anyio.CancelScope(shield=True):
                due = await self._store.take_due(limit=BATCH, lease_seconds=lease)
            if not due:
                await anyio.sleep(IDLE_SECONDS)
                continue
            async with anyio.create_task_group() as group:
                for delivery in due:
                    group.start_soon(self._attempt, delivery)

    async def _attempt(self, delivery: DueDelivery) -> None:
        body = json.dumps(delivery.event, separators=(",", ":"), ensure_ascii=False).encode()
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        headers = {
            "Content-Type": CONTENT_TYPE,
            **signature_headers(delivery.secret, delivery.id, int(now()), body),
        }
        try:
            response = await self._client.post(delivery.url, content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"the receiver answered {status}"
        except AgentmeshError as exc:  # the outbound guard refused the connection
            error = exc.message
        except httpx2.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        attempt = DeliveryAttempt(
            at=now(), status=status, error=error, duration_ms=round((time.perf_counter() - started) * 1000, 1)
        )
        made = delivery.attempts + 1
        retry_at = None
        if error is not None and made < self._settings.webhook_max_attempts:
            retry_at = now() + min(
                MAX_BACKOFF_SECONDS, self._settings.webhook_retry_base_seconds * 2 ** (made - 1)
            )
        state = await self._store.record(delivery, attempt, delivered=error is None, retry_at=retry_at)
        if state == "dead":
            log.warning("webhook_dead", tenant_id=delivery.tenant_id, delivery_id=delivery.id, error=error)
