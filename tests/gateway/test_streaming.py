"""The chat endpoint streams a turn's events as SSE, and a client that leaves cancels the turn."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agentmesh.db import create_engine, session_factory, upgrade_database
from agentmesh.secrets import secret_box
from agentmesh.settings import load_settings
from mcp_servers.erp.credentials import ServiceCredentialStore
from tests.gateway.loopback import serve_in_thread
from tests.gateway.mesh import DEBT_QUESTION, Mesh, running_mesh

pytestmark = pytest.mark.slow


def sse_events(lines: Iterator[str]) -> Generator[tuple[str, dict[str, object]], None, None]:
    """(event, data) pairs from a text/event-stream, skipping keep-alive comments."""
    event, data = "message", ""
    for line in lines:
        if line.startswith(":"):
            continue
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data += line.split(":", 1)[1].strip()
        elif line == "" and data:
            yield event, json.loads(data)
            event, data = "message", ""


def stream_turn(
    mesh: Mesh, body: dict[str, object], headers: dict[str, str]
) -> list[tuple[str, dict[str, object]]]:
    with httpx.stream(
        "POST", f"{mesh.url}/api/acme/chat", json=body, headers={**mesh.headers(), **headers}, timeout=60
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "RateLimit-Policy" in response.headers
        return list(sse_events(response.iter_lines()))


def test_a_turn_streams_its_steps_then_the_final_answer(mesh: Mesh) -> None:
    events = stream_turn(mesh, {"message": DEBT_QUESTION}, {"Accept": "text/event-stream"})
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "session"
    assert kinds[1] == "route"
    assert kinds[-1] == "final"
    assert {"tool_call", "tool_result"} <= set(kinds)
    assert kinds.index("tool_call") < kinds.index("tool_result")

    session_id = events[0][1]["session_id"]
    route = events[1][1]
    assert route["agent"] == "debt"
    call = next(data for kind, data in events if kind == "tool_call")
    assert (call["server"], call["tool"]) == ("erp", "get_customer_debt")
    assert call["arguments"] == {"mst": "3428557611"}
    final = events[-1][1]
    assert final["session_id"] == session_id
    assert final["outcome"] == "answered"
    assert "321,330,000" in str(final["answer"])
    assert final["steps"][0]["type"] == "route"  # type: ignore[index]

    history = httpx.get(f"{mesh.url}/api/acme/sessions/{session_id}", headers=mesh.headers()).json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"]


def test_stream_true_in_the_body_also_streams(mesh: Mesh) -> None:
    events = stream_turn(mesh, {"message": DEBT_QUESTION, "stream": True}, {})
    assert events[0][0] == "session" and events[-1][0] == "final"


def test_errors_before_the_stream_starts_are_plain_json(mesh: Mesh) -> None:
    response = httpx.post(
        f"{mesh.url}/api/acme/chat",
        json={"message": ""},
        headers={**mesh.headers(), "Accept": "text/event-stream"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


class SlowErp:
    """An ERP whose debt endpoint never answers; it notes when a call arrives and when it is dropped."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.dropped = threading.Event()
        self.dropped_at = 0.0

    def app(self) -> Starlette:
        async def debt(request: Request) -> JSONResponse:
            self.started.set()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if await request.is_disconnected():
                    self.dropped_at = time.monotonic()
                    self.dropped.set()
                    break
                await asyncio.sleep(0.02)
            return JSONResponse({"error": "too late"}, status_code=504)

        return Starlette(routes=[Route("/customers/{mst}/debt", debt)])


async def store_erp_key(data_dir: Path) -> None:
    settings = load_settings(AGENTMESH_DATA_DIR=data_dir)
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine)
        await ServiceCredentialStore(session_factory(engine), secret_box(settings)).put(
            "acme", "demo-erp", "k"
        )
    finally:
        await engine.dispose()


def test_a_client_that_disconnects_cancels_the_turn_and_its_tool_call(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    erp = SlowErp()
    data_dir = tmp_path_factory.mktemp("cancel")
    anyio.run(store_erp_key, data_dir)
    with (
        serve_in_thread(erp.app()) as erp_url,
        running_mesh(data_dir, erp_api_url=erp_url, AGENTMESH_MAX_CONCURRENT_TURNS=1) as slow_mesh,
    ):
        session_id = None
        with httpx.stream(
            "POST",
            f"{slow_mesh.url}/api/acme/chat",
            json={"message": DEBT_QUESTION, "stream": True},
            headers=slow_mesh.headers(),
            timeout=60,
        ) as response:
            events = sse_events(response.iter_lines())  # kept referenced: dropping it closes the stream
            for kind, data in events:
                if kind == "session":
                    session_id = data["session_id"]
                if kind == "tool_call":
                    break
            assert erp.started.wait(15), "the tool call reached the ERP"

            # The tenant may run one turn at a time: a second one now is refused, not queued.
            second = slow_mesh.chat("What is our return policy?", user="bob")
            assert second.status_code == 429
            assert second.json()["error"]["code"] == "too_many_turns"
            assert second.headers["Retry-After"] == "1"
            left_at = time.monotonic()
        # Leaving the block closed the connection mid-turn.
        events.close()

        assert erp.dropped.wait(5), "the ERP call was cancelled when the client left"
        assert erp.dropped_at - left_at < 5, "well before the tool's own 10 s timeout"

        state = slow_mesh.state
        deadline = time.monotonic() + 5
        while state.metrics.turns_in_flight._value.get() != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state.metrics.turns_in_flight._value.get() == 0, "the turn slot was given back"
        cancelled = state.metrics.turns.labels("acme", "cancelled")._sum.get()
        assert cancelled > 0

        history = httpx.get(f"{slow_mesh.url}/api/acme/sessions/{session_id}", headers=slow_mesh.headers())
        assert history.status_code == 404, "nothing of the cancelled turn was recorded"
        after = slow_mesh.chat("What is our return policy?", user="bob")
        assert after.status_code == 200, "the cancelled turn's slot is free again"
