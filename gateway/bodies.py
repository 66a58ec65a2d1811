"""Reading request bodies: size-capped, depth-capped JSON, validated into a pydantic model.

JSON nested deeper than `MAX_JSON_DEPTH` is refused before it is parsed: Python's parser would
recurse until it raised `RecursionError`, and everything downstream that walks a value (argument
hashing, redaction, schema checks) would be at risk too.
"""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from gateway.errors import ApiError, validation_details

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_JSON_DEPTH = 64
"""Arrays and objects within one another, at most (the deepest real body here is about 8)."""
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
"""A JSON string (skipped whole, in C) or a bracket."""


def nests_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether `raw`'s arrays and objects nest more than `limit` levels deep (strings ignored)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # too few brackets to nest that deep: no need to find them
    depth = 0
    for token in _JSON_TOKEN.finditer(raw):
        first = token.group()[0]
        if first in b"[{":
            depth += 1
            if depth > limit:
                return True
        elif first in b"]}":
            depth -= 1
    return False


def parse_json(raw: bytes) -> object:
    """`raw` as JSON, refused (400) when malformed or nested deeper than `MAX_JSON_DEPTH`."""
    if nests_deeper_than(raw, MAX_JSON_DEPTH):
        raise ApiError(
            "invalid_json", f"request body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"
        )
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(
            "invalid_json", f"request body is not valid JSON: {exc.msg if hasattr(exc, 'msg') else exc}"
        ) from exc


async def read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError("too_large", f"request body exceeds {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError("too_large", f"request body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_model(request: Request, model: type[ModelT], max_bytes: int) -> ModelT:
    """The body as `model`; 413 when too large, 400 when not JSON or not matching the schema."""
    payload = parse_json(await read_body(request, max_bytes))
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        details = validation_details(exc)
        # The message names the first problems too: some clients (OpenAI SDKs) show only the message.
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:3])
        raise ApiError(
            "invalid_request", f"request body does not match the schema ({summary})", details=details
        ) from exc
