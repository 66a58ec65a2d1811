"""A session's turns, live: `GET /api/{tenant}/sessions/{id}/events` and the channels behind it.

The owner of a session sees each event of each of its turns as it happens, a fresh chat turn and
a turn resumed after an admin's approval alike (the resumed one is how a chat waiting for an
approval completes in the user's browser). Nobody else does: not another user of the tenant, not
another tenant with the same session id, on one replica or across replicas sharing Redis.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from redis.asyncio import Redis

from gateway.session_events import InProcessSessionEvents, RedisSessionEvents, SessionEvent
from gateway.sessions import SessionKey
from tests.gateway.mesh import DEBT_QUESTION, Mesh

ACME = SessionKey(tenant_id="acme", user_id="alice", session_id="s1")


def event(name: str, turn: str = "t1") -> SessionEvent:
    return SessionEvent(turn_id=turn, channel="chat", event=name, data={"n": name})


async def first(events: AsyncIterator[SessionEvent], timeout: float = 5.0) -> SessionEvent:
    with anyio.fail_after(timeout):
        return await events.__anext__()


async def test_a_watcher_receives_its_sessions_events_in_order() -> None:
    channels = InProcessSessionEvents()
    async with channels.watch(ACME) as watched:
        for name in ("turn", "route", "final"):
            await channels.publish(ACME, event(name))
        assert [(await first(watched)).event for _ in range(3)] == ["turn", "route", "final"]
    assert channels.watchers(ACME) == 0


@pytest.mark.parametrize(
    "other",
    [
        SessionKey(tenant_id="globex", user_id="alice", session_id="s1"),  # same user name, other tenant
        SessionKey(tenant_id="acme", user_id="mallory", session_id="s1"),  # same tenant, other user
        SessionKey(tenant_id="acme", user_id="alice", session_id="s2"),
    ],
)
async def test_no_watcher_receives_another_sessions_events(other: SessionKey) -> None:
    channels = InProcessSessionEvents()
    async with channels.watch(other) as watched:
        await channels.publish(ACME, event("final"))
        with pytest.raises(TimeoutError):
            await first(watched, timeout=0.2)


async def test_a_watcher_that_falls_behind_is_cut_off_rather_than_slowing_the_turn() -> None:
    channels = InProcessSessionEvents(buffer=2)
    async with channels.watch(ACME) as watched:
        for index in range(5):  # never blocks, though nobody reads
            await channels.publish(ACME, event(f"e{index}"))
        received = [item.event async for item in watched]
    assert received == ["e0", "e1"]


@pytest.mark.backends
async def test_across_replicas_sharing_redis_only_the_sessions_owner_hears_it(
    redis_prefix: tuple[Redis, str],
) -> None:
    redis, prefix = redis_prefix
    other_replica = Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    try:
        here, there = (
            RedisSessionEvents(redis, prefix=prefix),
            RedisSessionEvents(other_replica, prefix=prefix),
        )
        intruder = SessionKey(tenant_id="globex", user_id="alice", session_id="s1")
        async with here.watch(ACME) as watched, here.watch(intruder) as intruders:
            await there.publish(ACME, event("final", turn="resumed"))
            received = await first(watched)
            assert (received.turn_id, received.event) == ("resumed", "final")
            with pytest.raises(TimeoutError):
                await first(intruders, timeout=0.3)
    finally:
        await other_replica.aclose()


# -- over HTTP ----------------------------------------------------------------------------------


async def collect(
    mesh: Mesh, path: str, token: str, *, until: str, ready: anyio.Event, into: list[dict[str, Any]]
) -> None:
    """Read the stream at `path`, noting each event, until one named `until` arrives."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(base_url=mesh.url, timeout=60) as client,
        client.stream("GET", path, headers=headers) as response,
    ):
        assert response.status_code == 200, await response.aread()
        name = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and name:
                payload = json.loads(line.split(":", 1)[1])
                if name == "ready":
                    ready.set()
                else:
                    into.append(payload)
                    if payload.get("event") == until:
                        return


async def watch_while(
    mesh: Mesh, session: str, token: str, action: Any, *, until: str = "final"
) -> list[Any]:
    received: list[dict[str, Any]] = []
    ready = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(
            lambda: collect(
                mesh, f"/api/acme/sessions/{session}/events", token, until=until, ready=ready, into=received
            )
        )
        with anyio.fail_after(30):
            await ready.wait()
        await action()
    return received


async def chat(mesh: Mesh, message: str, *, user: str = "alice", **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            f"{mesh.url}/api/acme/chat", json={"message": message, **body}, headers=mesh.headers("acme", user)
        )
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


@pytest.mark.slow
async def test_the_owner_watches_each_event_of_a_turn_of_the_session(mesh: Mesh) -> None:
    session = (await chat(mesh, DEBT_QUESTION, user="watcher"))["session_id"]
    replies: list[dict[str, Any]] = []

    async def follow_up() -> None:
        replies.append(await chat(mesh, "And its payment history?", user="watcher", session_id=session))

    received = await watch_while(mesh, session, mesh.token("acme", "watcher"), follow_up)
    assert [item["event"] for item in received] == ["turn", "route", "tool_call", "tool_result", "final"]
    assert {item["channel"] for item in received} == {"chat"} and len(
        {item["turn_id"] for item in received}
    ) == 1
    final = received[-1]["data"]
    assert final["answer"] == replies[0]["answer"] and final["session_id"] == session
    assert received[2]["data"]["tool"] == "get_payment_history"


@pytest.mark.slow
def test_nobody_else_may_watch_a_session(mesh: Mesh) -> None:
    session = mesh.chat(DEBT_QUESTION, user="owner").json()["session_id"]
    path = f"{mesh.url}/api/acme/sessions/{session}/events"
    other_user = httpx.get(path, headers=mesh.headers("acme", "mallory"))
    assert other_user.status_code == 404 and other_user.json()["error"]["code"] == "session_not_found"
    other_tenant = httpx.get(path, headers=mesh.headers("globex", "owner"))
    assert other_tenant.status_code == 403 and other_tenant.json()["error"]["code"] == "forbidden_tenant"
    in_their_tenant = httpx.get(
        f"{mesh.url}/api/globex/sessions/{session}/events", headers=mesh.headers("globex", "owner")
    )
    assert in_their_tenant.status_code == 404
    assert httpx.get(path).status_code == 401


@pytest.mark.slow
async def test_a_turn_resumed_by_an_admin_reaches_the_waiting_user_live(mesh: Mesh) -> None:
    tenant = f"evt{uuid.uuid4().hex[:8]}"
    platform = {"Authorization": f"Bearer {mesh.token('platform', 'root', ['platform_admin'])}"}
    async with httpx.AsyncClient(base_url=mesh.url, timeout=60) as client:
        created = await client.post(
            "/api/admin/tenants", json={"id": tenant, "name": "Events"}, headers=platform
        )
        assert created.status_code == 201, created.text
        policy = {
            "tenant": tenant,
            "agents": ["debt"],
            "tools": {"allow": ["erp:get_*"], "approve": ["erp:get_customer_debt"]},
        }
        assert (
            await client.put(f"/api/admin/tenants/{tenant}/policy", json=policy, headers=platform)
        ).status_code == 200
        user = {"Authorization": f"Bearer {mesh.token(tenant, 'dana')}"}
        paused = (
            await client.post(f"/api/{tenant}/chat", json={"message": DEBT_QUESTION}, headers=user)
        ).json()
        assert paused["outcome"] == "pending_approval", paused
        session, approval = paused["session_id"], paused["approval_id"]
        transcript = (await client.get(f"/api/{tenant}/sessions/{session}", headers=user)).json()
        assert transcript["messages"][-1]["meta"]["pending_approval_id"] == approval

        received: list[dict[str, Any]] = []
        ready = anyio.Event()
        async with anyio.create_task_group() as group:
            path = f"/api/{tenant}/sessions/{session}/events"
            group.start_soon(
                lambda: collect(
                    mesh, path, mesh.token(tenant, "dana"), until="final", ready=ready, into=received
                )
            )
            with anyio.fail_after(30):
                await ready.wait()
            decided = await client.post(
                f"/api/admin/tenants/{tenant}/approvals/{approval}/approve", headers=platform
            )
            assert decided.status_code == 200, decided.text
    assert received[0]["event"] == "turn" and received[0]["channel"] == "approval"
    assert received[0]["data"]["meta"] == {"approval_id": approval, "decided_by": "root"}
    assert received[-1]["data"]["answer"] == decided.json()["answer"]
    assert "tool_call" in [item["event"] for item in received]
