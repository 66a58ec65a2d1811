"""The gateway's Prometheus metrics, in a registry of its own (one per application).

Labels stay bounded: routes by template, tools by `server:tool`, tenants by id (a platform's
tenant count, not its users).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from host.server_connection import ConnectionState

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


CIRCUIT_STATES = ("closed", "half_open", "open")


class _McpServerCollector(Collector):
    """Each MCP server's connection and circuit breaker, read from the host at scrape time."""

    def __init__(
        self,
        connections: Callable[[], Iterable[ConnectionState]],
        circuits: Callable[[], Mapping[str, str]],
    ) -> None:
        self._connections = connections
        self._circuits = circuits

    def collect(self) -> Iterable[Metric]:
        connected = GaugeMetricFamily(
            "agentmesh_mcp_server_connected",
            "1 while the host's long-lived client to the MCP server is connected",
            labels=["server"],
        )
        circuit = GaugeMetricFamily(
            "agentmesh_mcp_circuit_state",
            "The host's circuit breaker per MCP server: 1 for its current state (closed, half_open, open)",
            labels=["server", "state"],
        )
        circuits = self._circuits()
        for connection in self._connections():
            connected.add_metric([connection.name], 1.0 if connection.connected else 0.0)
            current = circuits.get(connection.name, "closed")
            for state in CIRCUIT_STATES:
                circuit.add_metric([connection.name, state], 1.0 if state == current else 0.0)
        yield connected
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
        self.cost_micro = Counter(
            "agentmesh_cost_microdollars",
            "Model cost in millionths of a US dollar, by tenant (the usage ledger's unit: the two agree)",
            ["tenant"],
            registry=self.registry,
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

    def watch_mcp_servers(
        self,
        connections: Callable[[], Iterable[ConnectionState]],
        circuits: Callable[[], Mapping[str, str]],
    ) -> None:
        """Export the host's MCP servers: connection and circuit breaker state."""
        self.registry.register(_McpServerCollector(connections, circuits))

    def record_tool_call(self, server: str, tool: str, seconds: float, *, is_error: bool) -> None:
        self.tool_calls.labels(server, tool, "error" if is_error else "ok").observe(seconds)

    def record_usage(
        self, tenant_id: str, input_tokens: int, output_tokens: int, cost_micro_usd: int
    ) -> None:
        """A turn's tokens and cost, as the usage ledger recorded them."""
        if input_tokens:
            self.tokens.labels(tenant_id, "input").inc(input_tokens)
        if output_tokens:
            self.tokens.labels(tenant_id, "output").inc(output_tokens)
        if cost_micro_usd:
            self.cost_micro.labels(tenant_id).inc(cost_micro_usd)
            self.cost.labels(tenant_id).inc(cost_micro_usd / 1_000_000)
