"""How far an ingestion has come, as one number from 0 to 100 that only grows.

`KnowledgeBase.ingest` reports `(phase, done, total)` per step (documents parsed, chunk batches
embedded, points written); a client shown progress needs one increasing figure (the MCP spec
requires each notification's progress to exceed the last). Each phase covers its own span.
"""

from __future__ import annotations

from mcp_servers.common.progress import StepReport

PHASE_SPANS: dict[str, tuple[float, float]] = {
    "parsing": (0.0, 5.0),
    "embedding": (5.0, 90.0),
    "writing": (90.0, 99.0),
    "done": (100.0, 100.0),
}
PHASE_WORDS = {
    "parsing": "parsing the document",
    "embedding": "embedding chunks",
    "writing": "writing chunks",
    "done": "ingested",
}


class IngestProgress:
    """A `KnowledgeBase.ingest` progress hook that reports percent steps, each above the last."""

    def __init__(self, report: StepReport) -> None:
        self._report = report
        self._last = -1.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        start, end = PHASE_SPANS.get(phase, (self._last, self._last))
        percent = round(start + (end - start) * (done / total if total else 1.0), 1)
        if percent <= self._last:
            return
        self._last = percent
        self._report(percent, 100.0, f"{PHASE_WORDS.get(phase, phase)}: {done}/{total}")
