"""Masking a tenant's redacted categories in what the caller receives (never in what models see).

Streamed text is released line by line, so a number split across two deltas is still masked.
"""

from __future__ import annotations

from agentmesh.redaction import Redactor
from host.events import DeltaEvent, FinalEvent, ToolCallEvent, ToolResultEvent, TurnEvent


class ResponseRedaction:
    """Rewrites one turn's events as the caller may see them."""

    def __init__(self, redactor: Redactor | None) -> None:
        self._redactor = redactor
        self._pending = ""

    def events(self, event: TurnEvent) -> list[TurnEvent]:
        """What the caller receives for `event` (a delta may be held back until its line ends)."""
        redactor = self._redactor
        if redactor is None:
            return [event]
        redact = redactor.redact_obj
        if isinstance(event, DeltaEvent):
            self._pending += event.text
            head, newline, tail = self._pending.rpartition("\n")
            if not newline:
                return []
            self._pending = tail
            return [DeltaEvent(text=redactor.redact(head + newline))]
        if isinstance(event, ToolCallEvent):
            return [event.model_copy(update={"arguments": redact(event.arguments)})]
        if isinstance(event, ToolResultEvent):
            return [
                event.model_copy(update={"text": redact(event.text), "structured": redact(event.structured)})
            ]
        if isinstance(event, FinalEvent):
            flushed: list[TurnEvent] = (
                [DeltaEvent(text=redactor.redact(self._pending))] if self._pending else []
            )
            self._pending = ""
            update = {
                "answer": redact(event.answer),
                "data": redact(event.data),
                "citations": redact(event.citations),
            }
            return [*flushed, event.model_copy(update=update)]
        return [event]
