"""Platform errors as HTTP answers: `{"error": {"code", "message", "details", "type", "param"}}`
with the code's status.

Routes let `AgentmeshError`s through; the handler here maps each code to its status with the one
table below, so no route translates a domain error itself.
"""

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

from agentmesh.errors import AgentmeshError, ErrorCode

log = structlog.get_logger(__name__)


HTTP_STATUS: dict[ErrorCode, int] = {
    "invalid_request": 400,
    "invalid_json": 400,
    "invalid_query": 400,
    "invalid_path": 400,
    "invalid_arguments": 400,
    "name_mismatch": 400,
    "too_large": 413,
    "not_found": 404,
    "method_not_allowed": 405,
    "misdirected_request": 421,
    "origin_not_allowed": 403,
    "http_error": 400,
    "conflict": 409,
    "internal_error": 500,
    "unauthorized": 401,
    "asset_not_found": 404,
    "console_header_required": 403,
    "cross_origin_request": 403,
    "dev_signin_unavailable": 403,
    "console_signed_out": 401,
    "oidc_not_configured": 404,
    "identity_provider_unavailable": 503,
    "tenant_mismatch": 403,
    "forbidden_tenant": 403,
    "admin_required": 403,
    "platform_admin_required": 403,
    "approver_required": 403,
    "platform_tool": 403,
    "rate_limited": 429,
    "budget_exceeded": 429,
    "too_many_turns": 429,
    "backend_unavailable": 503,
    "database_not_at_head": 503,
    "database_behind": 503,
    "database_ahead": 503,
    "bus_unavailable": 503,
    "permanent_failure": 500,
    "unknown_tenant": 404,
    "tenant_exists": 409,
    "session_not_found": 404,
    "agent_not_found": 404,
    "model_not_found": 404,
    "credential_not_found": 404,
    "invalid_credential_name": 400,
    "search_provider_not_set": 404,
    "policy_override_not_found": 404,
    "invalid_policy_override": 400,
    "invalid_policy_file": 500,
    "llm_config_not_found": 404,
    "pin_change_not_found": 404,
    "invalid_server_name": 400,
    "server_name_reserved": 409,
    "server_not_found": 404,
    "approval_not_found": 404,
    "approval_already_resolved": 409,
    "approvals_unavailable": 503,
    "tenant_reserved": 409,
    "upload_not_found": 404,
    "upload_quota_exceeded": 413,
    "uploads_unavailable": 503,
    "tool_not_found": 404,
    "tool_not_granted": 403,
    "not_offered": 403,
    "denied": 403,
    "approval_required": 403,
    "rejected": 403,
    "server_unavailable": 503,
    "circuit_open": 503,
    "timeout": 504,
    "mcp_error": 502,
    "tool_error": 502,
    "not_recorded": 500,
    "unknown_model": 500,
    "model_unavailable": 503,
    "model_denied": 403,
    "model_no_response": 502,
    "model_rate_limited": 503,
    "model_auth_failed": 502,
    "model_request_rejected": 502,
    "model_timeout": 504,
    "model_unreachable": 502,
    "model_bad_tool_call": 502,
    "model_error": 502,
    "replay_exhausted": 500,
    "not_configured": 503,
    "credential_missing": 409,
    "user_token_unavailable": 409,
    "upstream_rejected": 422,
    "upstream_unauthorized": 502,
    "upstream_unavailable": 502,
    "upstream_status": 502,
    "bad_upstream_response": 502,
    "tool_name_taken": 409,
    "tool_config_not_found": 404,
    "invalid_tool_config": 400,
    "not_ready": 503,
    "invalid_document": 400,
    "empty_document": 400,
    "unsupported_format": 415,
    "invalid_filter": 400,
    "document_not_found": 404,
    "job_not_found": 404,
    "path_refused": 403,
    "invalid_pages": 400,
    "engine_unavailable": 503,
    "engine_failure": 500,
    "invalid_url": 400,
    "blocked_destination": 400,
    "unresolvable_host": 400,
    "too_many_redirects": 502,
    "disallowed_by_robots": 403,
    "network_rules_unavailable": 503,
    "provider_failure": 502,
    "invalid_provider_config": 400,
    "webhook_not_found": 404,
    "invalid_webhook": 400,
}
"""The one place a platform error code becomes an HTTP status (every code has one: a test checks)."""


def http_status(code: ErrorCode) -> int:
    return HTTP_STATUS[code]


class ApiError(AgentmeshError):
    """An error raised by the HTTP layer itself (auth, admission, request bodies, routes).

    Its status comes from `HTTP_STATUS` like any platform error's; `headers` are added to the
    answer (`Retry-After`, `WWW-Authenticate`).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.details = details
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return http_status(self.code)


def error_type(status: int) -> str:
    """The error's class in OpenAI's terms, which its SDKs read from every error body: OpenAI
    answers a bad key or an unknown model with `invalid_request_error` too; a 429 is named
    `rate_limit_error` (OpenAI names the exhausted limit instead, which has no counterpart here)."""
    if status >= 500:
        return "server_error"
    return "rate_limit_error" if status == 429 else "invalid_request_error"


def error_response(
    status: int, code: ErrorCode, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": details,
            "type": error_type(status),
            "param": _param(details),
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _param(details: Any) -> str | None:
    """The one request field a validation error names (`validation_details`), if it names one."""
    if isinstance(details, list) and len(details) == 1 and isinstance(details[0], dict):
        field = details[0].get("field")
        return field if isinstance(field, str) and field != "body" else None
    return None


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors without the rejected input values (they are the caller's data)."""
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or "body", "problem": _problem(error)}
        for error in exc.errors()
    ]


def _problem(error: Any) -> str:
    """The error's message; a validator's own sentence without pydantic's "Value error, " label."""
    message = str(error["msg"])
    return message.removeprefix("Value error, ") if error["type"] == "value_error" else message


async def handle_platform_error(request: Request, exc: Exception) -> Response:
    """Any `AgentmeshError` a route lets through: its code decides the status."""
    assert isinstance(exc, AgentmeshError)
    headers = exc.headers if isinstance(exc, ApiError) else None
    return error_response(http_status(exc.code), exc.code, exc.message, exc.details or None, headers)


_HTTP_EXCEPTION_CODES: dict[int, ErrorCode] = {404: "not_found", 405: "method_not_allowed"}
"""Codes of Starlette's own refusals (no route, wrong method); they keep Starlette's status."""


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_EXCEPTION_CODES.get(exc.status_code, "http_error")
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
    AgentmeshError: handle_platform_error,
    HTTPException: handle_http_exception,
    RedisConnectionError: handle_backend_unavailable,
    RedisTimeoutError: handle_backend_unavailable,
    OperationalError: handle_backend_unavailable,
    Exception: handle_unexpected,
}
