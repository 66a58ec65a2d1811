"""The message bus, the same specification on both engines: the embedded database queue and NATS
JetStream. Subjects are tenant-scoped and a tenant's consumer sees only its tenant; a message is
stored once per id, delivered again until acknowledged, and dead-lettered with its reason after
the attempts run out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from agentmesh.bus import BusMessage, MessageBus, PermanentFailure, run_consumer, subject, subject_token
from tests.support.bus import ENGINES, drain, open_test_bus


@pytest.fixture(params=ENGINES)
async def bus(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MessageBus]:
    async with open_test_bus(request.param, tmp_path, ack_wait_seconds=1) as opened:
        yield opened


async def test_a_tenants_consumer_never_sees_another_tenants_messages(bus: MessageBus) -> None:
    await bus.publish("events", "acme", "approval.requested", {"n": 1}, msg_id="a1")
    await bus.publish("events", "globex", "approval.requested", {"secret": "globex's"}, msg_id="g1")
    await bus.publish("events", "acme", "ingestion.finished", {"n": 2}, msg_id="a2")

    acme = await drain(bus, "acme-watcher", "acme")
    assert [(m.tenant_id, m.type, m.body) for m in acme] == [
        ("acme", "approval.requested", {"n": 1}),
        ("acme", "ingestion.finished", {"n": 2}),
    ]
    globex = await drain(bus, "globex-watcher", "globex")
    assert [m.msg_id for m in globex] == ["g1"]
    # A platform consumer sees every tenant's, each labelled with the tenant of its subject.
    everyone = await drain(bus, "platform", None)
    assert sorted((m.tenant_id, m.msg_id) for m in everyone) == [
        ("acme", "a1"),
        ("acme", "a2"),
        ("globex", "g1"),
    ]


def test_a_tenant_id_cannot_widen_or_split_a_subject() -> None:
    assert (
        subject("agentmesh", "acme", "events", "approval.requested")
        == "agentmesh.acme.events.approval.requested"
    )
    for sneaky in ("*", ">", "acme.globex", "a b", ""):
        with pytest.raises(ValueError):
            subject_token(sneaky)


async def test_the_same_message_id_is_stored_once(bus: MessageBus) -> None:
    for _ in range(3):
        await bus.publish("events", "acme", "budget.threshold", {"percent": 80}, msg_id="budget-80")
    assert [m.msg_id for m in await drain(bus, "once", "acme")] == ["budget-80"]


async def test_an_unacknowledged_message_is_delivered_again_after_the_ack_wait(bus: MessageBus) -> None:
    await bus.publish("jobs", "acme", "ingest", {"job_id": "j1"}, msg_id="j1.1")
    consumer = await bus.consumer("worker", "jobs")
    first = await consumer.next(2)
    assert first is not None and first.message.attempt == 1
    # The worker dies without a word: nothing is delivered while its lease holds, then it is.
    assert await consumer.next(0.3) is None
    again = await consumer.next(5)
    assert again is not None and again.message.msg_id == "j1.1" and again.message.attempt == 2
    await again.ack()
    assert await consumer.next(1.5) is None


async def test_each_message_of_a_shared_consumer_reaches_one_member(bus: MessageBus) -> None:
    for n in range(6):
        await bus.publish("jobs", "acme", "ingest", {"n": n}, msg_id=f"m{n}")
    one, two = await bus.consumer("shared", "jobs"), await bus.consumer("shared", "jobs")
    seen = []
    for consumer in (one, two, one, two, one, two):
        delivery = await consumer.next(2)
        assert delivery is not None
        seen.append(delivery.message.body["n"])
        await delivery.ack()
    assert sorted(seen) == list(range(6))
    assert await one.next(0.3) is None and await two.next(0.3) is None


async def test_a_message_that_keeps_failing_lands_in_the_dead_letters_with_its_reason(
    bus: MessageBus,
) -> None:
    await bus.publish("jobs", "acme", "ingest", {"job_id": "poison"}, msg_id="poison.1")
    await bus.publish("jobs", "acme", "ingest", {"job_id": "bad"}, msg_id="bad.1")
    attempts: list[str] = []
    given_up: list[tuple[str, str]] = []

    async def handler(message: BusMessage) -> None:
        attempts.append(message.body["job_id"])
        if message.body["job_id"] == "bad":
            raise PermanentFailure("the document is not a PDF")
        raise RuntimeError("the parser crashed")

    async def on_dead(message: BusMessage, reason: str) -> None:
        given_up.append((message.msg_id, reason))

    consumer = await bus.consumer("worker", "jobs")
    with anyio.move_on_after(15):
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: run_consumer(
                    consumer,
                    handler,
                    max_attempts=3,
                    retry_base_seconds=0.05,
                    ack_wait_seconds=5,
                    on_dead=on_dead,
                    poll_seconds=0.2,
                )
            )
            while len(given_up) < 2:
                await anyio.sleep(0.1)
            group.cancel_scope.cancel()

    assert attempts.count("poison") == 3 and attempts.count("bad") == 1
    letters = {letter.msg_id: letter for letter in await bus.dead_letters("acme")}
    assert letters["poison.1"].attempts == 3
    assert letters["poison.1"].reason == "failed 3 times; last: RuntimeError: the parser crashed"
    assert letters["bad.1"].reason == "the document is not a PDF" and letters["bad.1"].body == {
        "job_id": "bad"
    }
    assert dict(given_up)["poison.1"].startswith("failed 3 times")
    assert await bus.dead_letters("globex") == []


async def test_purging_a_tenant_removes_its_messages_only(bus: MessageBus) -> None:
    await bus.publish("events", "acme", "approval.requested", {}, msg_id="a")
    await bus.publish("events", "globex", "approval.requested", {}, msg_id="g")
    await bus.purge_tenant("acme")
    assert [m.msg_id for m in await drain(bus, "after-purge", None)] == ["g"]
