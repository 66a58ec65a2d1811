"""Masking personal data in traces before any exporter sees them.

`RedactingSpanProcessor` wraps the processor that exports spans (a `BatchSpanProcessor` over
OTLP, say): each finished span is handed on as a copy whose name, string attributes, event
attributes and status description have been redacted. Install it in place of the exporting
processor: `provider.add_span_processor(RedactingSpanProcessor(BatchSpanProcessor(exporter)))`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Status

from agentmesh.redaction import Redactor


class RedactingSpanProcessor(SpanProcessor):
    """Passes spans to `inner` with personal data masked (`redactor`: all built-in categories)."""

    def __init__(self, inner: SpanProcessor, redactor: Redactor | None = None) -> None:
        self._inner = inner
        self._redactor = redactor or Redactor()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._inner.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self._inner.on_end(self.redacted(span))

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def redacted(self, span: ReadableSpan) -> ReadableSpan:
        """A copy of `span` with its text redacted (numbers, booleans and ids kept)."""
        status = span.status
        if status.description:
            status = Status(status.status_code, self._redactor.redact(status.description))
        return ReadableSpan(
            name=self._redactor.redact(span.name),
            context=span.get_span_context(),
            parent=span.parent,
            resource=span.resource,
            attributes=self._attributes(span.attributes),
            events=[Event(e.name, self._attributes(e.attributes), e.timestamp) for e in span.events],
            links=span.links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def _attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        redacted: dict[str, Any] = {}
        for key, value in (attributes or {}).items():
            if isinstance(value, str):
                redacted[key] = self._redactor.redact(value)
            elif isinstance(value, tuple | list):
                redacted[key] = tuple(self._redactor.redact(v) if isinstance(v, str) else v for v in value)
            else:
                redacted[key] = value
        return redacted
