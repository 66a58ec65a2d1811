"""Platform events as CloudEvents 1.0 (JSON, structured mode), published on the tenant's subjects.

What happens to a tenant that someone may want to be told about (an approval requested or
decided, an ingestion finished or failed, a budget threshold crossed, a server's circuit opened)
is one `CloudEvent` on `<prefix>.<tenant>.events.<type>`. The webhook dispatcher delivers them;
any other consumer of the bus may read them too. Publishing never fails the work that caused
it: an event that cannot be published is logged, the work stands.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field

from agentmesh.bus import BusUnavailable, MessageBus

log = structlog.get_logger(__name__)

EventType = Literal[
    "approval.requested",
    "approval.decided",
    "ingestion.finished",
    "ingestion.failed",
    "budget.threshold",
    "circuit.opened",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "approval.requested",
    "approval.decided",
    "ingestion.finished",
    "ingestion.failed",
    "budget.threshold",
    "circuit.opened",
)
TYPE_NAMESPACE = "dev.agentmesh."


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event in its JSON format; `tenantid` is an extension attribute."""

    model_config = ConfigDict(extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(description="unique per source; a repeated event keeps its id")
    source: str = Field(description="the part of the platform that saw it, e.g. /agentmesh/host")
    type: str = Field(description="dev.agentmesh.<event type>, e.g. dev.agentmesh.approval.requested")
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    subject: str | None = Field(default=None, description="what it is about: an approval id, a job id")
    tenantid: str
    data: dict[str, Any]

    @property
    def event_type(self) -> str:
        """The type without its namespace, as webhooks subscribe to it."""
        return self.type.removeprefix(TYPE_NAMESPACE)


class EventPublisher:
    """Publishes one part of the platform's events on the bus."""

    def __init__(self, bus: MessageBus, source: str) -> None:
        self._bus = bus
        self._source = source

    async def publish(
        self,
        tenant_id: str,
        type: EventType,
        data: dict[str, Any],
        *,
        subject: str | None = None,
        event_id: str | None = None,
    ) -> CloudEvent:
        """Publish the event; `event_id` makes a repeated observation (another replica's) the same event."""
        event = CloudEvent(
            id=event_id or uuid.uuid4().hex,
            source=self._source,
            type=TYPE_NAMESPACE + type,
            time=datetime.now(UTC),
            subject=subject,
            tenantid=tenant_id,
            data=data,
        )
        try:
            await self._bus.publish("events", tenant_id, type, event.model_dump(mode="json"), msg_id=event.id)
        except BusUnavailable as exc:
            log.warning("event_not_published", tenant_id=tenant_id, type=type, reason=exc.message)
        return event
