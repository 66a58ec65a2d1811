"""The knowledge index on Qdrant Edge: Qdrant's own engine, embedded in the process.

Qdrant local mode (`index.KnowledgeIndex` without a URL) is an exact pure-Python engine whose
query time grows with every chunk stored; Qdrant Edge runs the server's Rust segments in process
(payload indexes, the tenant index, an inverted index for sparse vectors), so a filtered hybrid
query over thousands of chunks takes about a millisecond instead of hundreds.

The layout and guarantees are those of `KnowledgeIndex`: one shard of chunks and one of document
records, both partitioned by a `tenant_id` payload indexed with `is_tenant`; every read and write
puts the tenant in the filter itself; BM25's IDF is counted over the tenant's own chunks; a failed
document replacement is undone. Search filters arrive as qdrant-client conditions (what
`filters.filter_conditions` builds) and are translated here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import qdrant_edge as edge
from qdrant_client import models

from mcp_servers.rag.bm25 import SparseWeights
from mcp_servers.rag.index import (
    DENSE,
    SPARSE,
    TENANT_FIELD,
    ChunkPoint,
    ScoredChunk,
    SearchMode,
    document_point_id,
)

CHUNK_SHARD = "chunks"
DOCUMENT_SHARD = "documents"
# Edge refuses a shard without any vector; document records carry none, so this one stays empty.
_RECORD_VECTOR = "none"
_PREFETCH_FLOOR = 100
_SCROLL_PAGE = 256
_WRITE_BATCH = 128


class EdgeKnowledgeIndex:
    """Tenant-scoped storage and retrieval of document records and their chunks, on Qdrant Edge."""

    def __init__(self, chunks: edge.EdgeShard, documents: edge.EdgeShard) -> None:
        self._chunks = chunks
        self._documents = documents
        # A document replacement reads, writes and may undo; no other write may interleave.
        self._lock = threading.RLock()

    @classmethod
    def open(cls, *, path: Path, dimension: int) -> EdgeKnowledgeIndex:
        """The shards under `path`, created with their indexes on first use."""
        chunk_config = edge.EdgeConfig(
            vectors={DENSE: edge.EdgeVectorParams(size=dimension, distance=edge.Distance.Cosine)},
            sparse_vectors={SPARSE: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
        )
        record_config = edge.EdgeConfig(sparse_vectors={_RECORD_VECTOR: edge.EdgeSparseVectorParams()})
        chunks = _open_shard(path / CHUNK_SHARD, chunk_config, ["document_id"])
        documents = _open_shard(path / DOCUMENT_SHARD, record_config, ["document_id", "content_hash"])
        return cls(chunks, documents)

    def close(self) -> None:
        with self._lock:
            for shard in (self._chunks, self._documents):
                shard.flush()
                shard.close()

    # Documents -------------------------------------------------------------------------------

    def document(self, tenant_id: str, document_id: str, *, with_text: bool = True) -> dict[str, Any] | None:
        """The record of one of the tenant's documents, or None."""
        hidden = ["chunk_ids"] if with_text else ["chunk_ids", "text"]
        with self._lock:
            found = self._documents.retrieve(
                [document_point_id(tenant_id, document_id)],
                with_payload=edge.PayloadSelector.Exclude(hidden),
                with_vector=False,
            )
        # The id is derived from the tenant, but the payload is checked too: defence in depth.
        for record in found:
            if record.payload and record.payload.get(TENANT_FIELD) == tenant_id:
                return dict(record.payload)
        return None

    def documents(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every document record of the tenant, without the full text."""
        return list(self._scroll(self._documents, _tenant_filter(tenant_id), exclude=["text", "chunk_ids"]))

    def document_with_content(self, tenant_id: str, content_hash: str) -> dict[str, Any] | None:
        """A document of the tenant whose extracted text hashes to `content_hash`, if any."""
        request = edge.ScrollRequest(
            limit=1,
            filter=_tenant_filter(tenant_id, _match("content_hash", content_hash)),
            with_payload=edge.PayloadSelector.Exclude(["text"]),
            with_vector=False,
        )
        with self._lock:
            records, _ = self._documents.scroll(request)
        return dict(records[0].payload or {}) if records else None

    def chunk_count(self, tenant_id: str) -> int:
        """How many chunks the tenant has stored."""
        with self._lock:
            return self._chunks.count(edge.CountRequest(exact=True, filter=_tenant_filter(tenant_id)))

    # Chunks ----------------------------------------------------------------------------------

    def stored_dense_vectors(self, tenant_id: str, point_ids: Sequence[str]) -> dict[str, list[float]]:
        """Dense vectors already stored for these chunk ids of the tenant (to reuse, not re-embed)."""
        if not point_ids:
            return {}
        with self._lock:
            records = self._chunks.retrieve(list(point_ids), with_payload=[TENANT_FIELD], with_vector=[DENSE])
        vectors: dict[str, list[float]] = {}
        for record in records:
            if (record.payload or {}).get(TENANT_FIELD) != tenant_id or not isinstance(record.vector, dict):
                continue
            dense = record.vector.get(DENSE)
            if isinstance(dense, list):
                # DENSE is configured as one vector per point, never a multivector.
                vectors[str(record.id)] = [float(value) for value in cast(list[float], dense)]
        return vectors

    def replace_document(self, tenant_id: str, record: dict[str, Any], points: Sequence[ChunkPoint]) -> None:
        """Make `record` and `points` the document's whole content, or leave the old content intact.

        New chunks and the record are written first, then the chunks no longer part of the
        document are removed. If writing fails, what was written is undone: the points that did
        not exist before are deleted and the previous record and chunk payloads are put back.
        """
        document_id = str(record["document_id"])
        new_ids = [point.point_id for point in points]
        record_id = document_point_id(tenant_id, document_id)
        with self._lock:
            previous_record = self._documents.retrieve([record_id], with_payload=True, with_vector=False)
            ids: list[edge.PointId] = list(new_ids)
            previous_points = self._chunks.retrieve(ids, with_payload=True, with_vector=True)
            try:
                chunk_points = [_to_point(tenant_id, point) for point in points]
                for start in range(0, len(chunk_points), _WRITE_BATCH):
                    batch = chunk_points[start : start + _WRITE_BATCH]
                    self._chunks.update(edge.UpdateOperation.upsert_points(batch))
                payload = {**record, "chunk_ids": new_ids, TENANT_FIELD: tenant_id}
                self._write_record(edge.Point(record_id, {}, payload))
            except Exception:
                self._undo_replace(record_id, previous_record, previous_points, new_ids)
                raise
            old_ids = (previous_record[0].payload or {}).get("chunk_ids", []) if previous_record else []
            stale = sorted(set(old_ids) - set(new_ids))
            if stale:
                self._chunks.update(edge.UpdateOperation.delete_points(stale))

    def _write_record(self, point: edge.Point) -> None:
        self._documents.update(edge.UpdateOperation.upsert_points([point]))

    def _undo_replace(
        self,
        record_id: str,
        previous_record: list[edge.Record],
        previous_points: list[edge.Record],
        new_ids: list[str],
    ) -> None:
        existed = {str(point.id) for point in previous_points}
        added: list[edge.PointId] = [point_id for point_id in new_ids if point_id not in existed]
        if added:
            self._chunks.update(edge.UpdateOperation.delete_points(added))
        if previous_points:
            restored = [edge.Point(point.id, point.vector or {}, point.payload) for point in previous_points]
            self._chunks.update(edge.UpdateOperation.upsert_points(restored))
        if previous_record:
            old = previous_record[0]
            self._write_record(edge.Point(old.id, {}, old.payload))
        else:
            self._documents.update(edge.UpdateOperation.delete_points([record_id]))

    def delete_document(self, tenant_id: str, document_id: str) -> dict[str, Any] | None:
        """Delete the document and its chunks; its record, or None when the tenant has no such document."""
        with self._lock:
            record = self.document(tenant_id, document_id, with_text=False)
            if record is None:
                return None
            flt = _tenant_filter(tenant_id, _match("document_id", document_id))
            self._chunks.update(edge.UpdateOperation.delete_points_by_filter(flt))
            self._documents.update(edge.UpdateOperation.delete_points_by_filter(flt))
            return record

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
        """The tenant's best chunks for a query by dense, sparse or fused (RRF) ranking."""
        flt = _tenant_filter(tenant_id, *(_edge_condition(condition) for condition in conditions))
        # BM25's IDF is counted over the tenant's chunks only: global statistics would let one
        # tenant's documents shift (and so reveal themselves in) another tenant's scores.
        idf = edge.SearchParams(idf=edge.IdfParams(corpus=_tenant_filter(tenant_id)))
        dense_query = (
            edge.Query.Nearest([float(value) for value in dense], using=DENSE) if dense is not None else None
        )
        sparse_query = (
            edge.Query.Nearest(edge.SparseVector(sparse.indices, sparse.values), using=SPARSE)
            if sparse
            else None
        )
        if mode == "hybrid" and dense_query is not None and sparse_query is not None:
            depth = max(_PREFETCH_FLOOR, limit * 2)
            request = edge.QueryRequest(
                limit=limit,
                filter=flt,
                with_payload=True,
                with_vector=False,
                # Qdrant's default RRF constant, so both engines fuse alike.
                query=edge.Fusion.Rrf(k=2),  # type: ignore[arg-type]  # the stubs type Rrf apart from Fusion
                prefetches=[
                    edge.Prefetch(limit=depth, query=sparse_query, params=idf),
                    edge.Prefetch(limit=depth, query=dense_query),
                ],
            )
        elif mode in ("hybrid", "sparse") and sparse_query is not None:
            request = edge.QueryRequest(
                limit=limit, filter=flt, with_payload=True, with_vector=False, query=sparse_query, params=idf
            )
        elif mode in ("hybrid", "dense") and dense_query is not None:
            request = edge.QueryRequest(
                limit=limit, filter=flt, with_payload=True, with_vector=False, query=dense_query
            )
        else:
            return []
        with self._lock:
            points = self._chunks.query(request)
        return [
            ScoredChunk(point_id=str(point.id), score=float(point.score), payload=dict(point.payload or {}))
            for point in points
            if (point.payload or {}).get(TENANT_FIELD) == tenant_id
        ]

    def _scroll(
        self, shard: edge.EdgeShard, flt: edge.Filter, *, exclude: list[str]
    ) -> Iterator[dict[str, Any]]:
        offset: edge.PointId | None = None
        while True:
            request = edge.ScrollRequest(
                offset=offset,
                limit=_SCROLL_PAGE,
                filter=flt,
                with_payload=edge.PayloadSelector.Exclude(exclude),
                with_vector=False,
            )
            with self._lock:
                records, offset = shard.scroll(request)
            yield from (dict(record.payload or {}) for record in records)
            if offset is None:
                return


def _open_shard(path: Path, config: edge.EdgeConfig, keyword_fields: list[str]) -> edge.EdgeShard:
    if path.is_dir() and any(path.iterdir()):
        return edge.EdgeShard.load(str(path), config)
    shard = edge.EdgeShard.create(str(path), config)
    shard.update(
        edge.UpdateOperation.create_field_index(TENANT_FIELD, edge.KeywordIndexParams(is_tenant=True))
    )
    for field in keyword_fields:
        shard.update(edge.UpdateOperation.create_field_index(field, edge.PayloadSchemaType.Keyword))
    return shard


def _match(field: str, value: str) -> edge.FieldCondition:
    return edge.FieldCondition(field, match=edge.MatchValue(value))


def _tenant_filter(tenant_id: str, *conditions: edge.FieldCondition) -> edge.Filter:
    if not tenant_id:
        raise ValueError("a tenant is required")
    return edge.Filter(must=[_match(TENANT_FIELD, tenant_id), *conditions])


def _edge_condition(condition: models.Condition) -> edge.FieldCondition:
    """A search filter condition (an exact match or a match of any listed value) in Edge's types."""
    if isinstance(condition, models.FieldCondition):
        if isinstance(condition.match, models.MatchValue):
            return edge.FieldCondition(condition.key, match=edge.MatchValue(condition.match.value))
        if isinstance(condition.match, models.MatchAny):
            return edge.FieldCondition(condition.key, match=edge.MatchAny(condition.match.any))
    raise TypeError(f"the embedded engine takes exact-match field conditions only, not {condition!r}")


def _to_point(tenant_id: str, point: ChunkPoint) -> edge.Point:
    vectors: dict[str, edge.NamedVector] = {
        DENSE: [float(value) for value in point.dense],
        SPARSE: edge.SparseVector(list(point.sparse.indices), list(point.sparse.values)),
    }
    return edge.Point(point.point_id, vectors, {**point.payload, TENANT_FIELD: tenant_id})
