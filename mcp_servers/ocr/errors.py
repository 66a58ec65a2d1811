"""What can go wrong in the OCR domain, each a platform error with a stable `code`."""

from __future__ import annotations

from agentmesh.errors import AgentmeshError


class OcrError(AgentmeshError):
    """Base of every OCR-domain error; the message is safe to show to the caller."""


class InvalidInput(OcrError):
    """The input is neither decodable base64 nor a usable path, or its bytes are damaged."""

    code = "invalid_document"


class UnsupportedFormat(OcrError):
    """The bytes are not PNG, JPEG, WebP, TIFF or PDF."""

    code = "unsupported_format"


class InputTooLarge(OcrError):
    """The input exceeds a cap: bytes, pixels per page or pages per call."""

    code = "too_large"


class PathRefused(OcrError):
    """A path outside the tenant's folder, through a symlink out of it, or with path input disabled."""

    code = "path_refused"


class FileNotFound(OcrError):
    """No such file in the tenant's folder."""

    code = "not_found"


class InvalidPages(OcrError):
    """The requested page numbers do not exist in the document."""

    code = "invalid_pages"


class EngineUnavailable(OcrError):
    """The requested OCR engine is not installed on this server."""

    code = "engine_unavailable"


class EngineFailure(OcrError):
    """The OCR engine failed on an input it accepted."""

    code = "engine_failure"
