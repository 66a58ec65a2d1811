"""The message bus on NATS JetStream: one stream per kind of message, durable pull consumers.

Streams are `<PREFIX>_JOBS`, `<PREFIX>_EVENTS` and `<PREFIX>_DEAD`, holding the subjects
`<prefix>.*.<stream>.>`; they are created on first connect and kept by limits (age), so a
consumer opened later still reads what was published before it existed. A durable consumer is
shared by every process that opens it under the same name (each message reaches one of them);
JetStream redelivers what is not acknowledged within the ack wait, and `Nats-Msg-Id` makes a
publish repeated within the duplicate window a no-op.
"""

from __future__ import annotations

import json
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StreamConfig

from agentmesh.bus import (
    STREAMS,
    BusMessage,
    BusUnavailable,
    DeadLetter,
    Delivery,
    Stream,
    dead_letter,
    publish_dead_letter,
    subject,
    subject_token,
)

DAY_SECONDS = 24 * 3600.0
MAX_AGE_SECONDS: dict[Stream, float] = {
    "jobs": 7 * DAY_SECONDS,
    "events": 7 * DAY_SECONDS,
    "dead": 30 * DAY_SECONDS,
}
DUPLICATE_WINDOW_SECONDS = 120.0
CONNECT_TIMEOUT_SECONDS = 3.0


def stream_name(prefix: str, stream: Stream) -> str:
    return f"{prefix.upper()}_{stream.upper()}"


class NatsBus:
    """`MessageBus` over a NATS server with JetStream."""

    def __init__(self, client: Client, prefix: str, *, ack_wait_seconds: float) -> None:
        self._client = client
        self._js: JetStreamContext = client.jetstream()
        self._prefix = prefix
        self._ack_wait = ack_wait_seconds

    @classmethod
    async def connect(cls, url: str, *, prefix: str, ack_wait_seconds: float) -> NatsBus:
        """Connect and make sure the streams exist (raises `BusUnavailable` when NATS does not answer)."""
        try:
            client = await nats.connect(
                servers=[url],
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                max_reconnect_attempts=-1,
                allow_reconnect=True,
            )
        except (OSError, nats.errors.Error) as exc:
            raise BusUnavailable(f"NATS at {url} does not answer: {exc}") from exc
        bus = cls(client, prefix, ack_wait_seconds=ack_wait_seconds)
        try:
            await bus._ensure_streams()
        except nats.errors.Error as exc:
            await client.close()
            raise BusUnavailable(f"NATS at {url} has no usable JetStream: {exc}") from exc
        return bus

    async def _ensure_streams(self) -> None:
        for stream in STREAMS:
            config = StreamConfig(
                name=stream_name(self._prefix, stream),
                subjects=[f"{self._prefix}.*.{stream}.>"],
                retention=RetentionPolicy.LIMITS,
                max_age=MAX_AGE_SECONDS[stream],
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            )
            try:
                await self._js.stream_info(config.name or "")
            except nats.js.errors.NotFoundError:
                await self._js.add_stream(config)

    async def publish(
        self, stream: Stream, tenant_id: str, type: str, body: dict[str, Any], *, msg_id: str
    ) -> None:
        try:
            await self._js.publish(
                subject(self._prefix, tenant_id, stream, type),
                json.dumps(body, separators=(",", ":")).encode(),
                stream=stream_name(self._prefix, stream),
                headers={"Nats-Msg-Id": msg_id},
            )
        except nats.errors.Error as exc:
            raise BusUnavailable(f"NATS did not store the message: {exc}") from exc

    async def consumer(self, name: str, stream: Stream, *, tenant_id: str | None = None) -> NatsConsumer:
        tenant = "*" if tenant_id is None else subject_token(tenant_id)
        # A durable's filter is fixed at creation: a tenant's consumer is a durable of its own.
        durable = name if tenant_id is None else f"{name}-{tenant}"
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=-1,  # the attempts are counted and dead-lettered by `run_consumer`
        )
        try:
            subscription = await self._js.pull_subscribe(
                f"{self._prefix}.{tenant}.{stream}.>",
                durable=durable,
                stream=stream_name(self._prefix, stream),
                config=config,
            )
        except nats.errors.Error as exc:
            raise BusUnavailable(f"NATS refused the consumer {durable}: {exc}") from exc
        return NatsConsumer(self, durable, stream, subscription)

    async def dead_letters(self, tenant_id: str, *, limit: int = 100) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        name = stream_name(self._prefix, "dead")
        filter_subject = f"{self._prefix}.{subject_token(tenant_id)}.dead.>"
        seq = 1
        while len(letters) < limit:
            try:
                raw = await self._js.get_msg(name, seq=seq, subject=filter_subject, next=True)
            except nats.js.errors.NotFoundError:
                break
            letters.append(DeadLetter.model_validate_json(raw.data or b"{}"))
            seq = (raw.seq or seq) + 1
        return letters

    async def purge_tenant(self, tenant_id: str) -> None:
        token = subject_token(tenant_id)
        for stream in STREAMS:
            await self._js.purge_stream(
                stream_name(self._prefix, stream), subject=f"{self._prefix}.{token}.>"
            )

    async def delete_streams(self) -> None:
        """Remove this prefix's streams and everything in them (tests' clean-up)."""
        for stream in STREAMS:
            try:
                await self._js.delete_stream(stream_name(self._prefix, stream))
            except nats.js.errors.NotFoundError:
                continue

    async def aclose(self) -> None:
        # Flush, then close: draining would wait out every pull consumer's pending fetch.
        if self._client.is_connected:
            await self._client.flush(timeout=2)
        await self._client.close()

    def message_of(self, stream: Stream, msg: Msg) -> BusMessage:
        _, tenant_id, _, type = msg.subject.split(".", 3)
        headers = msg.headers or {}
        return BusMessage(
            stream=stream,
            tenant_id=tenant_id,
            type=type,
            msg_id=headers.get("Nats-Msg-Id", ""),
            body=json.loads(msg.data),
            attempt=msg.metadata.num_delivered or 1,
        )


class NatsConsumer:
    def __init__(
        self, bus: NatsBus, name: str, stream: Stream, subscription: JetStreamContext.PullSubscription
    ) -> None:
        self._bus = bus
        self._name = name
        self._stream: Stream = stream
        self._subscription = subscription

    async def next(self, timeout: float) -> Delivery | None:
        try:
            messages = await self._subscription.fetch(1, timeout=timeout)
        except nats.errors.TimeoutError:
            return None
        except nats.errors.Error as exc:
            raise BusUnavailable(f"NATS did not deliver: {exc}") from exc
        return NatsDelivery(
            self._bus, self._name, self._bus.message_of(self._stream, messages[0]), messages[0]
        )


class NatsDelivery:
    def __init__(self, bus: NatsBus, consumer: str, message: BusMessage, msg: Msg) -> None:
        self._bus = bus
        self._consumer = consumer
        self._message = message
        self._msg = msg

    @property
    def message(self) -> BusMessage:
        return self._message

    async def ack(self) -> None:
        # Double ack: the server confirms, so an acknowledged job is not delivered again.
        await self._msg.ack_sync()

    async def retry(self, delay_seconds: float) -> None:
        await self._msg.nak(delay=delay_seconds)

    async def dead(self, reason: str) -> None:
        await publish_dead_letter(self._bus, dead_letter(self._message, self._consumer, reason))
        await self._msg.term()

    async def in_progress(self) -> None:
        await self._msg.in_progress()
