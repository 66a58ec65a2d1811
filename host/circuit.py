"""A circuit breaker per MCP server: stop calling a server that keeps failing, then probe it.

Closed: calls flow; consecutive failures (unreachable, timed out) are counted and a success resets
the count. After `failure_threshold` failures in a row the circuit opens: calls fail at once with
a clear message instead of waiting on a dead server. After `reset_seconds` it is half-open: one
call goes through as a probe; its success closes the circuit, its failure opens it again.
A tool that answers with an error result is a working server, not a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

CircuitState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """The circuit of one server."""

    def __init__(
        self,
        server: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self._threshold = failure_threshold
        self._reset = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._reset:
            return "half_open"
        return "open"

    @property
    def retry_in_seconds(self) -> float:
        """How long until the next probe is allowed (0 when calls flow)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._reset - self._clock())

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open state only one probe at a time does."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> bool:
        """Count a failure; whether it opened a closed circuit (a failed probe only keeps it open)."""
        if self._probing or self._opened_at is not None:
            self._opened_at = self._clock()  # the probe failed: open for another period
            self._probing = False
            return False
        self._failures += 1
        if self._failures >= self._threshold:
            self._opened_at = self._clock()
            return True
        return False

    def release(self) -> None:
        """A call ended without telling anything about the server (it was cancelled)."""
        self._probing = False


class CircuitBreakers:
    """One breaker per server, created on first use."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failure_threshold
        self._reset = reset_seconds
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def for_server(self, server: str) -> CircuitBreaker:
        breaker = self._breakers.get(server)
        if breaker is None:
            breaker = CircuitBreaker(
                server, failure_threshold=self._threshold, reset_seconds=self._reset, clock=self._clock
            )
            self._breakers[server] = breaker
        return breaker

    def states(self) -> dict[str, CircuitState]:
        """Each server's circuit state (for health and metrics)."""
        return {server: breaker.state for server, breaker in sorted(self._breakers.items())}
