"""Which pages of a document one call reads, within the per-call page cap."""

from __future__ import annotations

from collections.abc import Sequence

from mcp_servers.ocr.errors import InputTooLarge, InvalidPages


def select_pages(requested: Sequence[int] | None, page_count: int, max_pages: int) -> list[int]:
    """The 1-based page numbers to read: all pages by default, else the requested ones in order."""
    if page_count == 0:
        raise InvalidPages("the document has no pages")
    if requested is None:
        if page_count > max_pages:
            raise InputTooLarge(
                f"the document has {page_count} pages; at most {max_pages} are read per call: "
                "choose some with `pages`"
            )
        return list(range(1, page_count + 1))
    chosen = list(dict.fromkeys(requested))
    if not chosen:
        raise InvalidPages("`pages` is empty: give 1-based page numbers, or leave it out to read every page")
    missing = [number for number in chosen if not 1 <= number <= page_count]
    if missing:
        raise InvalidPages(
            f"page {', '.join(map(str, missing))} does not exist: the document has pages 1-{page_count}"
        )
    if len(chosen) > max_pages:
        raise InputTooLarge(f"{len(chosen)} pages requested; at most {max_pages} are read per call")
    return chosen
