"""Failures of an ERP tool call, each a platform error with a stable `code`.

The domain raises these; the servers' shared error boundary (`mcp_servers.common.server`) turns
them into `isError` results whose text a person can act on and whose `_meta` code a program can
branch on.
"""

from __future__ import annotations

from agentmesh.errors import AgentmeshError


class ErpToolError(AgentmeshError):
    """A tool call that could not produce a result. `retryable` says whether trying again may help."""


class ToolNotAvailable(ErpToolError):
    """The tool does not exist for the calling tenant."""

    code = "tool_not_found"


class ErpNotConfigured(ErpToolError):
    """The server has no ERP to call (no `AGENTMESH_ERP_API_URL` and no embedded demo API)."""

    code = "not_configured"


class CredentialMissing(ErpToolError):
    """The tool needs a service credential the tenant has not configured."""

    code = "credential_missing"


class UserTokenUnavailable(ErpToolError):
    """The tool forwards the user's own token, and the call carries none."""

    code = "user_token_unavailable"


class PayloadTooLarge(ErpToolError):
    """A request or response exceeds the size cap."""

    code = "too_large"


class NotFound(ErpToolError):
    """The ERP has no such record for this tenant (HTTP 404)."""

    code = "not_found"


class UpstreamRejected(ErpToolError):
    """The ERP refused the request as invalid (HTTP 4xx other than 404/401/403)."""

    code = "upstream_rejected"


class UpstreamUnauthorized(ErpToolError):
    """The ERP refused the credentials (HTTP 401/403)."""

    code = "upstream_unauthorized"


class UpstreamUnavailable(ErpToolError):
    """The ERP failed (HTTP 5xx) or could not be reached; trying again later may work.

    Retryable unless the call changes data and may have reached the ERP: a write that failed
    half-way must be checked before it is sent again.
    """

    code = "upstream_unavailable"
    retryable = True


class UpstreamTimeout(ErpToolError):
    """The ERP did not answer in time. Retryable only for read-only tools: a write may have happened."""

    code = "timeout"


class BadUpstreamResponse(ErpToolError):
    """The ERP answered with something that is not the JSON the tool declares."""

    code = "bad_upstream_response"
