"""The platform's one error vocabulary: a closed set of stable codes and the base of every domain error.

Stores, servers and host modules raise `AgentmeshError` subclasses; they never know an HTTP
status or an MCP result shape. The HTTP layer (`gateway.errors`) maps each code to a status and
the MCP layer (`mcp_servers.common.errors`) to an `isError` result with the code in `_meta`.
A code is added here first, with its status in the gateway's table; a test fails otherwise.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

ErrorCode = Literal[
    # Any layer: a request or an input that cannot be used as sent.
    "invalid_request",
    "invalid_json",
    "invalid_query",
    "invalid_path",
    "invalid_arguments",
    "name_mismatch",
    "too_large",
    "not_found",
    "method_not_allowed",
    "misdirected_request",
    "origin_not_allowed",
    "http_error",
    "conflict",
    "internal_error",
    # Who is calling, and what they may do.
    "unauthorized",
    "asset_not_found",
    "console_header_required",
    "cross_origin_request",
    "dev_signin_unavailable",
    "console_signed_out",
    "oidc_not_configured",
    "identity_provider_unavailable",
    "tenant_mismatch",
    "forbidden_tenant",
    "admin_required",
    "platform_admin_required",
    "approver_required",
    "platform_tool",
    # Gateway admission and platform backends.
    "rate_limited",
    "budget_exceeded",
    "too_many_turns",
    "backend_unavailable",
    "database_not_at_head",
    "database_behind",
    "database_ahead",
    "bus_unavailable",
    "permanent_failure",
    # Tenants, sessions and admin-managed records.
    "unknown_tenant",
    "tenant_exists",
    "session_not_found",
    "agent_not_found",
    "model_not_found",
    "credential_not_found",
    "invalid_credential_name",
    "search_provider_not_set",
    "policy_override_not_found",
    "invalid_policy_override",
    "invalid_policy_file",
    "llm_config_not_found",
    "pin_change_not_found",
    "invalid_server_name",
    "server_name_reserved",
    "server_not_found",
    "approval_not_found",
    "approval_already_resolved",
    "approvals_unavailable",
    "tenant_reserved",
    # Uploads: files handed to tools by reference.
    "upload_not_found",
    "upload_quota_exceeded",
    "uploads_unavailable",
    # One tool call, as the host and the servers see it.
    "tool_not_found",
    "tool_not_granted",
    "not_offered",
    "denied",
    "approval_required",
    "rejected",
    "server_unavailable",
    "circuit_open",
    "timeout",
    "mcp_error",
    "tool_error",
    "not_recorded",
    # Models behind the agents.
    "unknown_model",
    "model_unavailable",
    "model_denied",
    "model_no_response",
    "model_rate_limited",
    "model_auth_failed",
    "model_request_rejected",
    "model_timeout",
    "model_unreachable",
    "model_bad_tool_call",
    "model_error",
    "replay_exhausted",
    # Systems a tool calls on the tenant's behalf (the ERP, web sites, search providers).
    "not_configured",
    "credential_missing",
    "user_token_unavailable",
    "upstream_rejected",
    "upstream_unauthorized",
    "upstream_unavailable",
    "upstream_status",
    "bad_upstream_response",
    # ERP tool configurations.
    "tool_name_taken",
    "tool_config_not_found",
    "invalid_tool_config",
    # Documents: the knowledge base and OCR.
    "not_ready",
    "invalid_document",
    "empty_document",
    "unsupported_format",
    "invalid_filter",
    "document_not_found",
    "job_not_found",
    "path_refused",
    "invalid_pages",
    "engine_unavailable",
    "engine_failure",
    # The web: page fetches and search providers.
    "invalid_url",
    "blocked_destination",
    "unresolvable_host",
    "too_many_redirects",
    "disallowed_by_robots",
    "network_rules_unavailable",
    "provider_failure",
    "invalid_provider_config",
    # Webhooks a tenant admin registers.
    "webhook_not_found",
    "invalid_webhook",
]
"""Every code the platform reports. Closed: a code not listed here is a type error (mypy)."""

ERROR_CODES: frozenset[str] = frozenset(get_args(ErrorCode))


class AgentmeshError(Exception):
    """A failure with a stable `code`, a `message` safe to show to the caller, and `details`.

    Subclasses name one failure and set `code` (and `retryable` when trying again later may
    succeed); a code given to the constructor overrides the class's, for errors whose code is
    decided where they arise (a model provider's answer, a tool result relayed by the host).
    """

    code: ErrorCode = "internal_error"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message
