"""A file sent as a request body: raw (`Content-Type` is the file's) or `multipart/form-data`.

Either way the bytes are handed on as they arrive, never read whole into memory: a raw body is
the request stream itself; a multipart body is parsed incrementally (python-multipart) and only
the bytes of its `file` part are passed on. The name comes from the `filename` query parameter,
else the part's (or the request's) `Content-Disposition`; the media type from the part's (or
the request's) `Content-Type`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from gateway.errors import ApiError

FILE_FIELD = "file"
MULTIPART = "multipart/form-data"


@dataclass
class FileBody:
    """The file of a request: its name, media type, declared size (raw bodies) and its bytes."""

    filename: str | None
    media_type: str | None
    declared_size: int | None
    chunks: AsyncIterator[bytes]


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def _disposition_filename(header: str | bytes | None) -> str | None:
    if not header:
        return None
    _, options = parse_options_header(header)
    name = options.get(b"filename")
    return name.decode("utf-8", "replace") if name else None


async def file_body(request: Request) -> FileBody:
    """The file `request` carries (400 `invalid_request` for a multipart body without a `file`)."""
    content_type = request.headers.get("content-type")
    kind, options = parse_options_header(content_type)
    query_name = request.query_params.get("filename")
    if kind.decode("latin-1").lower() == MULTIPART:
        boundary = options.get(b"boundary")
        if not boundary:
            raise ApiError("invalid_request", "a multipart/form-data body needs its boundary parameter")
        part = _MultipartFile(request, boundary)
        await part.read_headers()
        return FileBody(
            filename=query_name or part.filename,
            media_type=part.media_type,
            declared_size=None,
            chunks=part.chunks(),
        )
    return FileBody(
        filename=query_name or _disposition_filename(request.headers.get("content-disposition")),
        media_type=content_type,
        declared_size=_declared_length(request),
        chunks=request.stream(),
    )


class _MultipartFile:
    """The `file` part of a multipart body, parsed as the request streams in."""

    def __init__(self, request: Request, boundary: bytes) -> None:
        self._stream = request.stream().__aiter__()
        self._ready: deque[bytes] = deque()
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._in_file = False
        self._found = False
        self._file_done = False
        self.filename: str | None = None
        self.media_type: str | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    # Parser callbacks: they run synchronously inside `write`.
    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        if self._found or options.get(b"name") != FILE_FIELD.encode():
            return
        self._found = self._in_file = True
        self.filename = _disposition_filename(self._headers.get(b"content-disposition"))
        content_type = self._headers.get(b"content-type")
        self.media_type = content_type.decode("latin-1") if content_type else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._ready.append(data[start:end])

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._file_done = True

    async def _feed(self) -> bool:
        """Parse the next piece of the request; False at its end."""
        try:
            chunk = await self._stream.__anext__()
        except StopAsyncIteration:
            self._parser.finalize()
            return False
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise ApiError("invalid_request", f"the multipart body is malformed: {exc}") from exc
        return True

    async def read_headers(self) -> None:
        """Parse until the `file` part's headers are known."""
        while not self._found:
            if not await self._feed():
                raise ApiError(
                    "invalid_request", f"the multipart body has no '{FILE_FIELD}' part holding the file"
                )

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            while self._ready:
                yield self._ready.popleft()
            if self._file_done:
                return
            if not await self._feed():
                if not self._file_done:
                    raise ApiError("invalid_request", "the multipart body ends inside its file part")
                return
