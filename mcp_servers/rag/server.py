"""The knowledge-base MCP server: ingest documents, search them with citations, manage them.

Every tool and resource acts on the knowledge base of the tenant in the verified mesh token;
no argument can name another tenant. Documents are also readable as resources at
`kb://documents/{document_id}`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import itertools
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
import structlog
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import (
    CallToolResult,
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    Resource,
    ResourceTemplateReference,
    ToolAnnotations,
)
from pydantic import Field

from agentmesh.bus_engine import open_bus
from agentmesh.cloudevents import EventPublisher
from agentmesh.db import create_engine, session_factory
from agentmesh.embeddings import sentence_encoder
from agentmesh.job_records import JobRecords
from agentmesh.settings import Settings
from agentmesh.uploads import is_upload_reference
from mcp_servers.common.bootstrap import ServeOptions, new_server
from mcp_servers.common.lifecycle import serve_tenant_lifecycle
from mcp_servers.common.progress import ToolProgress
from mcp_servers.common.results import render_meta, structured_result
from mcp_servers.common.server import DomainServer
from mcp_servers.common.tenant import TenantResolver
from mcp_servers.common.uploads import UploadReader
from mcp_servers.rag.demo import seed_demo_knowledge
from mcp_servers.rag.errors import DocumentTooLarge, InvalidDocument, KnowledgeBaseNotReady
from mcp_servers.rag.formats import source_type_of
from mcp_servers.rag.ingest_progress import IngestProgress
from mcp_servers.rag.jobs import IngestJob, IngestJobs
from mcp_servers.rag.knowledge_base import DOCUMENT_URI, DocumentInput, IngestReport, KnowledgeBase
from mcp_servers.rag.models import (
    DeletedDocument,
    DocumentContent,
    DocumentList,
    IngestOutcome,
    SearchResults,
)

log = structlog.get_logger(__name__)

INSTRUCTIONS = (
    "The tenant's knowledge base. search(query, top_k, filters) finds passages by meaning and by "
    "keywords (hybrid retrieval) and cites document, title, heading, chunk position and score. "
    "ingest_text and ingest_document (text, Markdown, HTML or PDF, as base64 or as an upload reference "
    "upload://<handle>) add or update documents; large documents return a job id to poll with "
    "ingest_status. list_documents, get_document and delete_document manage them; each document is "
    "also the resource kb://documents/{document_id}."
)

T = TypeVar("T")

Title = Annotated[str, Field(min_length=1, max_length=300, description="the document's title")]
Query = Annotated[str, Field(min_length=1, max_length=1000, description="what to look for, in any words")]
TopK = Annotated[int, Field(ge=1, le=50, description="how many passages to return (1-50)")]
DocumentId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="a document id: letters, digits, '.', '_' or '-'; reuse one to replace that document",
    ),
]
Metadata = Annotated[
    dict[str, Any] | None,
    Field(description='fields to filter on later, e.g. {"lang": "vi", "team": "sales"}'),
]
Filters = Annotated[
    dict[str, Any] | None,
    Field(
        description="exact matches on metadata fields (or document_id, source_type); "
        "a list value matches any of its items"
    ),
]

MAX_COMPLETIONS = 100
EVENT_SOURCE = "/agentmesh/rag"


_VIETNAMESE_SEARCH_LABELS = {
    "results": "Kết quả",
    "title": "Tài liệu",
    "heading": "Mục",
    "snippet": "Trích đoạn",
    "score": "Độ liên quan",
}
_VIETNAMESE_LIST_LABELS = {
    "documents": "Tài liệu",
    "document_id": "Mã tài liệu",
    "title": "Tiêu đề",
    "source_type": "Loại",
    "chunk_count": "Số đoạn",
}
"""Field names as a host shows them to a Vietnamese reader."""


def _read(title: str) -> ToolAnnotations:
    return ToolAnnotations(
        title=title, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )


def _write(title: str) -> ToolAnnotations:
    # Ingesting the same content again stores nothing new: a repeatable write.
    return ToolAnnotations(
        title=title, read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )


def _delete(title: str) -> ToolAnnotations:
    # Deleting twice answers not-found the second time: not idempotent in what it returns.
    return ToolAnnotations(
        title=title, read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
    )


OCTET_STREAM = "application/octet-stream"


_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[\w=.-]+)*;base64,", re.IGNORECASE)


class _Runtime:
    """What the lifespan opens and the tools use: the knowledge base and the ingestion jobs."""

    def __init__(self) -> None:
        self._knowledge: KnowledgeBase | None = None
        self._jobs: IngestJobs | None = None

    def start(self, knowledge: KnowledgeBase, jobs: IngestJobs) -> None:
        self._knowledge = knowledge
        self._jobs = jobs

    def stop(self) -> None:
        if self._knowledge is not None:
            self._knowledge.close()
        self._knowledge = self._jobs = None

    @property
    def knowledge(self) -> KnowledgeBase:
        if self._knowledge is None:
            raise KnowledgeBaseNotReady("the knowledge base is not open yet; try again in a moment")
        return self._knowledge

    @property
    def jobs(self) -> IngestJobs:
        if self._jobs is None:
            raise KnowledgeBaseNotReady("the knowledge base is not open yet; try again in a moment")
        return self._jobs


async def _off_loop(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work (embedding, Qdrant local mode) off the event loop."""
    return await anyio.to_thread.run_sync(functools.partial(call, *args, **kwargs))


class KnowledgeServer(DomainServer):
    """A domain server whose listed resources are the calling tenant's documents."""

    runtime: _Runtime | None = None
    tenants: TenantResolver | None = None

    async def list_resources(self) -> list[Resource]:
        if self.runtime is None or self.tenants is None:
            return await super().list_resources()
        tenant_id = self.tenants.current().tenant_id
        documents = await _off_loop(self.runtime.knowledge.documents, tenant_id)
        return [
            Resource(
                uri=document.uri,
                name=document.document_id,
                title=document.title,
                description=(
                    f"{document.title} ({document.source_type}, {_count(document.chunk_count, 'chunk')})"
                ),
                mime_type="text/markdown",
            )
            for document in documents
        ]


def build_server(settings: Settings, options: ServeOptions) -> DomainServer:
    """The RAG server; the knowledge base opens (and the demo documents are seeded) at startup."""
    runtime = _Runtime()

    @contextlib.asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[dict[str, Any]]:
        engine = create_engine(settings.resolved_database_url)
        bus = await open_bus(settings, session_factory(engine))
        knowledge = await _off_loop(KnowledgeBase.open, settings)
        jobs = IngestJobs(
            JobRecords(session_factory(engine)),
            bus,
            EventPublisher(bus, EVENT_SOURCE),
            knowledge.ingest,
            settings,
        )
        runtime.start(knowledge, jobs)
        try:
            # Load the encoder now, so the first search is not the one that waits for it.
            await _off_loop(sentence_encoder)
            if settings.rag_demo_kb:
                await _off_loop(seed_demo_knowledge, runtime.knowledge)
            async with anyio.create_task_group() as group:
                # Queued jobs (this replica's, another's, or left by a server that died) run here.
                group.start_soon(jobs.work)
                try:
                    yield {}
                finally:
                    group.cancel_scope.cancel()
        finally:
            await _off_loop(runtime.stop)
            await bus.aclose()
            await engine.dispose()

    server, tenants = new_server(
        "rag",
        settings,
        options,
        instructions=INSTRUCTIONS,
        server_class=KnowledgeServer,
        platform_database=True,
        lifespan=lifespan,
    )
    assert isinstance(server, KnowledgeServer)
    server.runtime, server.tenants = runtime, tenants
    uploads = UploadReader(settings)

    async def ingest(upload: DocumentInput, ctx: Context[Any, Any] | None) -> CallToolResult:
        tenant_id = tenants.current().tenant_id
        _check_size(len(upload.data), settings.rag_max_upload_bytes)
        if len(upload.data) > settings.rag_job_threshold_bytes:
            job = await runtime.jobs.submit(tenant_id, upload)
            outcome = IngestOutcome(status="queued", document_id=upload.document_id, job=job)
            return structured_result(outcome, _queued_text(job))
        # Progress per chunk batch for a client that asked (a progressToken); a queued job is
        # polled with ingest_status instead, wherever it runs.
        progress = IngestProgress(ToolProgress(ctx, server.client_log_levels, logger="rag").in_thread())
        report = await _off_loop(runtime.knowledge.ingest, tenant_id, upload, progress)
        outcome = IngestOutcome(status=report.status, document_id=report.document.document_id, report=report)
        return structured_result(outcome, _report_text(report))

    @server.tool(title="Add a text", annotations=_write("Add a text"), meta=render_meta("summary_text"))
    async def ingest_text(
        title: Title,
        text: Annotated[str, Field(min_length=1, description="the document's text (plain or Markdown)")],
        metadata: Metadata = None,
        document_id: DocumentId | None = None,
        ctx: Context[Any, Any] | None = None,
    ) -> Annotated[CallToolResult, IngestOutcome]:
        """Add a text or Markdown document to the knowledge base (Markdown headings become sections).
        Give `document_id` to replace that document's content; sending unchanged content stores
        nothing. Large texts are ingested as a job: poll ingest_status(job_id)."""
        upload = DocumentInput(
            data=text.encode("utf-8"),
            title=title,
            source_type="markdown",
            metadata=metadata or {},
            document_id=document_id,
        )
        return await ingest(upload, ctx)

    @server.tool(title="Add a file", annotations=_write("Add a file"), meta=render_meta("summary_text"))
    async def ingest_document(
        filename: Annotated[
            str,
            Field(
                min_length=1, max_length=255, description="file name with extension: .txt, .md, .html or .pdf"
            ),
        ],
        content_base64: Annotated[
            str,
            Field(
                min_length=1,
                description="the file's bytes base64-encoded, or an upload reference 'upload://<handle>'",
            ),
        ],
        title: Title | None = None,
        metadata: Metadata = None,
        document_id: DocumentId | None = None,
        mime_type: Annotated[
            str | None, Field(max_length=100, description="the file's MIME type, if known")
        ] = None,
        ctx: Context[Any, Any] | None = None,
    ) -> Annotated[CallToolResult, IngestOutcome]:
        """Add a file to the knowledge base: plain text, Markdown, HTML or PDF (with a text layer;
        scans need OCR first). The title defaults to the file's own (HTML <title>, PDF metadata,
        first Markdown heading). Large files are ingested as a job: poll ingest_status(job_id)."""
        if is_upload_reference(content_base64):
            uploaded = await uploads.read(content_base64, max_bytes=settings.rag_max_upload_bytes)
            data = uploaded.data
            sent_mime = None if uploaded.media_type == OCTET_STREAM else uploaded.media_type
        else:
            data, sent_mime = _decode_base64(content_base64, settings.rag_max_upload_bytes)
        upload = DocumentInput(
            data=data,
            title=title,
            filename=filename,
            source_type=source_type_of(filename, mime_type or sent_mime, data),
            metadata=metadata or {},
            document_id=document_id,
        )
        return await ingest(upload, ctx)

    @server.tool(
        title="Ingestion job status",
        annotations=_read("Ingestion job status"),
        meta=render_meta("summary_text"),
    )
    async def ingest_status(
        job_id: Annotated[
            str, Field(min_length=1, max_length=64, description="the id ingest_document returned")
        ],
    ) -> Annotated[CallToolResult, IngestJob]:
        """Where an ingestion job stands: state, phase, progress from 0 to 1, and the result or error."""
        tenant_id = tenants.current().tenant_id
        job = await runtime.jobs.status(tenant_id, job_id)
        return structured_result(job, _job_text(job))

    @server.tool(
        title="Search the knowledge base",
        annotations=_read("Search the knowledge base"),
        meta=render_meta(
            "summary_text",
            rows="results",
            fields=["title", "heading", "snippet", "score"],
            translations={"vi": {"title": "tìm trong kho tri thức", "labels": _VIETNAMESE_SEARCH_LABELS}},
        ),
    )
    async def search(
        query: Query, top_k: TopK = 5, filters: Filters = None
    ) -> Annotated[CallToolResult, SearchResults]:
        """Search the knowledge base by meaning and keywords (hybrid: dense embeddings + BM25,
        fused by normalised score). Each result cites its document id, title, heading, chunk
        position and score, with a snippet and the passage text. Works in English and Vietnamese."""
        tenant_id = tenants.current().tenant_id
        hits = await _off_loop(runtime.knowledge.search, tenant_id, query, top_k=top_k, filters=filters)
        found = SearchResults(query=query, results=hits)
        return structured_result(found, _search_text(found))

    @server.tool(
        title="List documents",
        annotations=_read("List documents"),
        meta=render_meta(
            "markdown_table",
            rows="documents",
            fields=["document_id", "title", "source_type", "chunk_count"],
            translations={"vi": {"title": "liệt kê tài liệu", "labels": _VIETNAMESE_LIST_LABELS}},
        ),
    )
    async def list_documents() -> Annotated[CallToolResult, DocumentList]:
        """The documents in this tenant's knowledge base: id, title, kind, chunk count, dates."""
        tenant_id = tenants.current().tenant_id
        documents = await _off_loop(runtime.knowledge.documents, tenant_id)
        listing = DocumentList(documents=documents, total=len(documents))
        return structured_result(listing, _list_text(listing))

    @server.tool(
        title="Read a document",
        annotations=_read("Read a document"),
        meta=render_meta("summary_text", fields=["title", "text"]),
    )
    async def get_document(document_id: DocumentId) -> Annotated[CallToolResult, DocumentContent]:
        """One document of this tenant's knowledge base with its full extracted text (what a
        citation points to): id, title, kind, chunk count, dates and text."""
        tenant_id = tenants.current().tenant_id
        document = await _off_loop(runtime.knowledge.document, tenant_id, document_id)
        return structured_result(document, f"# {document.title}\n\n{document.text}")

    @server.tool(
        title="Delete a document", annotations=_delete("Delete a document"), meta=render_meta("summary_text")
    )
    async def delete_document(document_id: DocumentId) -> Annotated[CallToolResult, DeletedDocument]:
        """Delete a document and all its passages from this tenant's knowledge base."""
        tenant_id = tenants.current().tenant_id
        deleted = await _off_loop(runtime.knowledge.delete, tenant_id, document_id)
        return structured_result(
            DeletedDocument(deleted=deleted),
            f"Deleted '{deleted.title}' ({deleted.document_id}, {_count(deleted.chunk_count, 'chunk')}).",
        )

    @server.resource(DOCUMENT_URI, name="document", title="Knowledge document", mime_type="text/markdown")
    async def document_resource(document_id: str) -> str:
        """A document of this tenant's knowledge base: its title and full extracted text."""
        tenant_id = tenants.current().tenant_id
        document = await _off_loop(runtime.knowledge.document, tenant_id, document_id)
        return f"# {document.title}\n\n{document.text}"

    @server.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        """The tenant's document ids for `kb://documents/{document_id}`."""
        if not isinstance(ref, ResourceTemplateReference) or argument.name != "document_id":
            return Completion(values=[])
        tenant_id = tenants.current().tenant_id
        documents = await _off_loop(runtime.knowledge.documents, tenant_id)
        matching = sorted(d.document_id for d in documents if d.document_id.startswith(argument.value))
        return Completion(
            values=matching[:MAX_COMPLETIONS], total=len(matching), has_more=len(matching) > MAX_COMPLETIONS
        )

    async def delete_tenant(tenant_id: str) -> dict[str, int]:
        # After any job of the tenant running now: nothing it writes survives.
        knowledge = runtime.knowledge
        deleted = await runtime.jobs.purge(tenant_id, lambda: _off_loop(knowledge.delete_tenant, tenant_id))
        return deleted.model_dump()

    async def export_tenant(tenant_id: str) -> AsyncIterator[dict[str, Any]]:
        records = runtime.knowledge.export(tenant_id)
        while batch := await _off_loop(_next_batch, records):
            for record in batch:
                yield record

    serve_tenant_lifecycle(server, "rag", settings, delete=delete_tenant, export=export_tenant)
    return server


def _next_batch(records: Iterator[dict[str, Any]], size: int = 64) -> list[dict[str, Any]]:
    return list(itertools.islice(records, size))


def _decode_base64(value: str, max_bytes: int) -> tuple[bytes, str | None]:
    """The bytes of a base64 string or data URL, and the data URL's MIME type if it had one."""
    mime = None
    data_url = _DATA_URL.match(value)
    if data_url:
        mime = data_url.group("mime")
        value = value[data_url.end() :]
    compact = "".join(value.split())
    _check_size(len(compact) * 3 // 4, max_bytes)
    try:
        return base64.b64decode(compact, validate=True), mime
    except (binascii.Error, ValueError) as exc:
        raise InvalidDocument(f"content_base64 is not valid base64: {exc}") from exc


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise DocumentTooLarge(f"the document is {size:,} bytes; at most {max_bytes:,} bytes can be ingested")


def _report_text(report: IngestReport) -> str:
    document = report.document
    if report.status == "unchanged":
        return f"'{document.title}' is already in the knowledge base unchanged as {document.document_id}."
    verb = "Added" if report.status == "created" else "Updated"
    return (
        f"{verb} '{document.title}' as {document.document_id} ({document.uri}): "
        f"{_count(document.chunk_count, 'chunk')}, {report.chunks_embedded} embedded, "
        f"{report.chunks_reused} reused, "
        f"{report.duplicates_skipped} duplicate chunks skipped."
    )


def _queued_text(job: IngestJob) -> str:
    return (
        f"The document is large; ingestion runs as job {job.job_id}. Poll ingest_status(job_id) for progress."
    )


def _job_text(job: IngestJob) -> str:
    if job.state == "succeeded" and job.result is not None:
        return f"Job {job.job_id} finished. " + _report_text(job.result)
    if job.state == "failed":
        return f"Job {job.job_id} failed: {job.error}"
    return f"Job {job.job_id} is {job.state} ({job.phase} {job.done}/{job.total}), {job.progress:.0%} done."


def _search_text(found: SearchResults) -> str:
    if not found.results:
        return f"No passage in the knowledge base matches '{found.query}'."
    lines = [f"{_count(len(found.results), 'passage')} for '{found.query}':"]
    for rank, hit in enumerate(found.results, 1):
        where = f" > {hit.heading}" if hit.heading else ""
        page = f", page {hit.page}" if hit.page else ""
        lines.append(
            f"[{rank}] {hit.title}{where} ({hit.document_id}, "
            f"chunk {hit.chunk_index + 1}/{hit.chunk_count}{page}, score {hit.score:.4f})"
        )
        lines.append(f"    {hit.snippet}")
    return "\n".join(lines)


def _list_text(listing: DocumentList) -> str:
    if not listing.documents:
        return "The knowledge base is empty."
    lines = [f"{listing.total} documents:"]
    lines += [
        f"- {doc.title} ({doc.document_id}, {doc.source_type}, {_count(doc.chunk_count, 'chunk')})"
        for doc in listing.documents
    ]
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    """`1 chunk`, `3 chunks`."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
