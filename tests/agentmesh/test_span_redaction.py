"""Traces reach the exporter with personal data masked; numbers and ids untouched."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from agentmesh.span_redaction import RedactingSpanProcessor


def test_exported_spans_carry_no_personal_data() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(RedactingSpanProcessor(SimpleSpanProcessor(exporter)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("chat turn for alice@acme.com") as span:
        span.set_attribute("user.message", "my phone is 0901234567 and card 4111 1111 1111 1111")
        span.set_attribute("erp.mst", "3428557611")
        span.set_attribute("tool.calls", 3)
        span.set_attribute("contacts", ["a@b.vn", "ok"])
        span.add_event("tool.result", {"text": "CCCD 079203012345"})
        span.set_status(Status(StatusCode.ERROR, "could not reach alice@acme.com"))
    provider.shutdown()

    (exported,) = exporter.get_finished_spans()
    assert exported.name == "chat turn for [EMAIL]"
    assert exported.attributes == {
        "user.message": "my phone is [PHONE] and card [CARD]",
        "erp.mst": "3428557611",
        "tool.calls": 3,
        "contacts": ("[EMAIL]", "ok"),
    }
    assert exported.events[0].attributes == {"text": "CCCD [VN_ID]"}
    assert exported.status.description == "could not reach [EMAIL]"
    assert exported.context.trace_id == span.get_span_context().trace_id
