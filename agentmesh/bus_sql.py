"""The embedded message bus: streams and durable consumers in the platform database.

The default when no NATS URL is configured: the SQLite file of the data directory (or the
configured PostgreSQL), so work and events survive a restart of every process with nothing
else installed. A message is a `bus_messages` row; a consumer takes one by writing its
`bus_deliveries` row with a lease, in a conditional statement, so of two processes taking the
same message exactly one wins. A lease that runs out (the worker died) makes the message
available again, like JetStream's ack wait.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.bus import (
    BusMessage,
    BusUnavailable,
    DeadLetter,
    Delivery,
    Stream,
    dead_letter,
    now,
    publish_dead_letter,
)
from agentmesh.tables import BusDeliveryRow, BusMessageRow
from agentmesh.tenant_rows import TenantRows, delete_declared

POLL_SECONDS = 0.2


class SqlBus:
    """`MessageBus` over the platform database."""

    TENANT_ROWS = (TenantRows("bus_deliveries"), TenantRows("bus_messages"))

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, ack_wait_seconds: float) -> None:
        self._sessions = sessions
        self._ack_wait = ack_wait_seconds

    async def publish(
        self, stream: Stream, tenant_id: str, type: str, body: dict[str, Any], *, msg_id: str
    ) -> None:
        row = {
            "stream": stream,
            "tenant_id": tenant_id,
            "type": type,
            "msg_id": msg_id,
            "body": body,
            "published_at": datetime.now(UTC),
        }
        try:
            async with self._sessions() as db, db.begin():
                await db.execute(insert(BusMessageRow).values(**row))
        except IntegrityError:
            return  # already published under this id: stored once
        except OperationalError as exc:
            raise BusUnavailable(f"the database queue cannot be written: {exc.orig}") from exc

    async def consumer(self, name: str, stream: Stream, *, tenant_id: str | None = None) -> SqlConsumer:
        return SqlConsumer(self, name, stream, tenant_id)

    async def dead_letters(self, tenant_id: str, *, limit: int = 100) -> list[DeadLetter]:
        query = (
            select(BusMessageRow)
            .where(BusMessageRow.stream == "dead", BusMessageRow.tenant_id == tenant_id)
            .order_by(BusMessageRow.seq)
            .limit(limit)
        )
        async with self._sessions() as db:
            return [DeadLetter.model_validate(row.body) for row in (await db.execute(query)).scalars()]

    async def purge_tenant(self, tenant_id: str) -> None:
        async with self._sessions() as db, db.begin():
            await self.delete_tenant(db, tenant_id)

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        """Delete the tenant's messages (their deliveries cascade) in `db`'s transaction."""
        return await delete_declared(db, self.TENANT_ROWS, tenant_id)

    async def aclose(self) -> None:
        return None  # the sessions belong to the process's engine, closed by its owner

    async def _take(self, name: str, stream: Stream, tenant_id: str | None) -> SqlDelivery | None:
        moment = now()
        taken = BusDeliveryRow.__table__.alias("taken")
        query = (
            select(BusMessageRow, taken.c.attempts, taken.c.state)
            .outerjoin(taken, and_(taken.c.seq == BusMessageRow.seq, taken.c.consumer == name))
            .where(
                BusMessageRow.stream == stream,
                or_(
                    taken.c.seq.is_(None),
                    and_(
                        taken.c.state == "pending",
                        taken.c.available_at <= moment,
                        or_(taken.c.lease_until.is_(None), taken.c.lease_until <= moment),
                    ),
                ),
            )
            .order_by(BusMessageRow.seq)
            .limit(1)
        )
        if tenant_id is not None:
            query = query.where(BusMessageRow.tenant_id == tenant_id)
        lease = moment + self._ack_wait
        try:
            async with self._sessions() as db, db.begin():
                found = (await db.execute(query)).first()
                if found is None:
                    return None
                message, attempts = found[0], found[1]
                if attempts is None:
                    values = {
                        "consumer": name,
                        "seq": message.seq,
                        "tenant_id": message.tenant_id,
                        "state": "pending",
                        "attempts": 1,
                        "lease_until": lease,
                        "available_at": moment,
                    }
                    try:
                        async with db.begin_nested():
                            await db.execute(insert(BusDeliveryRow).values(**values))
                    except IntegrityError:
                        return None  # another process took it first
                    attempt = 1
                else:
                    claimed = await db.execute(
                        update(BusDeliveryRow)
                        .where(
                            BusDeliveryRow.consumer == name,
                            BusDeliveryRow.seq == message.seq,
                            BusDeliveryRow.attempts == attempts,
                            BusDeliveryRow.state == "pending",
                        )
                        .values(attempts=attempts + 1, lease_until=lease)
                    )
                    if claimed.rowcount != 1:  # type: ignore[attr-defined]
                        return None
                    attempt = attempts + 1
        except OperationalError as exc:
            raise BusUnavailable(f"the database queue cannot be read: {exc.orig}") from exc
        delivered = BusMessage(
            stream=stream,
            tenant_id=message.tenant_id,
            type=message.type,
            msg_id=message.msg_id,
            body=message.body,
            attempt=attempt,
        )
        return SqlDelivery(self, name, message.seq, delivered)

    async def _settle(self, name: str, seq: int, attempt: int, **values: Any) -> None:
        # Only the holder of this attempt settles it: a worker whose lease ran out and whose
        # message went to another cannot acknowledge the other's delivery.
        async with self._sessions() as db, db.begin():
            await db.execute(
                update(BusDeliveryRow)
                .where(
                    BusDeliveryRow.consumer == name,
                    BusDeliveryRow.seq == seq,
                    BusDeliveryRow.attempts == attempt,
                )
                .values(**values)
            )


class SqlConsumer:
    def __init__(self, bus: SqlBus, name: str, stream: Stream, tenant_id: str | None) -> None:
        self._bus = bus
        self._name = name
        self._stream: Stream = stream
        self._tenant_id = tenant_id

    async def next(self, timeout: float) -> Delivery | None:
        deadline = now() + timeout
        while True:
            # Shielded: a take cancelled halfway (the process stopping) leaves its pooled
            # connection to a clean-up that can outlive the event loop and hang the shutdown.
            with anyio.CancelScope(shield=True):
                delivery = await self._bus._take(self._name, self._stream, self._tenant_id)
            if delivery is not None or now() >= deadline:
                return delivery
            await anyio.sleep(min(POLL_SECONDS, max(0.0, deadline - now())))


class SqlDelivery:
    def __init__(self, bus: SqlBus, consumer: str, seq: int, message: BusMessage) -> None:
        self._bus = bus
        self._consumer = consumer
        self._seq = seq
        self._message = message

    @property
    def message(self) -> BusMessage:
        return self._message

    async def ack(self) -> None:
        await self._bus._settle(self._consumer, self._seq, self._message.attempt, state="acked")

    async def retry(self, delay_seconds: float) -> None:
        await self._bus._settle(
            self._consumer,
            self._seq,
            self._message.attempt,
            lease_until=None,
            available_at=now() + delay_seconds,
        )

    async def dead(self, reason: str) -> None:
        await publish_dead_letter(self._bus, dead_letter(self._message, self._consumer, reason))
        await self._bus._settle(
            self._consumer, self._seq, self._message.attempt, state="dead", lease_until=None
        )

    async def in_progress(self) -> None:
        await self._bus._settle(
            self._consumer, self._seq, self._message.attempt, lease_until=now() + self._bus._ack_wait
        )
