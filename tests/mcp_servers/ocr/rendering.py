"""Documents drawn for the tests: text rendered with a real TrueType font, saved as real files."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
)


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans when the system has it, else Pillow's own scalable default font."""
    for candidate in FONT_CANDIDATES:
        if candidate.exists():
            return ImageFont.truetype(str(candidate), size)
    return ImageFont.load_default(size=size)


def text_image(lines: Sequence[str | tuple[str, str]], *, size: int = 28, width: int = 560) -> Image.Image:
    """White page with black text; a (left, right) pair is printed as a label and a value on one row."""
    line_height = int(size * 1.8)
    image = Image.new("RGB", (width, line_height * len(lines) + 2 * size), "white")
    draw = ImageDraw.Draw(image)
    face = font(size)
    for index, line in enumerate(lines):
        y = size + index * line_height
        if isinstance(line, tuple):
            left, right = line
            draw.text((size, y), left, fill="black", font=face)
            draw.text((width - size, y), right, fill="black", font=face, anchor="ra")
        else:
            draw.text((size, y), line, fill="black", font=face)
    return image


def encoded(image: Image.Image, format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def multipage_tiff(pages: Sequence[Image.Image]) -> bytes:
    return encoded(pages[0], "TIFF", save_all=True, append_images=list(pages[1:]))


def scanned_pdf(pages: Sequence[Image.Image]) -> bytes:
    """An image-only PDF, as a scanner makes it: no text layer at all."""
    return encoded(pages[0], "PDF", save_all=True, append_images=list(pages[1:]), resolution=150.0)


def text_layer_pdf(pages: Sequence[Sequence[str]]) -> bytes:
    """A PDF whose pages carry real text (Helvetica, one line per string), written with pypdf."""
    writer = PdfWriter()
    for lines in pages:
        page = writer.add_blank_page(width=595, height=842)
        helvetica = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(helvetica)})}
        )
        commands = ["BT", "/F1 14 Tf", "72 770 Td", "20 TL"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            commands.append(f"({escaped}) Tj T*")
        commands.append("ET")
        stream = DecodedStreamObject()
        stream.set_data("\n".join(commands).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def phone_photo(receipt: Image.Image, *, min_bytes: int, seed: int = 7) -> bytes:
    """A phone camera's JPEG of `receipt` lying on a table: the receipt enlarged 3x on an 8 MP
    frame, with sensor noise, saved at high quality until the file is at least `min_bytes`."""
    scan = receipt.convert("RGB").resize((receipt.width * 3, receipt.height * 3), Image.Resampling.LANCZOS)
    width, height = max(2448, scan.width + 200), max(3264, scan.height + 200)
    frame = Image.new("RGB", (width, height), (92, 80, 66))
    frame.paste(scan, ((width - scan.width) // 2, (height - scan.height) // 2))
    rng = np.random.default_rng(seed)
    for sigma in (16, 20, 24, 28):
        noisy = np.asarray(frame).astype(np.int16) + rng.normal(0, sigma, (height, width, 3)).astype(np.int16)
        photo = encoded(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)), "JPEG", quality=95)
        if len(photo) >= min_bytes:
            return photo
    raise ValueError(f"could not make a photo of {min_bytes:,} bytes")
