"""Small real documents built in the tests: PDFs written by hand, byte for byte.

A PDF is objects plus a cross-reference table of their byte offsets; writing one directly keeps
the tests free of a PDF-producing dependency while pypdf reads it like any other file.
"""

from __future__ import annotations

import random
import zlib


def _pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 2 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _stream(content: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"


def _escape(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def text_pdf(pages: list[list[str]], *, title: str = "") -> bytes:
    """A PDF with a text layer: each page a list of lines in Helvetica."""
    # 1 catalog, 2 info, 3 pages, 4 font, then a page and its content stream per page.
    first_page = 5
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 3 0 R >>",
        b"<< /Title (" + _escape(title) + b") >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, lines in enumerate(pages):
        content = (
            b"BT /F1 11 Tf 14 TL 56 780 Td "
            + b" ".join(b"(" + _escape(line) + b") Tj T*" for line in lines)
            + b" ET"
        )
        objects.append(
            b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 4 0 R >> >> /Contents %d 0 R >>" % (first_page + 2 * index + 1)
        )
        objects.append(_stream(content))
    return _pdf(objects)


def scanned_pdf() -> bytes:
    """A PDF whose only page is an image (a grey 8x8 'scan'): no text layer at all."""
    pixels = zlib.compress(bytes([128]) * 64)
    image = (
        b"<< /Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n"
        % len(pixels)
        + pixels
        + b"\nendstream"
    )
    objects = [
        b"<< /Type /Catalog /Pages 3 0 R >>",
        b"<< /Title (Scan) >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 5 0 R >> >> "
        b"/Contents 6 0 R >>",
        image,
        _stream(b"q 500 0 0 700 48 70 cm /Im1 Do Q"),
    ]
    return _pdf(objects)


def illustrated_pdf(pages: list[list[str]], *, photo_bytes: int, title: str = "", seed: int = 0) -> bytes:
    """A text PDF whose first page also shows a photo of `photo_bytes` bytes (random pixels, stored
    uncompressed): what makes a real handbook weigh megabytes while its text stays short."""
    width = 1024
    height = max(1, photo_bytes // (width * 3))
    pixels = random.Random(seed).randbytes(width * height * 3)
    photo = (
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Length %d >>\nstream\n"
        % (width, height, len(pixels))
        + pixels
        + b"\nendstream"
    )
    first_page = 6
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 3 0 R >>",
        b"<< /Title (" + _escape(title) + b") >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        photo,
    ]
    for index, lines in enumerate(pages):
        text = b" ".join(b"(" + _escape(line) + b") Tj T*" for line in lines)
        shown = b"q 480 0 0 300 56 60 cm /Im1 Do Q " if index == 0 else b""
        content = shown + b"BT /F1 11 Tf 14 TL 56 780 Td " + text + b" ET"
        objects.append(
            b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 4 0 R >> /XObject << /Im1 5 0 R >> >> /Contents %d 0 R >>"
            % (first_page + 2 * index + 1)
        )
        objects.append(_stream(content))
    return _pdf(objects)
