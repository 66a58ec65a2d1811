"""Argument completions from the tenant's ERP: MSTs, shipment ids and SKUs that start as typed.

Each completable argument is configured like a tool (`completions:` in `demo_tools.yaml`): a GET
to the tenant's ERP with `prefix` and `limit`, answered with `{"items": [{"id", "label"}],
"total"}`, made with the tenant's own service credential through the same request path as the
configured tools (`ConfiguredTools.fetch`). A completion is a convenience: an ERP that cannot
answer gives no suggestions rather than an error, and the failure is logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
import yaml
from mcp_types import Completion
from pydantic import BaseModel, ConfigDict, Field

from mcp_servers.common.errors import InvalidArguments
from mcp_servers.erp.configured_tools import ConfiguredTools
from mcp_servers.erp.errors import ErpToolError
from mcp_servers.erp.tool_config import DEMO_TOOLS_FILE, HttpToolConfig, ToolAuth

log = structlog.get_logger(__name__)

MAX_VALUES = 100
"""At most this many values per answer (the MCP limit)."""

_LOOKUP_OUTPUT = {
    "type": "object",
    "required": ["items", "total"],
    "properties": {
        "items": {
            "type": "array",
            "items": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
        },
        "total": {"type": "integer", "minimum": 0},
    },
}


class CompletionSource(BaseModel):
    """Where the values of one argument come from."""

    model_config = ConfigDict(extra="forbid")

    argument: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    url: str = Field(min_length=1, max_length=2000)
    auth: ToolAuth = Field(default_factory=ToolAuth)

    def lookup(self) -> HttpToolConfig:
        """The ERP call that answers it, as a tool configuration (never listed as a tool)."""
        return HttpToolConfig(
            name=f"complete_{self.argument}",
            description=f"values of {self.argument} starting with a prefix",
            method="GET",
            url=self.url,
            input_schema={
                "type": "object",
                "properties": {"prefix": {"type": "string"}, "limit": {"type": "integer"}},
            },
            output_schema=_LOOKUP_OUTPUT,
            auth=self.auth,
            timeout_seconds=5.0,
            max_retries=0,
        )


def load_completion_sources(path: Path = DEMO_TOOLS_FILE) -> list[CompletionSource]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [CompletionSource.model_validate(raw) for raw in document.get("completions", [])]


class ErpCompletions:
    """Completes the arguments that have a source, for the tenant of the current request."""

    def __init__(self, sources: list[CompletionSource], tools: ConfiguredTools) -> None:
        self._lookups = {source.argument: source.lookup() for source in sources}
        self._tools = tools

    def completes(self, argument: str) -> bool:
        return argument in self._lookups

    async def complete(self, argument: str, prefix: str) -> Completion:
        lookup = self._lookups.get(argument)
        if lookup is None:
            return Completion(values=[])
        arguments: dict[str, Any] = {"prefix": prefix[:64], "limit": MAX_VALUES}
        try:
            page = await self._tools.fetch(lookup, arguments)
        except (ErpToolError, InvalidArguments) as error:
            log.info("erp_completion_failed", argument=argument, code=error.code)
            return Completion(values=[])
        values = [str(item["id"]) for item in page["items"]][:MAX_VALUES]
        total = int(page["total"])
        return Completion(values=values, total=total, has_more=total > len(values))
