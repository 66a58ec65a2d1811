"""Calls to the RAG server outside a chat turn, with their failures as domain errors.

The knowledge admin API (uploads, listing, jobs, reading, deletion) and the users' document
reads go through `AgentHost.call_tool` as the caller: the tenant's policy decides and the call is
audited, and the server sees an audience-bound mesh token for the tenant, never the caller's own
token. A failure keeps its code (the host's own, or the RAG server's from its result's `_meta`),
and the gateway's one table gives it its HTTP status.
"""

from __future__ import annotations

from typing import Any

from agentmesh.errors import AgentmeshError
from host.agent_host import AgentHost
from host.caller import Caller
from host.executor import ToolOutcome

RAG_SERVER = "rag"


async def call_rag(host: AgentHost, caller: Caller, tool: str, arguments: dict[str, Any]) -> ToolOutcome:
    """`rag:<tool>` for the caller; an `AgentmeshError` saying why when it fails or returns no data."""
    outcome = await host.call_tool(caller, RAG_SERVER, tool, arguments)
    if outcome.is_error:
        raise AgentmeshError(
            outcome.text,
            code=outcome.error_code or "tool_error",
            details=outcome.error_details,
            retryable=outcome.error_retryable,
        )
    if outcome.structured is None:
        raise AgentmeshError(
            f"the RAG server's {tool} returned no structured result", code="bad_upstream_response"
        )
    return outcome
