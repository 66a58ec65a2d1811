"""What the RAG server publishes to the rest of the platform: the models of its tools' results.

The gateway's knowledge admin API reads the RAG server's `structuredContent` with these, and
imports nothing else of the server (a test holds gateway/ and host/ to the `models` modules).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mcp_servers.rag.jobs import IngestJob
from mcp_servers.rag.knowledge_base import DocumentContent, DocumentSummary, IngestReport, SearchHit

__all__ = [
    "DeletedDocument",
    "DocumentContent",
    "DocumentList",
    "DocumentSummary",
    "IngestJob",
    "IngestOutcome",
    "IngestReport",
    "SearchHit",
    "SearchResults",
]


class IngestOutcome(BaseModel):
    """The answer to an ingest call: the finished report, or the job to poll."""

    status: Literal["created", "updated", "unchanged", "queued"]
    document_id: str | None = Field(default=None, description="the document's id (known now unless queued)")
    report: IngestReport | None = None
    job: IngestJob | None = Field(
        default=None, description="for a queued ingestion: poll ingest_status(job_id)"
    )


class SearchResults(BaseModel):
    """The passages that best match a query, best first."""

    query: str
    results: list[SearchHit]


class DocumentList(BaseModel):
    """The documents in the tenant's knowledge base."""

    documents: list[DocumentSummary]
    total: int


class DeletedDocument(BaseModel):
    """The document that was deleted, with all its chunks."""

    deleted: DocumentSummary
