"""What can go wrong in the knowledge-base domain, each a platform error with a stable `code`."""

from __future__ import annotations

from agentmesh.errors import AgentmeshError


class KnowledgeError(AgentmeshError):
    """Base of every knowledge-base error; the message is safe to show to the caller."""


class InvalidDocument(KnowledgeError):
    """The input cannot be read as a document: bad base64, unknown format, a corrupt file."""

    code = "invalid_document"


class EmptyDocument(KnowledgeError):
    """The document holds no text to index (for a PDF: no text layer)."""

    code = "empty_document"


class DocumentTooLarge(KnowledgeError):
    """The document is larger than the upload cap."""

    code = "too_large"


class InvalidFilter(KnowledgeError):
    """A search filter or metadata field is not one we can store or match."""

    code = "invalid_filter"


class InvalidQuery(KnowledgeError):
    """The search query holds nothing searchable."""

    code = "invalid_query"


class DocumentNotFound(KnowledgeError):
    """No document with that id in the caller's knowledge base."""

    code = "document_not_found"


class KnowledgeBaseNotReady(KnowledgeError):
    """The knowledge base is still opening (the server has just started)."""

    code = "not_ready"
    retryable = True


class JobNotFound(KnowledgeError):
    """No ingestion job with that id for the caller."""

    code = "job_not_found"
