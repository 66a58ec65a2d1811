"""Telemetry: one trace per turn across processes, Prometheus metrics, and JSON logs with ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from gateway.app import create_app
from gateway.metrics import GatewayMetrics
from tests.gateway.loopback import serve_in_thread
from tests.gateway.mesh import DEBT_QUESTION, Mesh
from tests.gateway.otlp import OtlpReceiver, ReceivedSpan
from tests.support.processes import free_port, running_server, stop, wait_healthy

SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 2, 3


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.slow
def test_metrics_time_requests_and_tool_calls_and_show_circuits(mesh: Mesh) -> None:
    before = samples(httpx.get(f"{mesh.url}/metrics").text)
    assert mesh.chat(DEBT_QUESTION, user="metrics").status_code == 200
    after = samples(httpx.get(f"{mesh.url}/metrics").text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"route": "/api/{tenant_id}/chat", "method": "POST", "status": "200"}
    assert grew("agentmesh_http_request_duration_seconds_count", **route) == 1
    tool = {"server": "erp", "tool": "get_customer_debt", "outcome": "ok"}
    assert grew("agentmesh_tool_call_duration_seconds_count", **tool) == 1
    assert grew("agentmesh_tool_call_duration_seconds_sum", **tool) > 0
    assert grew("agentmesh_turn_duration_seconds_count", tenant="acme", outcome="answered") == 1
    assert value(after, "agentmesh_mcp_server_connected", server="erp") == 1
    assert value(after, "agentmesh_mcp_circuit_state", server="erp", state="closed") == 1
    assert value(after, "agentmesh_mcp_circuit_state", server="erp", state="open") == 0
    assert value(after, "agentmesh_turns_in_flight") == 0


def test_rate_limit_rejections_are_counted_by_tenant_and_quota(settings: Settings) -> None:
    limited = load_settings(AGENTMESH_DATA_DIR=settings.data_dir, AGENTMESH_USER_RATE_LIMIT_RPM=1)
    token = issue_dev_token(limited, tenant_id="globex", user="bob")
    with TestClient(create_app(limited, servers={})) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/globex/sessions", headers=headers).status_code == 200
        refused = client.get("/api/globex/sessions", headers=headers)
        assert refused.status_code == 429
        assert refused.json()["error"]["details"]["quota"] == "user-requests"
        metrics = samples(client.get("/metrics").text)
    rejections = {"tenant": "globex", "quota": "user-requests"}
    assert value(metrics, "agentmesh_rate_limit_rejections_total", **rejections) == 1


def test_with_a_scrape_token_metrics_answer_only_to_it(settings: Settings) -> None:
    scrape_token = "s3cret-scrape-token-0123"
    guarded = load_settings(AGENTMESH_DATA_DIR=settings.data_dir, AGENTMESH_METRICS_TOKEN=scrape_token)
    user_token = issue_dev_token(guarded, tenant_id="acme", user="alice")
    with TestClient(create_app(guarded, servers={})) as client:
        for headers in ({}, {"Authorization": f"Bearer {user_token}"}, {"Authorization": "Bearer s3cret"}):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "unauthorized"
            assert "agentmesh_" not in refused.text
        allowed = client.get("/metrics", headers={"Authorization": f"Bearer {scrape_token}"})
    assert allowed.status_code == 200
    assert "agentmesh_turns_in_flight" in allowed.text


def test_tokens_and_cost_are_counted_by_tenant() -> None:
    metrics = GatewayMetrics()
    metrics.record_usage("acme", input_tokens=1200, output_tokens=300, cost_micro_usd=4200)
    metrics.record_usage("acme", input_tokens=800, output_tokens=0, cost_micro_usd=1800)
    metrics.record_usage("globex", input_tokens=10, output_tokens=5, cost_micro_usd=100)
    exported = samples(generate_latest(metrics.registry).decode())
    assert value(exported, "agentmesh_tokens_total", tenant="acme", direction="input") == 2000
    assert value(exported, "agentmesh_tokens_total", tenant="acme", direction="output") == 300
    assert value(exported, "agentmesh_cost_usd_total", tenant="acme") == pytest.approx(0.006)
    assert value(exported, "agentmesh_cost_microdollars_total", tenant="acme") == 6000
    assert value(exported, "agentmesh_tokens_total", tenant="globex", direction="input") == 10


@dataclass
class TracedMesh:
    url: str
    receiver: OtlpReceiver
    log_file: Path
    settings: Settings


@pytest.fixture(scope="module")
def traced_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TracedMesh]:
    """The ERP server and a gateway process, both exporting spans to a local OTLP receiver."""
    data_dir = tmp_path_factory.mktemp("traced")
    receiver = OtlpReceiver()
    with serve_in_thread(receiver.app()) as collector:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        with running_server("erp", data_dir, **otel) as erp_url:
            port = free_port()
            env = {
                **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
                **otel,
                "AGENTMESH_DATA_DIR": str(data_dir),
                "AGENTMESH_ERP_URL": erp_url,
                "AGENTMESH_LOG_LEVEL": "INFO",
            }
            log_file = data_dir / "gateway.log"
            with log_file.open("wb") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "agentmesh.cli", "gateway", "--port", str(port)],
                    env=env,
                    stderr=log,
                    stdout=subprocess.DEVNULL,
                )
                try:
                    url = f"http://127.0.0.1:{port}"
                    wait_healthy(f"{url}/healthz", process, timeout=120)
                    yield TracedMesh(url, receiver, log_file, load_settings(AGENTMESH_DATA_DIR=data_dir))
                finally:
                    stop(process)


def wait_for(
    receiver: OtlpReceiver, trace_id: str, services: set[str], timeout: float = 20
) -> list[ReceivedSpan]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spans = receiver.trace(trace_id)
        if services <= {span.service for span in spans} and any(
            span.service == "agentmesh-gateway" and span.kind == SPAN_KIND_SERVER for span in spans
        ):
            return spans
        time.sleep(0.1)
    raise AssertionError(f"spans of {services} for trace {trace_id} not received: {receiver.trace(trace_id)}")


def ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[str]:
    by_id = {s.span_id: s for s in spans}
    names = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        names.append(f"{span.service}:{span.name}")
    return names


@pytest.mark.slow
def test_one_turn_is_one_trace_through_the_gateway_host_model_and_mcp_server(traced_mesh: TracedMesh) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    token = issue_dev_token(traced_mesh.settings, tenant_id="acme", user="tracy")
    response = httpx.post(
        f"{traced_mesh.url}/api/acme/chat",
        json={"message": DEBT_QUESTION},
        headers={
            "Authorization": f"Bearer {token}",
            # The caller's own trace: the turn joins it.
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
        },
        timeout=60,
    )
    assert response.status_code == 200
    session_id = response.json()["session_id"]

    spans = wait_for(traced_mesh.receiver, trace_id, {"agentmesh-gateway", "agentmesh-mcp-erp"})
    server_call = next(
        s for s in spans if s.service == "agentmesh-mcp-erp" and s.name == "tools/call get_customer_debt"
    )
    assert server_call.kind == SPAN_KIND_SERVER
    chain = ancestors(server_call, spans)
    assert chain[0] == "agentmesh-gateway:MCP send tools/call get_customer_debt"
    assert "agentmesh-gateway:chat turn" in chain
    assert chain[-1] == "agentmesh-gateway:POST /api/{tenant_id}/chat"
    request_span = next(s for s in spans if s.name == "POST /api/{tenant_id}/chat")
    assert request_span.parent_span_id == "00f067aa0ba902b7"
    assert request_span.attributes["agentmesh.tenant_id"] == "acme"
    model_steps = [s for s in spans if s.name.startswith("model ")]
    assert model_steps and all(s.kind == SPAN_KIND_CLIENT for s in model_steps)
    assert all(ancestors(s, spans)[0] == "agentmesh-gateway:chat turn" for s in model_steps)
    assert {s.attributes["agentmesh.tool_calls"] for s in model_steps} == {0, 1}  # a call, then the answer
    turn = next(s for s in spans if s.name == "chat turn")
    assert turn.attributes["agentmesh.session_id"] == session_id
    assert turn.attributes["agentmesh.agent"] == "debt"

    # The same turn's log line names its tenant, session and trace; the token never appears.
    deadline = time.monotonic() + 10
    finished: list[dict[str, object]] = []
    while not finished and time.monotonic() < deadline:
        lines = traced_mesh.log_file.read_text().splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        finished = [
            r for r in records if r.get("event") == "turn_finished" and r.get("session_id") == session_id
        ]
        time.sleep(0.1)
    assert finished, "a turn_finished line for the session"
    assert finished[0]["tenant_id"] == "acme"
    assert finished[0]["trace_id"] == trace_id
    assert finished[0]["outcome"] == "answered"
    log_text = traced_mesh.log_file.read_text()
    assert token not in log_text
    assert token.split(".")[2] not in log_text
