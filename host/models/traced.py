"""A model wrapper that makes each step a client span of the turn's trace (gateway, host, model, MCP).

The span is not made current: a step streams across yields, and the trace context must not leak
into the consumer's code between them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from host.models.base import Model, ModelRequest, ModelResponse, TextDelta

_tracer = trace.get_tracer("agentmesh.host")


class TracedModel:
    """`model`, each `stream` call one `model <name>` span with the step's token use."""

    def __init__(self, model: Model) -> None:
        self._model = model
        self.name = model.name

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextDelta | ModelResponse]:
        span = _tracer.start_span(
            f"model {self.name}",
            kind=SpanKind.CLIENT,
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": self.name},
        )
        try:
            async for item in self._model.stream(request):
                if isinstance(item, ModelResponse):
                    span.set_attribute("gen_ai.usage.input_tokens", item.usage.input_tokens)
                    span.set_attribute("gen_ai.usage.output_tokens", item.usage.output_tokens)
                    span.set_attribute("agentmesh.tool_calls", len(item.tool_calls))
                yield item
        finally:
            span.end()
