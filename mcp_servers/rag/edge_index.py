"""The knowledge index on Qdrant Edge: Qdrant's own engine, embedded in the process.

Qdrant local mode (`index.KnowledgeIndex` without a URL) is an exact pure-Python engine whose
query time grows with every chunk stored; Qdrant Edge runs the server's Rust segments in process
(payload indexes, the tenant index, an inverted index for sparse vectors), so a filtered hybrid
query over thousands of chunks takes about a millisecond instead of hundreds.

The layout and guarantees are those of `KnowledgeIndex` and are written once in
`engine.KnowledgeEngine`: one shard of chunks and one of document records, both partitioned by a
`tenant_id` payload indexed with `is_tenant`. This module provides the engine's primitives on
Edge's types. Search filters arrive as qdrant-client conditions (what `filters.filter_conditions`
builds) and are translated here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as edge
from qdrant_client import models

from mcp_servers.rag.bm25 import SparseWeights
from mcp_servers.rag.engine import (
    DENSE,
    SPARSE,
    TENANT_FIELD,
    ChunkPoint,
    Collection,
    KnowledgeEngine,
    ScoredChunk,
    StoredPoint,
)

CHUNK_SHARD = "chunks"
DOCUMENT_SHARD = "documents"
# Edge refuses a shard without any vector; document records carry none, so this one stays empty.
_RECORD_VECTOR = "none"


class EdgeKnowledgeIndex(KnowledgeEngine):
    """The knowledge index on Qdrant Edge shards in the process."""

    def __init__(self, chunks: edge.EdgeShard, documents: edge.EdgeShard) -> None:
        super().__init__(threading.RLock())
        self._shards: dict[Collection, edge.EdgeShard] = {"chunks": chunks, "documents": documents}

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
            for shard in self._shards.values():
                shard.flush()
                shard.close()

    # -- the engine's primitives -----------------------------------------------------------------

    def _retrieve(
        self,
        collection: Collection,
        point_ids: Sequence[str],
        *,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        vectors: bool | Sequence[str] = False,
    ) -> list[StoredPoint]:
        ids: list[edge.PointId] = list(point_ids)
        records = self._shards[collection].retrieve(
            ids,
            with_payload=_payload_selector(include, exclude),
            with_vector=vectors if isinstance(vectors, bool) else list(vectors),
        )
        return [StoredPoint(str(record.id), dict(record.payload or {}), record.vector) for record in records]

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
        request = edge.ScrollRequest(
            offset=offset,
            limit=limit,
            filter=_tenant_filter(tenant_id, *_matches(matches)),
            with_payload=_payload_selector(None, exclude),
            with_vector=False,
        )
        records, next_offset = self._shards[collection].scroll(request)
        return [dict(record.payload or {}) for record in records], next_offset

    def _count_chunks(self, tenant_id: str) -> int:
        return self._shards["chunks"].count(edge.CountRequest(exact=True, filter=_tenant_filter(tenant_id)))

    def _upsert_chunks(self, tenant_id: str, points: Sequence[ChunkPoint]) -> None:
        batch = [_to_point(tenant_id, point) for point in points]
        self._shards["chunks"].update(edge.UpdateOperation.upsert_points(batch))

    def _write_record(self, point: StoredPoint) -> None:
        record = edge.Point(point.point_id, {}, point.payload)
        self._shards["documents"].update(edge.UpdateOperation.upsert_points([record]))

    def _restore_chunks(self, points: Sequence[StoredPoint]) -> None:
        restored = [edge.Point(point.point_id, point.vectors or {}, point.payload) for point in points]
        self._shards["chunks"].update(edge.UpdateOperation.upsert_points(restored))

    def _delete(self, collection: Collection, point_ids: Sequence[str]) -> None:
        ids: list[edge.PointId] = list(point_ids)
        self._shards[collection].update(edge.UpdateOperation.delete_points(ids))

    def _delete_matching(self, collection: Collection, tenant_id: str, matches: Mapping[str, str]) -> None:
        flt = _tenant_filter(tenant_id, *_matches(matches))
        self._shards[collection].update(edge.UpdateOperation.delete_points_by_filter(flt))

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
        flt = _tenant_filter(tenant_id, *(_edge_condition(condition) for condition in conditions))
        idf = edge.SearchParams(idf=edge.IdfParams(corpus=_tenant_filter(tenant_id)))
        dense_query = edge.Query.Nearest(dense, using=DENSE) if dense is not None else None
        sparse_query = (
            edge.Query.Nearest(edge.SparseVector(sparse.indices, sparse.values), using=SPARSE)
            if sparse
            else None
        )
        if dense_query is not None and sparse_query is not None:
            request = edge.QueryRequest(
                limit=limit,
                filter=flt,
                with_payload=True,
                with_vector=False,
                # Distribution-based score fusion, as in local mode (see `index`).
                query=edge.Fusion.Dbsf(),  # type: ignore[arg-type]  # the stubs type Dbsf apart from Fusion
                prefetches=[
                    edge.Prefetch(limit=depth, query=sparse_query, params=idf),
                    edge.Prefetch(limit=depth, query=dense_query),
                ],
            )
        elif sparse_query is not None:
            request = edge.QueryRequest(
                limit=limit, filter=flt, with_payload=True, with_vector=False, query=sparse_query, params=idf
            )
        else:
            request = edge.QueryRequest(
                limit=limit, filter=flt, with_payload=True, with_vector=False, query=dense_query
            )
        return [
            ScoredChunk(point_id=str(point.id), score=float(point.score), payload=dict(point.payload or {}))
            for point in self._shards["chunks"].query(request)
        ]


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


def _payload_selector(include: Sequence[str] | None, exclude: Sequence[str]) -> Any:
    if include is not None:
        return list(include)
    return edge.PayloadSelector.Exclude(list(exclude)) if exclude else True


def _match(field: str, value: str) -> edge.FieldCondition:
    return edge.FieldCondition(field, match=edge.MatchValue(value))


def _matches(matches: Mapping[str, str]) -> list[edge.FieldCondition]:
    return [_match(field, value) for field, value in matches.items()]


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
