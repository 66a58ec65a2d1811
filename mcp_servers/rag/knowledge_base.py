"""A tenant's knowledge base: ingesting documents, searching them, listing and deleting them.

This is the one place that joins reading, chunking, embedding and the index; the MCP server and
the retrieval benchmark both go through it, so what the benchmark measures is what callers get.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import structlog
from pydantic import BaseModel, Field

from agentmesh.embeddings import EMBEDDING_DIM, embed
from agentmesh.settings import Settings
from mcp_servers.rag.bm25 import Bm25Encoder
from mcp_servers.rag.chunking import DEFAULT_MAX_WORDS, DEFAULT_OVERLAP_WORDS, Chunk, chunk_document
from mcp_servers.rag.edge_index import EdgeKnowledgeIndex
from mcp_servers.rag.engine import (
    TENANT_FIELD,
    ChunkPoint,
    KnowledgeEngine,
    ScoredChunk,
    SearchMode,
    chunk_point_id,
)
from mcp_servers.rag.errors import DocumentNotFound, InvalidDocument, InvalidQuery
from mcp_servers.rag.filters import MetadataValue, filter_conditions, validate_metadata
from mcp_servers.rag.formats import MIME_OF, ParsedDocument, SourceType, parse_document
from mcp_servers.rag.glossary import with_english
from mcp_servers.rag.index import KnowledgeIndex
from mcp_servers.rag.snippets import snippet

log = structlog.get_logger(__name__)

DOCUMENT_URI = "kb://documents/{document_id}"
_DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_EMBED_BATCH = 256
"""Chunks per encoder call (and per progress report): four of the encoder's batches, which it runs
on all cores at once."""
MAX_QUERY_CHARS = 1000

Embedder = Callable[[Sequence[str]], np.ndarray]
Progress = Callable[[str, int, int], None]
"""Called as `progress(phase, done, total)` while a document is ingested."""


def document_uri(document_id: str) -> str:
    """The MCP resource URI of a document."""
    return DOCUMENT_URI.format(document_id=document_id)


@dataclass(frozen=True)
class DocumentInput:
    """One document to ingest, as the caller sent it."""

    data: bytes
    title: str | None = None
    filename: str | None = None
    source_type: SourceType = "text"
    metadata: dict[str, Any] = field(default_factory=dict)
    document_id: str | None = None


class DocumentSummary(BaseModel):
    """A document in the knowledge base, as listed."""

    document_id: str
    title: str
    uri: str
    source_type: SourceType
    filename: str | None = None
    chunk_count: int
    characters: int
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, record: dict[str, Any]) -> DocumentSummary:
        return cls.model_validate({**record, "uri": document_uri(record["document_id"])})


class DocumentContent(DocumentSummary):
    """A document with its full extracted text."""

    text: str


class TenantKnowledge(BaseModel):
    """How much of a tenant's knowledge base there was (what a tenant deletion removed)."""

    documents: int
    chunks: int


class IngestReport(BaseModel):
    """What ingesting one document did."""

    status: Literal["created", "updated", "unchanged"]
    document: DocumentSummary
    chunks_embedded: int = Field(description="chunks whose vectors were computed now")
    chunks_reused: int = Field(description="chunks kept from the previous version with their vectors")
    duplicates_skipped: int = Field(description="chunks dropped because the same text occurs earlier")


class SearchHit(BaseModel):
    """One retrieved passage with its citation."""

    document_id: str
    title: str
    uri: str
    chunk_index: int = Field(description="position of the chunk in its document, from 0")
    chunk_count: int
    heading: str = Field(description="the heading path above the passage, if any")
    page: int | None = Field(default=None, description="PDF page number, if the document is a PDF")
    snippet: str
    text: str
    score: float
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)


@dataclass
class _PlannedChunk:
    """A chunk about to be written; `dense` is filled from the store or by embedding."""

    point_id: str
    indexed: str
    payload: dict[str, Any]
    dense: list[float] | None = None
    embedded: bool = False


@dataclass
class _Plan:
    """What ingesting one upload will write; no `record` means the content is unchanged."""

    previous: dict[str, Any] | None
    record: dict[str, Any] | None = None
    points: list[_PlannedChunk] = field(default_factory=list)
    duplicates_skipped: int = 0


def _edge_path(settings: Settings) -> Path:
    return settings.resolved_data_dir / "rag" / "edge"


def _local_path(settings: Settings) -> Path:
    return settings.resolved_data_dir / "rag" / "qdrant"


def _embedded_engine(settings: Settings) -> Literal["local", "edge"]:
    """The configured engine; for `auto`, Qdrant Edge (hybrid p95 ~22 ms against ~444 ms), except
    on a data directory whose knowledge is already in local mode: switching would hide it."""
    if settings.rag_engine != "auto":
        return settings.rag_engine
    return "local" if _local_path(settings).exists() and not _edge_path(settings).exists() else "edge"


class KnowledgeBase:
    """Documents and retrieval for every tenant, each call scoped to the tenant it names."""

    def __init__(
        self,
        index: KnowledgeEngine,
        *,
        embedder: Embedder = embed,
        encoder: Bm25Encoder | None = None,
        max_words: int = DEFAULT_MAX_WORDS,
        overlap_words: int = DEFAULT_OVERLAP_WORDS,
    ) -> None:
        self.index = index
        self._embed = embedder
        self._encoder = encoder or Bm25Encoder()
        self._max_words = max_words
        self._overlap_words = overlap_words

    @classmethod
    def open(cls, settings: Settings) -> KnowledgeBase:
        """The knowledge base on `QDRANT_URL`, or on disk under the data directory."""
        index: KnowledgeEngine
        if settings.qdrant_url:
            index = KnowledgeIndex.open(path=None, url=settings.qdrant_url, dimension=EMBEDDING_DIM)
        elif _embedded_engine(settings) == "edge":
            index = EdgeKnowledgeIndex.open(path=_edge_path(settings), dimension=EMBEDDING_DIM)
        else:
            index = KnowledgeIndex.open(path=_local_path(settings), url=None, dimension=EMBEDDING_DIM)
        return cls(index)

    def close(self) -> None:
        self.index.close()

    # Ingestion -------------------------------------------------------------------------------

    def ingest(self, tenant_id: str, upload: DocumentInput, progress: Progress | None = None) -> IngestReport:
        """Add a document, or replace the one with the same id; unchanged content writes nothing."""
        return self.ingest_many(tenant_id, [upload], progress)[0]

    def ingest_many(
        self, tenant_id: str, uploads: Sequence[DocumentInput], progress: Progress | None = None
    ) -> list[IngestReport]:
        """Ingest several documents, embedding their chunks together in full batches.

        Every upload is read and checked before anything is embedded or written, so a bad one
        fails the call before any document is stored.
        """
        report = progress or _no_progress
        plans: list[_Plan] = []
        for number, upload in enumerate(uploads):
            report("parsing", number, len(uploads))
            plans.append(self._plan(tenant_id, upload))
        self._embed_missing([plan for plan in plans if plan.record is not None], report)
        results = []
        total = sum(len(plan.points) for plan in plans)
        report("writing", 0, total)
        written = 0
        for plan in plans:
            results.append(self._write(tenant_id, plan))
            written += len(plan.points)
            report("writing", written, total)
        report("done", total, total)
        return results

    def _plan(self, tenant_id: str, upload: DocumentInput) -> _Plan:
        metadata = validate_metadata(upload.metadata)
        if upload.document_id is not None and not _DOCUMENT_ID.match(upload.document_id):
            raise InvalidDocument(
                "document_id must start with a letter or digit and hold only letters, digits, '.', '_' "
                "or '-' (at most 128)"
            )
        fallback_title = upload.title or _title_from_filename(upload.filename) or "Untitled document"
        parsed = parse_document(upload.data, upload.source_type, fallback_title=fallback_title)
        title = (upload.title or parsed.title).strip()[:300] or fallback_title
        content_hash = hashlib.sha256(parsed.text.encode("utf-8")).hexdigest()

        previous = self._previous(tenant_id, upload.document_id, content_hash)
        if previous and _same(previous, title=title, content_hash=content_hash, metadata=metadata):
            return _Plan(previous=previous)
        document_id = upload.document_id or (previous["document_id"] if previous else _new_document_id(title))
        chunks, skipped = self._unique_chunks(parsed)
        indexed = [indexed_text(title, chunk) for chunk in chunks]
        ids = [
            chunk_point_id(tenant_id, document_id, hashlib.sha256(text.encode("utf-8")).hexdigest())
            for text in indexed
        ]
        now = datetime.now(UTC).isoformat(timespec="seconds")
        record = {
            "document_id": document_id,
            "title": title,
            "source_type": parsed.source_type,
            "mime_type": MIME_OF[parsed.source_type],
            "filename": upload.filename,
            "metadata": metadata,
            "content_hash": content_hash,
            "chunk_count": len(chunks),
            "characters": len(parsed.text),
            "created_at": previous["created_at"] if previous else now,
            "updated_at": now,
            "text": parsed.text,
        }
        points = [
            _PlannedChunk(
                point_id=ids[i],
                indexed=indexed[i],
                payload={
                    "document_id": document_id,
                    "title": title,
                    "source_type": parsed.source_type,
                    "chunk_index": chunk.position,
                    "chunk_count": len(chunks),
                    "heading": chunk.heading,
                    "page": chunk.page,
                    "text": chunk.text,
                    "content_hash": chunk.content_hash,
                    "metadata": metadata,
                },
            )
            for i, chunk in enumerate(chunks)
        ]
        reused = self.index.stored_dense_vectors(tenant_id, ids)
        for point in points:
            point.dense = reused.get(point.point_id)
        return _Plan(previous=previous, record=record, points=points, duplicates_skipped=skipped)

    def _embed_missing(self, plans: list[_Plan], report: Progress) -> None:
        # Batches of similar length: a batch is padded to its longest text, so mixing a short
        # tail chunk with full ones would make the encoder read mostly padding.
        missing = sorted(
            (point for plan in plans for point in plan.points if point.dense is None),
            key=lambda point: len(point.indexed),
        )
        report("embedding", 0, len(missing))
        for start in range(0, len(missing), _EMBED_BATCH):
            batch = missing[start : start + _EMBED_BATCH]
            for point, vector in zip(batch, self._embed([point.indexed for point in batch]), strict=True):
                point.dense = vector.tolist()
                point.embedded = True
            report("embedding", start + len(batch), len(missing))

    def _write(self, tenant_id: str, plan: _Plan) -> IngestReport:
        if plan.record is None:
            assert plan.previous is not None
            return IngestReport(
                status="unchanged",
                document=DocumentSummary.of(plan.previous),
                chunks_embedded=0,
                chunks_reused=int(plan.previous["chunk_count"]),
                duplicates_skipped=0,
            )
        points = [
            ChunkPoint(
                point_id=point.point_id,
                payload=point.payload,
                dense=point.dense or [],
                sparse=self._encoder.document(point.indexed),
            )
            for point in plan.points
        ]
        self.index.replace_document(tenant_id, plan.record, points)
        embedded = sum(point.embedded for point in plan.points)
        status: Literal["created", "updated"] = "updated" if plan.previous else "created"
        log.info(
            "document_ingested",
            tenant_id=tenant_id,
            document_id=plan.record["document_id"],
            status=status,
            chunks=len(points),
            embedded=embedded,
        )
        return IngestReport(
            status=status,
            document=DocumentSummary.of(plan.record),
            chunks_embedded=embedded,
            chunks_reused=len(points) - embedded,
            duplicates_skipped=plan.duplicates_skipped,
        )

    def _previous(self, tenant_id: str, document_id: str | None, content_hash: str) -> dict[str, Any] | None:
        if document_id is not None:
            return self.index.document(tenant_id, document_id, with_text=False)
        # Without an id, the same text sent again is the same document, not a copy of it.
        return self.index.document_with_content(tenant_id, content_hash)

    def _unique_chunks(self, parsed: ParsedDocument) -> tuple[list[Chunk], int]:
        chunks = chunk_document(parsed, max_words=self._max_words, overlap_words=self._overlap_words)
        seen: set[str] = set()
        unique: list[Chunk] = []
        for chunk in chunks:
            if chunk.content_hash not in seen:
                seen.add(chunk.content_hash)
                unique.append(Chunk(len(unique), chunk.text, chunk.headings, chunk.page))
        return unique, len(chunks) - len(unique)

    # Reading ---------------------------------------------------------------------------------

    def search(
        self,
        tenant_id: str,
        query: str,
        *,
        top_k: int = 5,
        filters: dict[str, Any] | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        """The tenant's passages best matching `query`, best first, each with its citation."""
        query = " ".join(query.split())
        if not query:
            raise InvalidQuery("the query is empty: give a few words to search for")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidQuery(f"the query is longer than {MAX_QUERY_CHARS} characters")
        conditions = filter_conditions(filters)
        query = with_english(query)
        sparse = self._encoder.query(query) if mode != "dense" else None
        dense = self._embed([query])[0] if mode != "sparse" else None
        if mode == "sparse" and not sparse:
            raise InvalidQuery("the query has no searchable words (only very common ones or punctuation)")
        found = self.index.search(
            tenant_id, dense=dense, sparse=sparse, limit=top_k, conditions=conditions, mode=mode
        )
        # Fused scores can tie (equal chunks score alike); the engines break ties differently, so
        # ties go in document order and every engine answers the same question with the same passages.
        ordered = sorted(found, key=_rank_then_document_order)
        return [_hit(chunk, query) for chunk in ordered]

    def documents(self, tenant_id: str) -> list[DocumentSummary]:
        """Every document of the tenant, by title."""
        summaries = [DocumentSummary.of(record) for record in self.index.documents(tenant_id)]
        return sorted(summaries, key=lambda doc: (doc.title.casefold(), doc.document_id))

    def document(self, tenant_id: str, document_id: str) -> DocumentContent:
        """One document of the tenant with its text."""
        record = self.index.document(tenant_id, document_id)
        if record is None:
            raise DocumentNotFound(f"no document '{document_id}' in this knowledge base")
        return DocumentContent.model_validate({**record, "uri": document_uri(document_id)})

    def delete(self, tenant_id: str, document_id: str) -> DocumentSummary:
        """Delete a document of the tenant and all its chunks."""
        record = self.index.delete_document(tenant_id, document_id)
        if record is None:
            raise DocumentNotFound(f"no document '{document_id}' in this knowledge base")
        log.info("document_deleted", tenant_id=tenant_id, document_id=document_id)
        return DocumentSummary.of(record)

    def delete_tenant(self, tenant_id: str) -> TenantKnowledge:
        """Delete every document and chunk of the tenant (both collections, by its tenant field)."""
        documents, chunks = self.index.delete_tenant(tenant_id)
        log.info("knowledge_deleted_with_tenant", tenant_id=tenant_id, documents=documents, chunks=chunks)
        return TenantKnowledge(documents=documents, chunks=chunks)

    def export(self, tenant_id: str) -> Iterator[dict[str, Any]]:
        """The tenant's knowledge as the index keeps it: each document record with its full text,
        then its chunks (text, heading, page, position), vectors left out."""
        for summary in self.documents(tenant_id):
            record = self.index.document(tenant_id, summary.document_id)
            if record is None:
                continue  # deleted meanwhile
            yield {"kind": "document", **{k: v for k, v in record.items() if k != TENANT_FIELD}}
            for chunk in self.index.tenant_chunks(tenant_id, summary.document_id):
                yield {"kind": "chunk", **{k: v for k, v in chunk.items() if k != TENANT_FIELD}}


def indexed_text(title: str, chunk: Chunk) -> str:
    """What both retrievers read for a chunk: the title and heading path give it context."""
    lines = [title, chunk.heading, chunk.text] if chunk.heading else [title, chunk.text]
    return "\n".join(lines)


def _rank_then_document_order(chunk: ScoredChunk) -> tuple[float, str, int]:
    return (-chunk.score, chunk.payload["document_id"], chunk.payload["chunk_index"])


def _hit(chunk: ScoredChunk, query: str) -> SearchHit:
    payload = chunk.payload
    return SearchHit(
        document_id=payload["document_id"],
        title=payload["title"],
        uri=document_uri(payload["document_id"]),
        chunk_index=payload["chunk_index"],
        chunk_count=payload["chunk_count"],
        heading=payload.get("heading") or "",
        page=payload.get("page"),
        snippet=snippet(payload["text"], query),
        text=payload["text"],
        score=round(chunk.score, 6),
        metadata=payload.get("metadata") or {},
    )


def _same(
    record: dict[str, Any], *, title: str, content_hash: str, metadata: dict[str, MetadataValue]
) -> bool:
    return (
        record.get("content_hash") == content_hash
        and record.get("title") == title
        and (record.get("metadata") or {}) == metadata
    )


def _title_from_filename(filename: str | None) -> str | None:
    if not filename:
        return None
    stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return " ".join(stem.replace("_", " ").replace("-", " ").split()) or None


def _new_document_id(title: str) -> str:
    folded = unicodedata.normalize("NFKD", title.replace("đ", "d").replace("Đ", "D"))
    ascii_title = folded.encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")[:48].strip("-") or "document"
    return f"{slug}-{uuid.uuid4().hex[:8]}"


def _no_progress(phase: str, done: int, total: int) -> None:
    """Progress sink for callers that do not watch."""
