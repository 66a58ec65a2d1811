"""The knowledge index's life on a Qdrant server, as a list of operations on two tenants.

Recorded once by `record.py` and replayed by the tests, so both run exactly these operations.
Everything is deterministic (fixed vectors, texts and timestamps), so the requests the index
sends are byte-for-byte the recorded ones. acme and globex each hold a document with the same
id on the same topic: a request that forgets the tenant would mix them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qdrant_client import models

from mcp_servers.rag.bm25 import Bm25Encoder
from mcp_servers.rag.engine import ChunkPoint, SearchMode, chunk_point_id, document_point_id
from mcp_servers.rag.index import KnowledgeIndex

DIMENSION = 4
ACME = "acme"
GLOBEX = "globex"
DOCUMENT = "returns-policy"
QUERY = "How many days do I have to return an order?"
QUERY_VECTOR = [0.88, 0.12, 0.02, 0.1]
_ENCODER = Bm25Encoder()
_STAMP = "2025-06-30T08:00:00+00:00"


@dataclass(frozen=True)
class Operation:
    """One call on the index on behalf of `tenant` (None: collection setup)."""

    name: str
    tenant: str | None
    run: Callable[[KnowledgeIndex], Any]


def open_index(url: str) -> KnowledgeIndex:
    """The index on the Qdrant server at `url`, as `QDRANT_URL` makes the rag server open it."""
    return KnowledgeIndex.open(path=None, url=url, dimension=DIMENSION)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def chunk(tenant: str, index: int, count: int, text: str, dense: list[float]) -> ChunkPoint:
    return ChunkPoint(
        point_id=chunk_point_id(tenant, DOCUMENT, content_hash(text)),
        payload={
            "document_id": DOCUMENT,
            "title": "Returns policy",
            "chunk_index": index,
            "chunk_count": count,
            "heading": "Returns",
            "text": text,
            "content_hash": content_hash(text),
            "metadata": {},
        },
        dense=dense,
        sparse=_ENCODER.document(text),
    )


def record(chunks: list[ChunkPoint]) -> dict[str, Any]:
    text = "\n\n".join(point.payload["text"] for point in chunks)
    return {
        "document_id": DOCUMENT,
        "title": "Returns policy",
        "source_type": "text",
        "mime_type": "text/plain",
        "filename": None,
        "metadata": {},
        "content_hash": content_hash(text),
        "chunk_count": len(chunks),
        "characters": len(text),
        "created_at": _STAMP,
        "updated_at": _STAMP,
        "text": text,
    }


ACME_V1 = [
    chunk(ACME, 0, 2, "Returns are accepted within 30 days of delivery.", [0.9, 0.1, 0.0, 0.1]),
    chunk(ACME, 1, 2, "Refunds go to the original payment method in 5 business days.", [0.1, 0.9, 0.1, 0.0]),
]
ACME_V2 = [
    ACME_V1[0],
    chunk(ACME, 1, 2, "Refunds are issued within 10 business days.", [0.2, 0.8, 0.1, 0.0]),
]
GLOBEX_V1 = [
    chunk(GLOBEX, 0, 1, "Globex accepts returns within 14 days of delivery.", [0.85, 0.15, 0.05, 0.1])
]


def _search(
    tenant: str, mode: SearchMode, conditions: tuple[models.Condition, ...] = ()
) -> Callable[[KnowledgeIndex], Any]:
    def run(index: KnowledgeIndex) -> Any:
        return index.search(
            tenant,
            dense=QUERY_VECTOR,
            sparse=_ENCODER.query(QUERY),
            limit=3,
            conditions=conditions,
            mode=mode,
        )

    return run


ONLY_THIS_DOCUMENT = models.FieldCondition(key="document_id", match=models.MatchValue(value=DOCUMENT))

OPERATIONS = [
    Operation(
        "acme stores a document", ACME, lambda index: index.replace_document(ACME, record(ACME_V1), ACME_V1)
    ),
    Operation(
        "globex stores a document with the same id",
        GLOBEX,
        lambda index: index.replace_document(GLOBEX, record(GLOBEX_V1), GLOBEX_V1),
    ),
    Operation(
        "acme replaces one chunk of its document",
        ACME,
        lambda index: index.replace_document(ACME, record(ACME_V2), ACME_V2),
    ),
    Operation("acme searches hybrid", ACME, _search(ACME, "hybrid")),
    Operation("acme searches dense within one document", ACME, _search(ACME, "dense", (ONLY_THIS_DOCUMENT,))),
    Operation("acme searches sparse", ACME, _search(ACME, "sparse")),
    Operation("globex searches hybrid", GLOBEX, _search(GLOBEX, "hybrid")),
    Operation("acme lists its documents", ACME, lambda index: index.documents(ACME)),
    Operation("acme counts its chunks", ACME, lambda index: index.chunk_count(ACME)),
    Operation(
        "acme looks a document up by content",
        ACME,
        lambda index: index.document_with_content(ACME, record(ACME_V2)["content_hash"]),
    ),
    Operation(
        "acme reuses its stored vectors",
        ACME,
        lambda index: index.stored_dense_vectors(ACME, [point.point_id for point in ACME_V2]),
    ),
    Operation("acme reads its document", ACME, lambda index: index.document(ACME, DOCUMENT)),
    Operation("acme deletes its document", ACME, lambda index: index.delete_document(ACME, DOCUMENT)),
    Operation("acme searches after deleting", ACME, _search(ACME, "hybrid")),
    Operation("globex still finds its document", GLOBEX, _search(GLOBEX, "hybrid")),
    Operation("globex lists its documents", GLOBEX, lambda index: index.documents(GLOBEX)),
]
OPENING = "open the index (collections and payload indexes)"


def point_ids(tenant: str) -> set[str]:
    """Every point id the scenario gives the tenant: the only ids its by-id requests may name."""
    chunks = {ACME: ACME_V1 + ACME_V2, GLOBEX: GLOBEX_V1}[tenant]
    return {point.point_id for point in chunks} | {document_point_id(tenant, DOCUMENT)}
