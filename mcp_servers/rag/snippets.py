"""The passage of a chunk to quote in a citation: the sentences that best match the query."""

from __future__ import annotations

import re

from mcp_servers.rag.glossary import fold
from mcp_servers.rag.terms import terms

DEFAULT_SNIPPET_CHARS = 280
_SENTENCE = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+|\n\s*\n")


def snippet(text: str, query: str, *, max_chars: int = DEFAULT_SNIPPET_CHARS) -> str:
    """Start at the sentence sharing the most terms with `query` (diacritics aside), then add
    sentences to `max_chars`."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]
    if not sentences:
        return ""
    # Matched without diacritics, as retrieval matches them: "chinh sach doi tra" asks for the
    # sentence that says "Chính sách đổi trả".
    wanted = set(terms(fold(query)))
    overlap = [len(wanted.intersection(terms(fold(sentence)))) for sentence in sentences]
    start = max(range(len(sentences)), key=lambda i: (overlap[i], -i))
    picked = sentences[start]
    for sentence in sentences[start + 1 :]:
        if len(picked) + 1 + len(sentence) > max_chars:
            break
        picked = f"{picked} {sentence}"
    if len(picked) <= max_chars:
        return picked
    cut = picked[:max_chars].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
