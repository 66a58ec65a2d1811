"""Reading request bodies: size-capped, JSON, validated into a pydantic model."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from gateway.errors import ApiError, validation_details

ModelT = TypeVar("ModelT", bound=BaseModel)


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
    raw = await read_body(request, max_bytes)
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(
            "invalid_json", f"request body is not valid JSON: {exc.msg if hasattr(exc, 'msg') else exc}"
        ) from exc
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        details = validation_details(exc)
        # The message names the first problems too: some clients (OpenAI SDKs) show only the message.
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:3])
        raise ApiError(
            "invalid_request", f"request body does not match the schema ({summary})", details=details
        ) from exc
