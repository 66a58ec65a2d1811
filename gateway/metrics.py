"""The gateway's Prometheus metrics, in a registry of its own (one per application).

Labels stay bounded: routes by template, tools by `server:tool`, tenants by id (a platform's
tenant count, not its users).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from host.mcp_pool import ConnectionState

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _CircuitCollector(Collector):
    """Each MCP server's circuit, read from the host's pool at scrape time (closed = connected)."""

    def __init__(self, states: Callable[[], Iterable[ConnectionState]]) -> None:
        self._states = states

    def collect(self) -> Iterable[Metric]:
        circuit = GaugeMetricFamily(
            "agentmesh_mcp_circuit_open",
            "1 when the MCP server is unreachable and calls to it fail fast, 0 when connected",
            labels=["server"],
        )
        for state in self._states():
            circuit.add_metric([state.name], 0.0 if state.connected else 1.0)
        yield circuit


class GatewayMetrics:
    """Every metric the gateway exports at `/metrics`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "agentmesh_http_request_duration_seconds",
            "Gateway HTTP requests by route template, method and status",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tool_calls = Histogram(
            "agentmesh_tool_call_duration_seconds",
            "MCP tool calls made for turns and proxied calls, by server, tool and outcome",
            ["server", "tool", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.turns = Histogram(
            "agentmesh_turn_duration_seconds",
            "Time chat turns spend in the agent host (routing, model, tools), by tenant and outcome",
            ["tenant", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "agentmesh_tokens",
            "Model tokens used, by tenant and direction (input or output)",
            ["tenant", "direction"],
            registry=self.registry,
        )
        self.cost = Counter(
            "agentmesh_cost_usd", "Model cost in US dollars, by tenant", ["tenant"], registry=self.registry
        )
        self.rate_limited = Counter(
            "agentmesh_rate_limit_rejections",
            "Requests refused with 429, by tenant and the quota that refused them",
            ["tenant", "quota"],
            registry=self.registry,
        )
        self.turns_in_flight = Gauge(
            "agentmesh_turns_in_flight", "Turns running in this gateway process", registry=self.registry
        )

    def watch_circuits(self, states: Callable[[], Iterable[ConnectionState]]) -> None:
        """Export the circuit state of the host's MCP servers."""
        self.registry.register(_CircuitCollector(states))

    def record_tool_call(self, server: str, tool: str, seconds: float, *, is_error: bool) -> None:
        self.tool_calls.labels(server, tool, "error" if is_error else "ok").observe(seconds)

    def record_usage(self, tenant_id: str, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
        if input_tokens:
            self.tokens.labels(tenant_id, "input").inc(input_tokens)
        if output_tokens:
            self.tokens.labels(tenant_id, "output").inc(output_tokens)
        if cost_usd:
            self.cost.labels(tenant_id).inc(cost_usd)
