"""A bounded in-process dictionary whose entries expire: what a process keeps of a lookup it would
otherwise repeat per request (a verified key, a decrypted credential).

Values are strings; keys name their tenant, so `forget_containing` can drop a tenant's entries.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class InProcessCache:
    """A bounded LRU dictionary with expiry times."""

    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock

    async def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        self._entries[key] = (self._clock() + ttl_seconds, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_containing(self, tag: str) -> int:
        """Drop every entry whose key holds `tag` (a deleted tenant's `{tenant}`); how many."""
        gone = [key for key in self._entries if tag in key]
        for key in gone:
            del self._entries[key]
        return len(gone)
