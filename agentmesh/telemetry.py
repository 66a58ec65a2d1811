"""OpenTelemetry tracing, set up once per process.

Every process (gateway, each MCP server) installs an SDK tracer provider named for its service,
so spans carry real trace ids (the logs print them) and the MCP SDK's client and server spans
join one trace through the W3C context it carries in `_meta`. When
`OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are exported there over OTLP/HTTP (protobuf) in
batches, with personal data masked, sampled as `OTEL_TRACES_SAMPLER` says (every trace by
default). Otherwise nothing would ever read a span, so none is recorded: the sampler drops every
one, and a span costs only its ids (still minted, so log lines keep their trace id and the MCP
servers' lines join the gateway's). Recording spans nobody exports took about a tenth of the
gateway's GIL-held time under chat load (py-spy, 100 tenants).
"""

from __future__ import annotations

import threading

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from agentmesh.redaction import platform_redactor
from agentmesh.settings import Settings
from agentmesh.span_redaction import RedactingSpanProcessor

_lock = threading.Lock()
_provider: TracerProvider | None = None


def traces_endpoint(base: str) -> str:
    """The OTLP/HTTP traces URL for a collector base URL (as the OTLP spec derives it)."""
    base = base.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def configure_tracing(settings: Settings, service_name: str) -> TracerProvider:
    """Install this process's tracer provider (the first call wins; later calls return it)."""
    global _provider
    with _lock:
        if _provider is not None:
            return _provider
        # With no exporter, never record; with one, the SDK's sampler from the environment.
        sampler = None if settings.otlp_endpoint else ALWAYS_OFF
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}), sampler=sampler)
        if settings.otlp_endpoint:
            exporter = OTLPSpanExporter(endpoint=traces_endpoint(settings.otlp_endpoint))
            # Personal data in span names, attributes and events is masked before export.
            exported = BatchSpanProcessor(exporter)
            provider.add_span_processor(RedactingSpanProcessor(exported, platform_redactor(settings)))
        trace.set_tracer_provider(provider)
        _provider = provider
        return provider


def flush_traces(timeout_millis: int = 5000) -> bool:
    """Export the spans still buffered (on shutdown, before the process exits)."""
    return _provider.force_flush(timeout_millis) if _provider is not None else True
