"""Tenants' webhooks and their delivery log in the platform database.

A tenant admin registers a URL for some event types; the URL must pass the platform's outbound
guard when it is saved (and again at every connection, `gateway.webhook_delivery`). Each event
of the tenant becomes one delivery per matching webhook, keyed by (webhook, event id) so an
event the bus delivers twice is sent once; the delivery row is its log: every attempt with its
status or error, when the next one is due, and whether it was delivered or is dead. Everything
is read and written within one tenant: another tenant's webhook is simply not found.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.bus import now
from agentmesh.cloudevents import EVENT_TYPES, CloudEvent, EventType
from agentmesh.errors import AgentmeshError
from agentmesh.outbound import OutboundGuard
from agentmesh.secrets import SecretBox
from agentmesh.tenant_rows import TenantRows, delete_declared
from gateway.tables import WebhookDeliveryRow, WebhookRow
from gateway.webhook_signature import new_secret

DeliveryState = Literal["pending", "delivered", "dead"]
MAX_WEBHOOKS_PER_TENANT = 20
MAX_LOGGED_ATTEMPTS = 30


class WebhookNotFound(AgentmeshError):
    code = "webhook_not_found"


class InvalidWebhook(AgentmeshError):
    code = "invalid_webhook"


class WebhookIn(BaseModel):
    """A webhook to register."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="where events are POSTed (http or https)")
    events: list[EventType] = Field(
        min_length=1, description="the event types to send: " + ", ".join(EVENT_TYPES)
    )
    description: str | None = Field(default=None, max_length=300)

    @field_validator("events")
    @classmethod
    def _once_each(cls, events: list[EventType]) -> list[EventType]:
        return sorted(set(events))


class WebhookView(BaseModel):
    """A registered webhook (never its secret)."""

    id: str
    url: str
    events: list[str]
    description: str | None
    created_by: str
    created_at: datetime


class WebhookCreated(WebhookView):
    """A new webhook with its signing secret, shown this once."""

    secret: str = Field(description="the HMAC-SHA256 key (Standard Webhooks `whsec_…`): store it now")


class WebhookList(BaseModel):
    webhooks: list[WebhookView]


class DeliveryAttempt(BaseModel):
    at: float = Field(description="Unix time of the attempt")
    status: int | None = Field(description="the receiver's HTTP status, if it answered")
    error: str | None = Field(description="why the attempt failed, if it did")
    duration_ms: float


class DeliveryView(BaseModel):
    """One event for one webhook, with every attempt so far."""

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    state: DeliveryState
    attempts: int
    next_attempt_at: float | None = Field(description="Unix time of the next attempt, while pending")
    last_status: int | None
    last_error: str | None
    created_at: float
    delivered_at: float | None
    log: list[DeliveryAttempt]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]


class DueDelivery(BaseModel):
    """A delivery taken for an attempt, with what sending it needs."""

    id: str
    tenant_id: str
    attempts: int
    url: str
    secret: str
    event: dict[str, Any]


def _view(row: WebhookRow) -> WebhookView:
    return WebhookView(
        id=row.id,
        url=row.url,
        events=list(row.event_types),
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _delivery(row: WebhookDeliveryRow) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        webhook_id=row.webhook_id,
        event_id=row.event_id,
        event_type=row.event_type,
        state=row.state,  # type: ignore[arg-type]
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.state == "pending" else None,
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        log=[DeliveryAttempt.model_validate(entry) for entry in row.log],
    )


class WebhookStore:
    """Webhooks and deliveries, always within one tenant."""

    TENANT_ROWS = (
        TenantRows("webhook_deliveries"),
        TenantRows("webhooks", secrets=("secret_sealed",)),
    )

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], secrets: SecretBox, *, outbound: OutboundGuard
    ) -> None:
        self._sessions = sessions
        self._secrets = secrets
        self._outbound = outbound

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)

    async def create(self, tenant_id: str, webhook: WebhookIn, *, created_by: str) -> WebhookCreated:
        """Register a webhook; its URL must be one the platform calls for tenants (400 with why)."""
        await self._outbound.check(webhook.url)
        secret = new_secret()
        row = WebhookRow(
            id=f"wh_{uuid.uuid4().hex}",
            tenant_id=tenant_id,
            url=webhook.url,
            event_types=list(webhook.events),
            description=webhook.description,
            secret_sealed=self._secrets.seal(secret),
            created_by=created_by,
            created_at=datetime.now(UTC),
        )
        async with self._sessions() as db, db.begin():
            count = len(
                (await db.execute(select(WebhookRow.id).where(WebhookRow.tenant_id == tenant_id))).all()
            )
            if count >= MAX_WEBHOOKS_PER_TENANT:
                raise InvalidWebhook(f"a tenant has at most {MAX_WEBHOOKS_PER_TENANT} webhooks")
            db.add(row)
        return WebhookCreated(**_view(row).model_dump(), secret=secret)

    async def of_tenant(self, tenant_id: str) -> list[WebhookView]:
        query = select(WebhookRow).where(WebhookRow.tenant_id == tenant_id).order_by(WebhookRow.created_at)
        async with self._sessions() as db:
            return [_view(row) for row in (await db.execute(query)).scalars()]

    async def delete(self, tenant_id: str, webhook_id: str) -> None:
        """Remove the webhook and its log; what is still pending is not sent."""
        async with self._sessions() as db, db.begin():
            removed = await db.execute(
                delete(WebhookRow).where(WebhookRow.id == webhook_id, WebhookRow.tenant_id == tenant_id)
            )
            if removed.rowcount == 0:  # type: ignore[attr-defined]
                raise WebhookNotFound(f"no webhook '{webhook_id}'")

    async def deliveries(self, tenant_id: str, webhook_id: str, *, limit: int = 100) -> list[DeliveryView]:
        """The webhook's deliveries, newest first."""
        async with self._sessions() as db:
            webhook = await db.get(WebhookRow, webhook_id)
            if webhook is None or webhook.tenant_id != tenant_id:
                raise WebhookNotFound(f"no webhook '{webhook_id}'")
            query = (
                select(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.webhook_id == webhook_id, WebhookDeliveryRow.tenant_id == tenant_id)
                .order_by(WebhookDeliveryRow.created_at.desc())
                .limit(limit)
            )
            return [_delivery(row) for row in (await db.execute(query)).scalars()]

    async def fan_out(self, tenant_id: str, event: CloudEvent) -> int:
        """One pending delivery per webhook of the tenant that wants the event; how many are new."""
        async with self._sessions() as db:
            hooks = (await db.execute(select(WebhookRow).where(WebhookRow.tenant_id == tenant_id))).scalars()
            wanted = [hook.id for hook in hooks if event.event_type in hook.event_types]
        created = 0
        moment = now()
        for webhook_id in wanted:
            row = WebhookDeliveryRow(
                id=f"msg_{uuid.uuid4().hex}",
                tenant_id=tenant_id,
                webhook_id=webhook_id,
                event_id=event.id,
                event_type=event.event_type,
                event=event.model_dump(mode="json"),
                state="pending",
                attempts=0,
                next_attempt_at=moment,
                log=[],
                created_at=moment,
            )
            try:
                async with self._sessions() as db, db.begin():
                    db.add(row)
            except IntegrityError:
                continue  # this event is already on its way to this webhook (or it was just deleted)
            created += 1
        return created

    async def take_due(self, *, limit: int, lease_seconds: float) -> list[DueDelivery]:
        """Up to `limit` deliveries due now, each leased to this process for one attempt."""
        moment = now()
        due = (
            select(WebhookDeliveryRow.id)
            .where(
                WebhookDeliveryRow.state == "pending",
                WebhookDeliveryRow.next_attempt_at <= moment,
                or_(WebhookDeliveryRow.lease_until.is_(None), WebhookDeliveryRow.lease_until <= moment),
            )
            .order_by(WebhookDeliveryRow.next_attempt_at)
            .limit(limit)
        )
        taken: list[DueDelivery] = []
        async with self._sessions() as db, db.begin():
            for delivery_id in (await db.execute(due)).scalars().all():
                # Conditional: of two replicas taking the same delivery, one attempt is made.
                claimed = await db.execute(
                    update(WebhookDeliveryRow)
                    .where(
                        WebhookDeliveryRow.id == delivery_id,
                        WebhookDeliveryRow.state == "pending",
                        or_(
                            WebhookDeliveryRow.lease_until.is_(None), WebhookDeliveryRow.lease_until <= moment
                        ),
                    )
                    .values(lease_until=moment + lease_seconds)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                row = await db.get(WebhookDeliveryRow, delivery_id)
                hook = await db.get(WebhookRow, row.webhook_id) if row is not None else None
                if row is None or hook is None:
                    continue
                taken.append(
                    DueDelivery(
                        id=row.id,
                        tenant_id=row.tenant_id,
                        attempts=row.attempts,
                        url=hook.url,
                        secret=self._secrets.open(hook.secret_sealed),
                        event=row.event,
                    )
                )
        return taken

    async def record(
        self,
        delivery: DueDelivery,
        attempt: DeliveryAttempt,
        *,
        delivered: bool,
        retry_at: float | None,
    ) -> DeliveryState:
        """Log one attempt: delivered, pending until `retry_at`, or (no `retry_at`) dead."""
        state: DeliveryState = "delivered" if delivered else ("pending" if retry_at is not None else "dead")
        async with self._sessions() as db, db.begin():
            row = await db.get(WebhookDeliveryRow, delivery.id)
            if row is None:
                return state  # its webhook was deleted meanwhile
            row.log = [*row.log, attempt.model_dump()][-MAX_LOGGED_ATTEMPTS:]
            row.attempts, row.state, row.lease_until = delivery.attempts + 1, state, None
            row.last_status, row.last_error = attempt.status, attempt.error
            if delivered:
                row.delivered_at = attempt.at
            if retry_at is not None:
                row.next_attempt_at = retry_at
        return state
