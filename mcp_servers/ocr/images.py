"""Pages of an image file: one for PNG, JPEG and WebP, one per frame for TIFF."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Sequence

from PIL import Image, ImageOps, UnidentifiedImageError

from mcp_servers.ocr.errors import InputTooLarge, InvalidInput
from mcp_servers.ocr.pagination import select_pages
from mcp_servers.ocr.sources import InputLimits


class ImageFile:
    """An opened image file whose pages are decoded one at a time, after their size is checked."""

    def __init__(self, data: bytes, limits: InputLimits) -> None:
        self._limits = limits
        try:
            with warnings.catch_warnings():
                # Our own pixel cap below is stricter and names the limit; Pillow's warning is noise.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self._image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            # Pillow's message names its in-memory buffer ("<_io.BytesIO object at 0x...>").
            raise InvalidInput(
                "the image could not be decoded: not a PNG, JPEG, WebP or TIFF image, or a damaged one"
            ) from None
        except (Image.DecompressionBombError, OSError) as exc:
            raise InvalidInput(f"the image could not be decoded: {exc}") from exc
        self.page_count = int(getattr(self._image, "n_frames", 1))

    def pages(self, requested: Sequence[int] | None) -> Iterator[tuple[int, Image.Image]]:
        """(page number, RGB image) for each selected page."""
        for number in select_pages(requested, self.page_count, self._limits.max_pages):
            yield number, self._page(number)

    def _page(self, number: int) -> Image.Image:
        try:
            self._image.seek(number - 1)
            width, height = self._image.size
            if width * height > self._limits.max_pixels:
                raise InputTooLarge(
                    f"page {number} is {width}x{height} = {width * height:,} pixels; "
                    f"the limit is {self._limits.max_pixels:,} pixels"
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                frame = self._image.copy()
                frame.load()
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise InvalidInput(f"page {number} of the image could not be decoded: {exc}") from exc
        # Phone photos carry their rotation in EXIF; read them the way people see them.
        return ImageOps.exif_transpose(frame).convert("RGB")
