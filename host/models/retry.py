"""Retrying a model step on rate limits and server errors, with exponential backoff.

A step is retried only while it has produced nothing: once text has streamed to the user, a
retry would repeat it. The provider's `Retry-After` wins over the computed backoff (capped).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Mapping

import anyio
import structlog
from pydantic import BaseModel, Field

from agentmesh.errors import ErrorCode
from host.models.base import ModelError, ModelResponse, TextDelta

log = structlog.get_logger(__name__)

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


class RetryPolicy(BaseModel):
    """How often and how patiently to retry."""

    max_retries: int = Field(default=3, ge=0)
    base_seconds: float = Field(default=0.5, ge=0)
    max_seconds: float = Field(default=20.0, ge=0)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `attempt` (0-based): Retry-After, else jittered backoff."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_seconds)
        backoff = self.base_seconds * 2**attempt
        return min(backoff * (0.75 + random.random() / 2), self.max_seconds)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """`retry-after-ms` or `retry-after` (seconds) from a response's headers, if present."""
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
    return None


def status_error(provider: str, status: int, detail: str, headers: Mapping[str, str] | None) -> ModelError:
    """A `ModelError` for an HTTP error status, retryable when the status says so."""
    code: ErrorCode
    if status == 429:
        code = "model_rate_limited"
    elif status in (401, 403):
        code = "model_auth_failed"
    elif status >= 500:
        code = "model_unavailable"
    else:
        code = "model_request_rejected"
    return ModelError(
        code,
        f"{provider} answered HTTP {status}: {detail}"[:600],
        provider_status=status,
        retryable=status in RETRYABLE_STATUSES,
        retry_after=retry_after_seconds(headers),
    )


async def with_retries(
    provider: str, policy: RetryPolicy, step: Callable[[], AsyncIterator[TextDelta | ModelResponse]]
) -> AsyncIterator[TextDelta | ModelResponse]:
    """Run `step`, retrying a retryable `ModelError` raised before anything was yielded."""
    attempt = 0
    while True:
        produced = False
        try:
            async for item in step():
                produced = True
                yield item
            return
        except ModelError as exc:
            if produced or not exc.retryable or attempt >= policy.max_retries:
                raise
            delay = policy.delay(attempt, exc.retry_after)
            log.info(
                "model_retry",
                provider=provider,
                code=exc.code,
                status=exc.provider_status,
                attempt=attempt + 1,
                delay_s=round(delay, 3),
            )
            attempt += 1
            await anyio.sleep(delay)
