"""API errors with a stable code, rendered as `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An error a client caused or can act on; `status` is the HTTP status to answer with."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors without the rejected input values (they are the caller's data)."""
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or "body", "problem": error["msg"]}
        for error in exc.errors()
    ]


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


async def handle_backend_unavailable(request: Request, exc: Exception) -> Response:
    # An outage of Redis or the database is the platform's, not the client's, and passes: say so
    # and when to retry, instead of an internal error.
    log.error("backend_unavailable", path=request.url.path, error=type(exc).__name__)
    return error_response(
        503,
        "backend_unavailable",
        "A service the gateway depends on (Redis or the database) is unreachable; retry shortly.",
        headers={"Retry-After": "5"},
    )


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled_error", path=request.url.path)
    return error_response(500, "internal_error", "The server hit an unexpected error; it has been logged.")


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    RedisConnectionError: handle_backend_unavailable,
    RedisTimeoutError: handle_backend_unavailable,
    OperationalError: handle_backend_unavailable,
    Exception: handle_unexpected,
}
