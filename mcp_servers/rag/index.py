"""The knowledge index in Qdrant: one collection of chunks, one of document records.

Both collections are shared by every tenant and partitioned by a `tenant_id` payload field
indexed with `is_tenant=True` (Qdrant's multitenancy layout). Every read and write here takes the
tenant as its first argument and puts it in the filter itself, so no caller can forget it; point
ids are derived from the tenant as well, so two tenants' documents never share a point.

Chunks carry a dense all-MiniLM-L6-v2 vector and a sparse BM25 vector (IDF applied by Qdrant,
counted over the tenant's own chunks so scores reveal nothing of other tenants). Hybrid search
runs both as prefetches and fuses them with reciprocal rank fusion in one Query API call.

The same code runs against Qdrant local mode (on disk, in-process) or a Qdrant server; only the
client construction differs. Local mode is not thread-safe, so calls are serialised there.
`edge_index` keeps the same layout on Qdrant Edge, the server's engine embedded in the process.

Local mode is an exact, pure-Python engine, and its query time grows with every chunk stored,
whichever tenant owns it. A hybrid query there scores every stored sparse vector with a Python
merge join (about 28 µs per chunk of ~130 terms), evaluates the tenant filter point by point three
times (the IDF corpus, the sparse and the dense prefetch, about 8 µs per point each), counts the
tenant's document frequencies for the query terms, and takes a NumPy dot product for the dense
side. Payload indexes, `is_tenant` and HNSW are ignored there; a Qdrant server uses them.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import numpy as np
from qdrant_client import QdrantClient, models

from mcp_servers.rag.bm25 import SparseWeights

CHUNKS = "kb_chunks"
DOCUMENTS = "kb_documents"
DENSE = "dense"
SPARSE = "bm25"
TENANT_FIELD = "tenant_id"

SearchMode = Literal["hybrid", "dense", "sparse"]

_POINT_NAMESPACE = uuid.UUID("5d7c3f1e-8a4b-4c59-9a53-2b6f0f1c7e21")
_PREFETCH_FLOOR = 100
_SCROLL_PAGE = 256


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


class KnowledgeStore(Protocol):
    """What the knowledge base needs of an index: this module's on qdrant-client, or `edge_index`'s."""

    def close(self) -> None: ...

    def document(
        self, tenant_id: str, document_id: str, *, with_text: bool = True
    ) -> dict[str, Any] | None: ...

    def documents(self, tenant_id: str) -> list[dict[str, Any]]: ...

    def document_with_content(self, tenant_id: str, content_hash: str) -> dict[str, Any] | None: ...

    def chunk_count(self, tenant_id: str) -> int: ...

    def stored_dense_vectors(self, tenant_id: str, point_ids: Sequence[str]) -> dict[str, list[float]]: ...

    def replace_document(
        self, tenant_id: str, record: dict[str, Any], points: Sequence[ChunkPoint]
    ) -> None: ...

    def delete_document(self, tenant_id: str, document_id: str) -> dict[str, Any] | None: ...

    def search(
        self,
        tenant_id: str,
        *,
        dense: Sequence[float] | np.ndarray | None,
        sparse: SparseWeights | None,
        limit: int,
        conditions: Sequence[models.Condition] = (),
        mode: SearchMode = "hybrid",
    ) -> list[ScoredChunk]: ...


class KnowledgeIndex:
    """Tenant-scoped storage and retrieval of document records and their chunks."""

    def __init__(self, client: QdrantClient, *, local: bool, dimension: int) -> None:
        self._client = client
        self._local = local
        self._dimension = dimension
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if local else contextlib.nullcontext()
        )
        self._ensure_collections()

    @classmethod
    def open(cls, *, path: Path | None, url: str | None, dimension: int) -> KnowledgeIndex:
        """A Qdrant server at `url` when given, else local mode on disk at `path`."""
        if url:
            return cls(QdrantClient(url=url), local=False, dimension=dimension)
        if path is None:
            raise ValueError("a local index needs a path")
        path.mkdir(parents=True, exist_ok=True)
        return cls(QdrantClient(path=str(path)), local=True, dimension=dimension)

    def close(self) -> None:
        with self._lock:
            self._client.close()

    def _ensure_collections(self) -> None:
        with self._lock:
            if not self._client.collection_exists(CHUNKS):
                self._client.create_collection(
                    CHUNKS,
                    vectors_config={
                        DENSE: models.VectorParams(size=self._dimension, distance=models.Distance.COSINE)
                    },
                    sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                )
                self._create_indexes(CHUNKS, ["document_id"])
            if not self._client.collection_exists(DOCUMENTS):
                self._client.create_collection(DOCUMENTS, vectors_config={})
                self._create_indexes(DOCUMENTS, ["document_id", "content_hash"])

    def _create_indexes(self, collection: str, keyword_fields: list[str]) -> None:
        with warnings.catch_warnings():
            # Local mode warns that it ignores payload indexes; a Qdrant server needs them.
            warnings.simplefilter("ignore", UserWarning)
            self._client.create_payload_index(
                collection,
                TENANT_FIELD,
                models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True),
            )
            for field in keyword_fields:
                self._client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)

    # Documents -------------------------------------------------------------------------------

    def document(self, tenant_id: str, document_id: str, *, with_text: bool = True) -> dict[str, Any] | None:
        """The record of one of the tenant's documents, or None."""
        hidden = ["chunk_ids"] if with_text else ["chunk_ids", "text"]
        selector = models.PayloadSelectorExclude(exclude=hidden)
        with self._lock:
            found = self._client.retrieve(
                DOCUMENTS, [document_point_id(tenant_id, document_id)], with_payload=selector
            )
        # The id is derived from the tenant, but the payload is checked too: defence in depth.
        for record in found:
            if record.payload and record.payload.get(TENANT_FIELD) == tenant_id:
                return dict(record.payload)
        return None

    def documents(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every document record of the tenant, without the full text."""
        return list(self._scroll(DOCUMENTS, _tenant_filter(tenant_id), exclude=["text", "chunk_ids"]))

    def document_with_content(self, tenant_id: str, content_hash: str) -> dict[str, Any] | None:
        """A document of the tenant whose extracted text hashes to `content_hash`, if any."""
        flt = _tenant_filter(tenant_id, _match("content_hash", content_hash))
        with self._lock:
            records, _ = self._client.scroll(
                DOCUMENTS,
                scroll_filter=flt,
                limit=1,
                with_payload=models.PayloadSelectorExclude(exclude=["text"]),
            )
        return dict(records[0].payload or {}) if records else None

    def chunk_count(self, tenant_id: str) -> int:
        """How many chunks the tenant has stored."""
        with self._lock:
            return self._client.count(CHUNKS, count_filter=_tenant_filter(tenant_id), exact=True).count

    # Chunks ----------------------------------------------------------------------------------

    def stored_dense_vectors(self, tenant_id: str, point_ids: Sequence[str]) -> dict[str, list[float]]:
        """Dense vectors already stored for these chunk ids of the tenant (to reuse, not re-embed)."""
        if not point_ids:
            return {}
        with self._lock:
            records = self._client.retrieve(
                CHUNKS, list(point_ids), with_payload=[TENANT_FIELD], with_vectors=[DENSE]
            )
        vectors: dict[str, list[float]] = {}
        for record in records:
            if (record.payload or {}).get(TENANT_FIELD) != tenant_id or not isinstance(record.vector, dict):
                continue
            dense = record.vector.get(DENSE)
            if dense is not None:
                vectors[str(record.id)] = list(dense)  # type: ignore[arg-type]
        return vectors

    def replace_document(self, tenant_id: str, record: dict[str, Any], points: Sequence[ChunkPoint]) -> None:
        """Make `record` and `points` the document's whole content, or leave the old content intact.

        New chunks and the record are written first, then the chunks no longer part of the
        document are removed. If writing fails, what was written is undone: the points that did
        not exist before are deleted and the previous record and chunk payloads are put back.
        The record lists its chunk ids, so stale chunks are deleted by id (no scan of the tenant).
        """
        document_id = str(record["document_id"])
        new_ids = [point.point_id for point in points]
        record_id = document_point_id(tenant_id, document_id)
        with self._lock:
            previous_record = self._client.retrieve(DOCUMENTS, [record_id], with_payload=True)
            previous_points = self._client.retrieve(CHUNKS, new_ids, with_payload=True, with_vectors=True)
            try:
                for batch in _batches([_to_point(tenant_id, point) for point in points], 128):
                    self._client.upsert(CHUNKS, batch, wait=True)
                payload = {**record, "chunk_ids": new_ids, TENANT_FIELD: tenant_id}
                self._write_record(models.PointStruct(id=record_id, vector={}, payload=payload))
            except Exception:
                self._undo_replace(record_id, previous_record, previous_points, new_ids)
                raise
            old_ids = (previous_record[0].payload or {}).get("chunk_ids", []) if previous_record else []
            stale = sorted(set(old_ids) - set(new_ids))
            if stale:
                self._client.delete(CHUNKS, models.PointIdsList(points=stale), wait=True)

    def _write_record(self, point: models.PointStruct) -> None:
        self._client.upsert(DOCUMENTS, [point], wait=True)

    def _undo_replace(
        self,
        record_id: str,
        previous_record: list[models.Record],
        previous_points: list[models.Record],
        new_ids: list[str],
    ) -> None:
        existed = {str(point.id) for point in previous_points}
        added: list[models.ExtendedPointId] = [point_id for point_id in new_ids if point_id not in existed]
        if added:
            self._client.delete(CHUNKS, models.PointIdsList(points=added), wait=True)
        if previous_points:
            restored = [
                models.PointStruct(id=point.id, vector=_stored_vectors(point), payload=point.payload)
                for point in previous_points
            ]
            self._client.upsert(CHUNKS, restored, wait=True)
        if previous_record:
            old = previous_record[0]
            self._write_record(models.PointStruct(id=old.id, vector={}, payload=old.payload))
        else:
            self._client.delete(DOCUMENTS, models.PointIdsList(points=[record_id]), wait=True)

    def delete_document(self, tenant_id: str, document_id: str) -> dict[str, Any] | None:
        """Delete the document and its chunks; its record, or None when the tenant has no such document."""
        with self._lock:
            record = self.document(tenant_id, document_id, with_text=False)
            if record is None:
                return None
            flt = _tenant_filter(tenant_id, _match("document_id", document_id))
            self._client.delete(CHUNKS, models.FilterSelector(filter=flt), wait=True)
            self._client.delete(DOCUMENTS, models.FilterSelector(filter=flt), wait=True)
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
        flt = _tenant_filter(tenant_id, *conditions)
        # BM25's IDF is counted over the tenant's chunks only: global statistics would let one
        # tenant's documents shift (and so reveal themselves in) another tenant's scores.
        idf = models.SearchParams(idf=models.IdfCorpusParams(corpus=_tenant_filter(tenant_id)))
        dense_query = list(map(float, dense)) if dense is not None else None
        sparse_query = models.SparseVector(indices=sparse.indices, values=sparse.values) if sparse else None
        request: dict[str, Any]
        if mode == "hybrid" and dense_query is not None and sparse_query is not None:
            depth = max(_PREFETCH_FLOOR, limit * 2)
            request = {
                "prefetch": [
                    models.Prefetch(query=sparse_query, using=SPARSE, limit=depth, params=idf),
                    models.Prefetch(query=dense_query, using=DENSE, limit=depth),
                ],
                "query": models.FusionQuery(fusion=models.Fusion.RRF),
            }
        elif mode in ("hybrid", "sparse") and sparse_query is not None:
            request = {"query": sparse_query, "using": SPARSE, "search_params": idf}
        elif mode in ("hybrid", "dense") and dense_query is not None:
            request = {"query": dense_query, "using": DENSE}
        else:
            return []
        with self._lock:
            response = self._client.query_points(
                CHUNKS, query_filter=flt, limit=limit, with_payload=True, **request
            )
        return [
            ScoredChunk(point_id=str(point.id), score=float(point.score), payload=dict(point.payload or {}))
            for point in response.points
            if (point.payload or {}).get(TENANT_FIELD) == tenant_id
        ]

    def _scroll(self, collection: str, flt: models.Filter, *, exclude: list[str]) -> Iterator[dict[str, Any]]:
        offset: Any = None
        while True:
            with self._lock:
                records, offset = self._client.scroll(
                    collection,
                    scroll_filter=flt,
                    limit=_SCROLL_PAGE,
                    offset=offset,
                    with_payload=models.PayloadSelectorExclude(exclude=exclude),
                )
            yield from (dict(record.payload or {}) for record in records)
            if offset is None:
                return


def _match(field: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=field, match=models.MatchValue(value=value))


def _tenant_filter(tenant_id: str, *conditions: models.Condition) -> models.Filter:
    if not tenant_id:
        raise ValueError("a tenant is required")
    return models.Filter(must=[_match(TENANT_FIELD, tenant_id), *conditions])


def _to_point(tenant_id: str, point: ChunkPoint) -> models.PointStruct:
    return models.PointStruct(
        id=point.point_id,
        vector={
            DENSE: list(map(float, point.dense)),
            SPARSE: models.SparseVector(indices=point.sparse.indices, values=point.sparse.values),
        },
        payload={**point.payload, TENANT_FIELD: tenant_id},
    )


def _stored_vectors(record: models.Record) -> models.VectorStruct:
    """A retrieved record's vectors, as a point to write back takes them."""
    # The write type is a superset of the read type (a write may also send text to embed);
    # the dict's value type is invariant, so mypy needs the widening spelled out.
    return cast(models.VectorStruct, record.vector or {})


def _batches(items: list[models.PointStruct], size: int) -> Iterator[list[models.PointStruct]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
