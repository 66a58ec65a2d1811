"""The console's static files: read once from the package, served with validators and strict headers.

Every file is loaded at import (the console is a few hundred kilobytes), hashed, and served with
its SHA-256 as a strong `ETag` and `Cache-Control: no-cache`, so a browser revalidates each file
and re-downloads only what changed: a new release is picked up on the next load, with no build
step to stamp versions into file names. Every console response carries the same security headers:
a Content-Security-Policy that admits only this origin's scripts and styles (no inline code at
all), and no framing, sniffing or referrers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

STATIC_DIR = Path(__file__).with_name("static")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "frame-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class Asset:
    """One static file: its bytes, media type and strong validator."""

    path: str
    content: bytes
    media_type: str
    etag: str

    @classmethod
    def load(cls, root: Path, file: Path) -> Asset:
        content = file.read_bytes()
        return cls(
            path=file.relative_to(root).as_posix(),
            content=content,
            media_type=MEDIA_TYPES[file.suffix],
            etag='"' + hashlib.sha256(content).hexdigest()[:32] + '"',
        )

    def response(self, request: Request) -> Response:
        """The file, or 304 when the browser's copy is current."""
        headers = {**SECURITY_HEADERS, "ETag": self.etag, "Cache-Control": "no-cache"}
        if self.etag in _etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        return Response(self.content, media_type=self.media_type, headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


class AssetSet:
    """The files under one directory, by their path relative to it."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self._assets = {
            asset.path: asset
            for asset in (
                Asset.load(root, file)
                for file in sorted(root.rglob("*"))
                if file.is_file() and file.suffix in MEDIA_TYPES
            )
        }

    def get(self, path: str) -> Asset | None:
        return self._assets.get(path)

    def paths(self, suffix: str, under: str = "") -> list[str]:
        """The paths ending in `suffix` (under a folder, relative to it)."""
        prefix = f"{under}/" if under else ""
        return sorted(
            path.removeprefix(prefix)
            for path in self._assets
            if path.startswith(prefix) and path.endswith(suffix)
        )


ASSETS = AssetSet()
