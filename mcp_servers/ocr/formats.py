"""Recognising an input's format from its first bytes, never from a name or a claimed type."""

from __future__ import annotations

from mcp_servers.ocr.document import DocumentFormat
from mcp_servers.ocr.errors import UnsupportedFormat

SUPPORTED = "PNG, JPEG, WebP, TIFF or PDF"


def sniff(data: bytes) -> DocumentFormat:
    """The format of `data`, or `UnsupportedFormat` naming the ones accepted."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    # The PDF header may follow a little junk; readers accept it within the first kilobyte.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    raise UnsupportedFormat(
        f"the input is not a supported document: expected {SUPPORTED} ({_describe(data)})"
    )


def _describe(data: bytes) -> str:
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "got GIF"
    if data.startswith(b"BM"):
        return "got BMP"
    if data.lstrip()[:1] in (b"<", b"{"):
        return "got text markup"
    return f"starts with bytes {data[:8].hex(' ')}"
