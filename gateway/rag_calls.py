"""Calls to the RAG server outside a chat turn, with their failures as API errors.

The knowledge admin API (uploads, listing, jobs, deletion) and the users' document reads go
through `AgentHost.call_tool` as the caller: the tenant's policy decides and the call is audited,
and the server sees an audience-bound mesh token for the tenant, never the caller's own token.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.errors import ApiError
from host.agent_host import AgentHost
from host.caller import Caller
from host.executor import ToolOutcome

RAG_SERVER = "rag"

# How a failed call maps to HTTP: the host's failure codes (the policy said no, the server is away)...
_CALL_FAILURES = {
    "denied": (403, "policy_denied"),
    "approval_required": (403, "approval_required"),
    "tool_not_found": (503, "knowledge_unavailable"),
    "server_unavailable": (503, "knowledge_unavailable"),
    "circuit_open": (503, "knowledge_unavailable"),
    "timeout": (503, "knowledge_timeout"),
}
# ...and the RAG server's own, which end its error messages as `[code]`.
_RAG_STATUS = {"document_not_found": 404, "job_not_found": 404, "too_large": 413}
_RAG_CODE = re.compile(r"\[([a-z_]+)\]\s*$")


async def call_rag(host: AgentHost, caller: Caller, tool: str, arguments: dict[str, Any]) -> ToolOutcome:
    """`rag:<tool>` for the caller; an `ApiError` saying why when it fails or returns no data."""
    outcome = await host.call_tool(caller, RAG_SERVER, tool, arguments)
    if outcome.is_error:
        if outcome.error_code in _CALL_FAILURES:
            status, code = _CALL_FAILURES[outcome.error_code]
            raise ApiError(status, code, outcome.text)
        found = _RAG_CODE.search(outcome.text)
        code = found.group(1) if found else "knowledge_rejected"
        raise ApiError(_RAG_STATUS.get(code, 400), code, outcome.text)
    if outcome.structured is None:
        raise ApiError(502, "rag_bad_result", f"the RAG server's {tool} returned no structured result")
    return outcome
