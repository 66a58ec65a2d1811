"""What every remote model adapter shares: the HTTP client, timeout, retries and prices."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx2

from host.models.pricing import PriceTable
from host.models.retry import RetryPolicy


@dataclass(frozen=True)
class ProviderOptions:
    """Per-host settings for remote providers (one pooled HTTP client serves every tenant's key)."""

    http_client: httpx2.AsyncClient
    timeout_seconds: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    prices: PriceTable = field(default_factory=PriceTable.from_file)
    max_output_tokens: int = 4096


def tool_parameters(schema: dict[str, object]) -> dict[str, object]:
    """A tool's input schema as providers require it: always an object schema."""
    if schema.get("type") == "object":
        return schema
    return {"type": "object", "properties": {}, **schema}
