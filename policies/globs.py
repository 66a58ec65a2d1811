"""Shell-style globs (`erp:*`, `*.acme.internal`) compiled once into a single regular expression.

A policy matches names against a handful of patterns on every decision; compiling each list into
one alternation keeps a lookup to one regex match while still naming the pattern that matched
(each pattern is one capturing group, and `fnmatch.translate` adds no capturing groups of its own).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable


class GlobSet:
    """An ordered list of globs; `first_match` returns the first pattern (in order) matching a name."""

    __slots__ = ("_regex", "patterns")

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: tuple[str, ...] = tuple(patterns)
        self._regex = (
            re.compile("|".join(f"({fnmatch.translate(pattern)})" for pattern in self.patterns))
            if self.patterns
            else None
        )

    def first_match(self, name: str) -> str | None:
        """The first pattern that matches all of `name` (case-sensitive), or None."""
        if self._regex is None:
            return None
        found = self._regex.match(name)
        if found is None:
            return None
        return self.patterns[found.lastindex - 1]  # type: ignore[operator]

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __repr__(self) -> str:
        return f"GlobSet({list(self.patterns)!r})"
