"""Webhooks, on both bus engines: a tenant admin registers a URL (checked by the outbound guard);
the tenant's events reach it as CloudEvents signed per Standard Webhooks, retried with backoff
after a 500, dead after the last attempt, every attempt in the delivery log; no tenant sees
another's webhooks or events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentmesh.cloudevents import EventPublisher
from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from gateway.app import create_app
from tests.gateway.loopback import serve_in_thread
from tests.support.bus import ENGINES, BusPlace, bus_place
from tests.support.processes import wait_healthy


@dataclass
class Receiver:
    """A webhook receiver on loopback: `/flaky` fails twice then accepts, `/down` always fails."""

    url: str = ""
    calls: dict[str, list[tuple[dict[str, str], bytes]]] = field(
        default_factory=lambda: {"flaky": [], "down": []}
    )

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            path = request.path_params["name"]
            self.calls[path].append((dict(request.headers), await request.body()))
            failing = path == "down" or len(self.calls[path]) <= 2
            return Response(status_code=500 if failing else 204)

        return Starlette(routes=[Route("/{name}", receive, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve_in_thread(receiver.app()) as url:
        receiver.url = url
        yield receiver


@pytest.fixture(params=ENGINES)
async def place(request: pytest.FixtureRequest, data_dir: Path) -> AsyncIterator[BusPlace]:
    async with bus_place(request.param, data_dir) as opened:
        yield opened


@pytest.fixture
def gateway(place: BusPlace, data_dir: Path, receiver: Receiver) -> Iterator[tuple[str, Settings]]:
    settings = load_settings(
        AGENTMESH_DATA_DIR=data_dir,
        DATABASE_URL=None,
        REDIS_URL=None,
        AGENTMESH_LOG_LEVEL="WARNING",
        AGENTMESH_OUTBOUND_ALLOW=receiver.url.removeprefix("http://"),
        AGENTMESH_WEBHOOK_RETRY_BASE="0.2",
        AGENTMESH_WEBHOOK_MAX_ATTEMPTS="3",
        **place.env,
    )
    with serve_in_thread(create_app(settings, servers={}), lifespan="on") as url:
        wait_healthy(f"{url}/healthz")
        yield url, settings


def admin(settings: Settings, tenant: str) -> dict[str, str]:
    token = issue_dev_token(settings, tenant_id=tenant, user=f"{tenant}-admin", roles=["tenant_admin"])
    return {"Authorization": f"Bearer {token}"}


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check a receiver makes, written from the specification."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(f"v1,{expected}", sig) for sig in headers["webhook-signature"].split())


async def until(check: Any, what: str, timeout: float = 30) -> None:
    with anyio.fail_after(timeout):
        while not check():
            await anyio.sleep(0.1)


async def test_a_webhook_gets_its_tenants_events_signed_and_retried_after_a_500(
    gateway: tuple[str, Settings], place: BusPlace, receiver: Receiver
) -> None:
    url, settings = gateway
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        created = await client.post(
            "/api/admin/tenants/acme/webhooks",
            json={"url": f"{receiver.url}/flaky", "events": ["ingestion.finished", "approval.requested"]},
            headers=admin(settings, "acme"),
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        assert hook["secret"].startswith("whsec_") and hook["events"] == [
            "approval.requested",
            "ingestion.finished",
        ]
        listed = (
            await client.get("/api/admin/tenants/acme/webhooks", headers=admin(settings, "acme"))
        ).json()
        assert [h["id"] for h in listed["webhooks"]] == [hook["id"]] and "secret" not in listed["webhooks"][0]

        async with place.open() as bus:
            events = EventPublisher(bus, "/agentmesh/rag")
            sent = await events.publish("acme", "ingestion.finished", {"job_id": "j1"}, subject="j1")
            await events.publish("acme", "budget.threshold", {"percent": 80})  # not subscribed
            await events.publish("globex", "ingestion.finished", {"job_id": "globex's"})  # not acme's
            await until(lambda: len(receiver.calls["flaky"]) >= 3, "three attempts")
            await anyio.sleep(1)  # nothing more arrives once delivered

        calls = receiver.calls["flaky"]
        assert len(calls) == 3
        assert len({headers["webhook-id"] for headers, _ in calls}) == 1  # one message, retried
        for headers, body in calls:
            assert headers["content-type"] == "application/cloudevents+json"
            assert verify(hook["secret"], headers, body)
            assert not verify("whsec_" + base64.b64encode(b"x" * 32).decode(), headers, body)
        event = json.loads(calls[-1][1])
        assert event["specversion"] == "1.0" and event["id"] == sent.id
        assert (event["type"], event["tenantid"], event["data"]) == (
            "dev.agentmesh.ingestion.finished",
            "acme",
            {"job_id": "j1"},
        )

        log = await client.get(
            f"/api/admin/tenants/acme/webhooks/{hook['id']}/deliveries", headers=admin(settings, "acme")
        )
        [delivery] = log.json()["deliveries"]
        assert (delivery["state"], delivery["attempts"], delivery["event_id"]) == ("delivered", 3, sent.id)
        assert [a["status"] for a in delivery["log"]] == [500, 500, 204]
        assert delivery["log"][0]["error"] == "the receiver answered 500"
        gap_1 = delivery["log"][1]["at"] - delivery["log"][0]["at"]
        gap_2 = delivery["log"][2]["at"] - delivery["log"][1]["at"]
        assert gap_1 >= 0.2 and gap_2 >= 0.4  # exponential backoff

        # Another tenant sees none of it.
        theirs = await client.get(
            f"/api/admin/tenants/acme/webhooks/{hook['id']}/deliveries", headers=admin(settings, "globex")
        )
        assert theirs.status_code == 403
        mine = await client.get("/api/admin/tenants/globex/webhooks", headers=admin(settings, "globex"))
        assert mine.json() == {"webhooks": []}
        not_mine = await client.delete(
            f"/api/admin/tenants/globex/webhooks/{hook['id']}", headers=admin(settings, "globex")
        )
        assert not_mine.status_code == 404 and not_mine.json()["error"]["code"] == "webhook_not_found"


async def test_a_delivery_that_keeps_failing_is_dead_after_the_last_attempt(
    gateway: tuple[str, Settings], place: BusPlace, receiver: Receiver
) -> None:
    url, settings = gateway
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        hook = (
            await client.post(
                "/api/admin/tenants/acme/webhooks",
                json={"url": f"{receiver.url}/down", "events": ["circuit.opened"]},
                headers=admin(settings, "acme"),
            )
        ).json()
        async with place.open() as bus:
            await EventPublisher(bus, "/agentmesh/host").publish("acme", "circuit.opened", {"server": "erp"})

        async def state() -> dict[str, Any]:
            log = await client.get(
                f"/api/admin/tenants/acme/webhooks/{hook['id']}/deliveries", headers=admin(settings, "acme")
            )
            return dict(log.json()["deliveries"][0]) if log.json()["deliveries"] else {}

        with anyio.fail_after(30):
            while (await state()).get("state") != "dead":
                await anyio.sleep(0.2)
        dead = await state()
        assert dead["attempts"] == 3 and dead["next_attempt_at"] is None
        assert [a["status"] for a in dead["log"]] == [500, 500, 500]
        await anyio.sleep(1)
        assert len(receiver.calls["down"]) == 3


async def test_a_webhook_url_the_platform_does_not_call_is_refused_with_the_reason(
    gateway: tuple[str, Settings],
) -> None:
    url, settings = gateway
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for target, code in (
            ("http://127.0.0.1:9/hook", "blocked_destination"),  # loopback, not in the allow list
            ("http://169.254.169.254/latest/meta-data", "blocked_destination"),
            ("ftp://example.com/hook", "invalid_url"),
        ):
            refused = await client.post(
                "/api/admin/tenants/acme/webhooks",
                json={"url": target, "events": ["approval.decided"]},
                headers=admin(settings, "acme"),
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"]["code"] == code and refused.json()["error"]["message"]
        unknown = await client.post(
            "/api/admin/tenants/acme/webhooks",
            json={"url": "https://example.com/hook", "events": ["order.shipped"]},
            headers=admin(settings, "acme"),
        )
        assert unknown.status_code == 400
        user = issue_dev_token(settings, tenant_id="acme", user="bob")
        as_user = await client.get(
            "/api/admin/tenants/acme/webhooks", headers={"Authorization": f"Bearer {user}"}
        )
        assert as_user.status_code == 403
