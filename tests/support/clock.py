"""A clock a test moves by hand, for code that takes `clock=` (expiry, back-off, refetch limits)."""

from __future__ import annotations


class ManualClock:
    """Returns `now` until the test changes it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
