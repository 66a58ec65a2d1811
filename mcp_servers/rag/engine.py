"""The knowledge index, written once over the few storage primitives an engine provides.

Two engines store the knowledge base: `index.KnowledgeIndex` (qdrant-client: Qdrant local mode on
disk, or a Qdrant server) and `edge_index.EdgeKnowledgeIndex` (Qdrant Edge, Qdrant's engine in
the process). Both keep the same layout: a collection of chunks and one of document records,
shared by every tenant and partitioned by a `tenant_id` payload field indexed with `is_tenant`.

What the knowledge base relies on is written here, once: every read and write is scoped to the
tenant (its filter is built by the engine from the tenant given here, and what comes back is
checked against it again); a document replacement is whole or not at all (a failed write is
undone); listings scroll page by page; a search picks its query (hybrid, dense or sparse) the
same way on both engines. An engine implements only the primitives below, in its own types.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from qdrant_client import models

from mcp_servers.rag.bm25 import SparseWeights

CHUNKS = "kb_chunks"
DOCUMENTS = "kb_documents"
DENSE = "dense"
SPARSE = "bm25"
TENANT_FIELD = "tenant_id"

Collection = Literal["chunks", "documents"]
SearchMode = Literal["hybrid", "dense", "sparse"]

PREFETCH_FLOOR = 100
"""Each side of a hybrid query ranks at least this many chunks before they are fused."""
SCROLL_PAGE = 256
WRITE_BATCH = 128

_POINT_NAMESPACE = uuid.UUID("5d7c3f1e-8a4b-4c59-9a53-2b6f0f1c7e21")
_HIDDEN = ["chunk_ids"]
"""Payload fields kept for the engine's own bookkeeping, never handed to callers."""


def chunk_point_id(tenant_id: str, document_id: str, vector_key: str) -> str:
    """The point id of a chunk: the same tenant, document and indexed text always map to it."""
    return str(uuid.uuid5(_POINT_NAMESPACE, f"chunk\x1f{tenant_id}\x1f{document_id}\x1f{vector_key}"))


def document_point_id(tenant_id: str, document_id: str) -> str:
    """The point id of a document record."""
    return str(uuid.uuid5(_POINT_NAMESPACE, f"document\x1f{tenant_id}\x1f{document_id}"))


@dataclass(frozen=True)
class ChunkPoint:
    """A chunk ready to store: payload, dense vector and sparse BM25 weights."""

    point_id: str
    payload: dict[str, Any]
    dense: Sequence[float]
    sparse: SparseWeights


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk found by a search: its stored payload and its fused (or single-method) score."""

    point_id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoredPoint:
    """A point as read back from an engine, to write back unchanged if a replacement is undone.

    `vectors` are the named vectors in the engine's own form (`None` when not read); a dense
    vector is a list of floats in both engines.
    """

    point_id: str
    payload: dict[str, Any]
    vectors: Any = None


class KnowledgeEngine(ABC):
    """Tenant-scoped storage and retrieval of document records and their chunks."""

    def __init__(self, lock: AbstractContextManager[Any]) -> None:
        # A replacement reads, writes and may undo; no other write may interleave with it.
        self._lock = lock

    # -- what an engine provides -----------------------------------------------------------------

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _retrieve(
        self,
        collection: Collection,
        point_ids: Sequence[str],
        *,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        vectors: bool | Sequence[str] = False,
    ) -> list[StoredPoint]:
        """The points with these ids; payload fields `include`d only, or all but `exclude`."""

    @abstractmethod
    def _scroll_page(
        self,
        collection: Collection,
        tenant_id: str,
        matches: Mapping[str, str],
        *,
        exclude: Sequence[str],
        limit: int,
        offset: Any,
    ) -> tuple[list[dict[str, Any]], Any]:
        """A page of the tenant's payloads whose fields equal `matches`; the next offset, None at the end."""

    @abstractmethod
    def _count_chunks(self, tenant_id: str) -> int: ...

    @abstractmethod
    def _upsert_chunks(self, tenant_id: str, points: Sequence[ChunkPoint]) -> None:
        """Write chunks, their payloads stamped with the tenant."""

    @abstractmethod
    def _write_record(self, point: StoredPoint) -> None:
        """Write one document record (records carry no vectors)."""

    @abstractmethod
    def _restore_chunks(self, points: Sequence[StoredPoint]) -> None:
        """Write chunks back exactly as `_retrieve` read them, vectors included."""

    @abstractmethod
    def _delete(self, collection: Collection, point_ids: Sequence[str]) -> None: ...

    @abstractmethod
    def _delete_matching(
        self, collection: Collection, tenant_id: str, matches: Mapping[str, str]
    ) -> None: ...

    @abstractmethod
    def _query(
        self,
        tenant_id: str,
        conditions: Sequence[models.Condition],
        *,
        dense: list[float] | None,
        sparse: SparseWeights | None,
        limit: int,
        depth: int,
    ) -> list[ScoredChunk]:
        """The tenant's best chunks: fused by DBSF over `depth`-deep prefetches when both queries are
        given, else by the one given. BM25's IDF is counted over the tenant's own chunks only:
        global statistics would let one tenant's documents shift (and so reveal themselves in)
        another tenant's scores."""

    # -- documents -------------------------------------------------------------------------------

    def document(self, tenant_id: str, document_id: str, *, with_text: bool = True) -> dict[str, Any] | None:
        """The record of one of the tenant's documents, or None."""
        hidden = _HIDDEN if with_text else [*_HIDDEN, "text"]
        with self._lock:
            found = self._retrieve("documents", [document_point_id(tenant_id, document_id)], exclude=hidden)
        # The id is derived from the tenant, but the payload is checked too: defence in depth.
        for record in found:
            if record.payload.get(TENANT_FIELD) == tenant_id:
                return record.payload
        return None

    def documents(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every document record of the tenant, without the full text."""
        return list(self._scroll("documents", tenant_id, {}, exclude=["text", *_HIDDEN]))

    def document_with_content(self, tenant_id: str, content_hash: str) -> dict[str, Any] | None:
        """A document of the tenant whose extracted text hashes to `content_hash`, if any."""
        with self._lock:
            records, _ = self._scroll_page(
                "documents", tenant_id, {"content_hash": content_hash}, exclude=["text"], limit=1, offset=None
            )
        return records[0] if records else None

    def chunk_count(self, tenant_id: str) -> int:
        """How many chunks the tenant has stored."""
        with self._lock:
            return self._count_chunks(tenant_id)

    # -- chunks ----------------------------------------------------------------------------------

    def stored_dense_vectors(self, tenant_id: str, point_ids: Sequence[str]) -> dict[str, list[float]]:
        """Dense vectors already stored for these chunk ids of the tenant (to reuse, not re-embed)."""
        if not point_ids:
            return {}
        with self._lock:
            records = self._retrieve("chunks", point_ids, include=[TENANT_FIELD], vectors=[DENSE])
        vectors: dict[str, list[float]] = {}
        for record in records:
            if record.payload.get(TENANT_FIELD) != tenant_id or not isinstance(record.vectors, dict):
                continue
            dense = record.vectors.get(DENSE)
            if isinstance(dense, list):  # DENSE is one vector per point, never a multivector
                vectors[record.point_id] = [float(value) for value in dense]
        return vectors

    def replace_document(self, tenant_id: str, record: dict[str, Any], points: Sequence[ChunkPoint]) -> None:
        """Make `record` and `points` the document's whole content, or leave the old content intact.

        New chunks and the record are written first, then the chunks no longer part of the
        document are removed. If writing fails, what was written is undone: the points that did
        not exist before are deleted and the previous record and chunk payloads are put back.
        The record lists its chunk ids, so stale chunks are deleted by id (no scan of the tenant).
        """
        new_ids = [point.point_id for point in points]
        record_id = document_point_id(tenant_id, str(record["document_id"]))
        with self._lock:
            previous_record = self._retrieve("documents", [record_id])
            previous_points = self._retrieve("chunks", new_ids, vectors=True)
            try:
                for start in range(0, len(points), WRITE_BATCH):
                    self._upsert_chunks(tenant_id, points[start : start + WRITE_BATCH])
                payload = {**record, "chunk_ids": new_ids, TENANT_FIELD: tenant_id}
                self._write_record(StoredPoint(record_id, payload))
            except Exception:
                self._undo_replace(record_id, previous_record, previous_points, new_ids)
                raise
            old_ids = previous_record[0].payload.get("chunk_ids", []) if previous_record else []
            stale = sorted(set(old_ids) - set(new_ids))
            if stale:
                self._delete("chunks", stale)

    def _undo_replace(
        self,
        record_id: str,
        previous_record: list[StoredPoint],
        previous_points: list[StoredPoint],
        new_ids: list[str],
    ) -> None:
        existed = {point.point_id for point in previous_points}
        added = [point_id for point_id in new_ids if point_id not in existed]
        if added:
            self._delete("chunks", added)
        if previous_points:
            self._restore_chunks(previous_points)
        if previous_record:
            self._write_record(previous_record[0])
        else:
            self._delete("documents", [record_id])

    def delete_document(self, tenant_id: str, document_id: str) -> dict[str, Any] | None:
        """Delete the document and its chunks; its record, or None when the tenant has no such document."""
        with self._lock:
            record = self.document(tenant_id, document_id, with_text=False)
            if record is None:
                return None
            matches = {"document_id": document_id}
            self._delete_matching("chunks", tenant_id, matches)
            self._delete_matching("documents", tenant_id, matches)
            return record

    def delete_tenant(self, tenant_id: str) -> tuple[int, int]:
        """Delete every document record and chunk of the tenant; how many (documents, chunks) went."""
        with self._lock:
            documents = sum(1 for _ in self._scroll("documents", tenant_id, {}, exclude=["text", *_HIDDEN]))
            chunks = self._count_chunks(tenant_id)
            self._delete_matching("chunks", tenant_id, {})
            self._delete_matching("documents", tenant_id, {})
        return documents, chunks

    def tenant_chunks(self, tenant_id: str, document_id: str) -> Iterator[dict[str, Any]]:
        """The stored payloads of one of the tenant's documents' chunks (for an export)."""
        return self._scroll("chunks", tenant_id, {"document_id": document_id}, exclude=_HIDDEN)

    def search(
        self,
        tenant_id: str,
        *,
        dense: Sequence[float] | np.ndarray | None,
        sparse: SparseWeights | None,
        limit: int,
        conditions: Sequence[models.Condition] = (),
        mode: SearchMode = "hybrid",
    ) -> list[ScoredChunk]:
        """The tenant's best chunks for a query by dense, sparse or fused (DBSF) ranking."""
        dense_query = [float(value) for value in dense] if dense is not None and mode != "sparse" else None
        sparse_query = sparse if sparse and mode != "dense" else None
        if dense_query is None and sparse_query is None:
            return []
        depth = max(PREFETCH_FLOOR, limit * 2)
        with self._lock:
            found = self._query(
                tenant_id, conditions, dense=dense_query, sparse=sparse_query, limit=limit, depth=depth
            )
        return [chunk for chunk in found if chunk.payload.get(TENANT_FIELD) == tenant_id]

    def _scroll(
        self, collection: Collection, tenant_id: str, matches: Mapping[str, str], *, exclude: list[str]
    ) -> Iterator[dict[str, Any]]:
        offset: Any = None
        while True:
            with self._lock:
                records, offset = self._scroll_page(
                    collection, tenant_id, matches, exclude=exclude, limit=SCROLL_PAGE, offset=offset
                )
            yield from records
            if offset is None:
                return
