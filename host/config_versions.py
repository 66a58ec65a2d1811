"""Version counters of the host's stored configuration, read at most once a second.

Agents, tenant LLM settings, tool pins and registered MCP servers live in the database and can
change on any replica. Every write bumps its kind's counter in the same transaction; each host
keeps what it loaded together with the counter it loaded it at, and reloads only when a counter
moved. Every turn and every proxied tool call asks, so the answer is remembered for `max_age`
(1 s): a change made through this process is seen at once (its commit invalidates what is
remembered), one made through another replica within a second. Concurrent callers share one
read (single flight).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from host.tables import ConfigVersionRow

ConfigKind = Literal["agents", "llm", "pins", "servers"]
KINDS: tuple[ConfigKind, ...] = ("agents", "llm", "pins", "servers")


_local_commits = 0
"""Commits of this process that bumped a counter: what any `ConfigVersions` here remembered is stale."""


def _count_commit(_: Any) -> None:
    global _local_commits
    _local_commits += 1


async def bump(db: AsyncSession, kind: ConfigKind) -> None:
    """Advance `kind`'s counter inside the caller's transaction."""
    if not event.contains(db.sync_session, "after_commit", _count_commit):
        event.listen(db.sync_session, "after_commit", _count_commit, once=True)
    result = await db.execute(
        update(ConfigVersionRow)
        .where(ConfigVersionRow.kind == kind)
        .values(version=ConfigVersionRow.version + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        db.add(ConfigVersionRow(kind=kind, version=1))


class ConfigVersions:
    """Reads the counters; concurrent callers share one read in flight."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, max_age: float = 1.0) -> None:
        self._sessions = sessions
        self._max_age = max_age
        self._inflight: asyncio.Future[dict[str, int]] | None = None
        self._remembered: tuple[dict[str, int], float, int] | None = None
        """The last read, when it was made (monotonic) and the local commit count it saw."""

    async def ensure(self) -> None:
        """Create missing counters (idempotent, safe when replicas start together)."""
        for kind in KINDS:
            try:
                async with self._sessions() as db, db.begin():
                    if await db.get(ConfigVersionRow, kind) is None:
                        db.add(ConfigVersionRow(kind=kind, version=0))
            except IntegrityError:
                continue  # another replica created it first

    async def current(self) -> dict[str, int]:
        """Every kind's counter (0 for a kind never written)."""
        remembered = self._remembered
        if remembered is not None:
            versions, read_at, commits = remembered
            if commits == _local_commits and time.monotonic() - read_at < self._max_age:
                return versions
        while (shared := self._inflight) is not None:
            try:
                return await asyncio.shield(shared)
            except asyncio.CancelledError:
                if not shared.cancelled():
                    raise  # this caller was cancelled
                # the reader was cancelled, not this caller: read again
        future: asyncio.Future[dict[str, int]] = asyncio.get_running_loop().create_future()
        self._inflight = future
        commits, read_at = _local_commits, time.monotonic()
        try:
            async with self._sessions() as db:
                rows = (await db.execute(select(ConfigVersionRow.kind, ConfigVersionRow.version))).all()
            versions = {kind: 0 for kind in KINDS} | {kind: version for kind, version in rows}
            self._remembered = (versions, read_at, commits)
            future.set_result(versions)
            return versions
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marks it retrieved; waiters re-raise it through the shield
            raise
        finally:
            self._inflight = None
