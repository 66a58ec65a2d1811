"""The local page index: SQLite FTS5 with BM25 ranking, every row keyed by tenant.

Each tenant has its own database file as well, so BM25's corpus statistics (and therefore the
scores a tenant sees) are computed from that tenant's pages alone and reveal nothing of others.

The tokenizer is `unicode61 remove_diacritics 2`, so "chinh sach" finds "chính sách". SQLite
does not fold the Vietnamese "đ" (a letter of its own, not d plus a mark), so the indexed copy
of each text has đ/Đ replaced by d/D. That replacement keeps every character at its position,
which lets a snippet cut from the folded copy be mapped back onto the original text.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import unicodedata
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Literal

import aiosqlite
from pydantic import BaseModel, Field

from mcp_servers.search.errors import InvalidQuery
from mcp_servers.search.pages import Page

_FOLD = str.maketrans({"đ": "d", "Đ": "D"})
_WORD = re.compile(r"\w+")
_MAX_TERMS = 32
_SNIPPET_TOKENS = 24
# Markers FTS5 puts around matches and at cut ends; control characters never occur in the
# stored text (extraction removes them), so they cannot be confused with page content.
_OPEN, _CLOSE, _CUT = "\x02", "\x03", "\x04"
TITLE_WEIGHT = 4.0
BODY_WEIGHT = 1.0

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS pages (
        id INTEGER PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        url TEXT NOT NULL,
        requested_url TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        kind TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        UNIQUE (tenant_id, url)
    )
    """,
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS pages_fts USING fts5(
        tenant_id UNINDEXED, title, body, tokenize = 'unicode61 remove_diacritics 2'
    )
    """,
)

_SEARCH = f"""
    SELECT p.url, p.title, p.body, p.fetched_at,
           bm25(pages_fts, 0.0, {TITLE_WEIGHT}, {BODY_WEIGHT}) AS rank,
           snippet(pages_fts, 2, char(2), char(3), char(4), {_SNIPPET_TOKENS}) AS excerpt
    FROM pages_fts JOIN pages AS p ON p.id = pages_fts.rowid
    WHERE pages_fts MATCH :match AND pages_fts.tenant_id = :tenant AND p.tenant_id = :tenant
    ORDER BY rank
    LIMIT :limit
"""

Match = Literal["all_terms", "any_terms", "none"]


class IndexHit(BaseModel):
    """One page that matches a query, with the passage that matched."""

    url: str
    title: str
    snippet: str = Field(description="the best passage, matches marked **like this**")
    score: float = Field(description="BM25 relevance, higher is better")
    all_terms: bool = Field(description="whether the page has every word of the query")
    fetched_at: datetime


class IndexSearch(BaseModel):
    """The result of `search` over the tenant's local index."""

    query: str
    match: Match = Field(description="all_terms when the best hit has every word, any_terms when none does")
    hits: list[IndexHit]
    indexed_pages: int = Field(description="pages in this tenant's index")


def fold(text: str) -> str:
    """The form stored in the full-text index: NFC, with đ/Đ as d/D (length-preserving)."""
    return unicodedata.normalize("NFC", text).translate(_FOLD)


def query_terms(query: str) -> list[str]:
    """The words of a query, folded like the index, as FTS5 string literals."""
    words = _WORD.findall(fold(query))[:_MAX_TERMS]
    return [f'"{word}"' for word in words]


def tenant_file_name(tenant_id: str) -> str:
    """A file name for `tenant_id` that is safe on any file system and unique per tenant."""
    slug = re.sub(r"[^a-z0-9]+", "-", tenant_id.lower()).strip("-")[:40] or "tenant"
    digest = hashlib.sha256(tenant_id.encode()).hexdigest()[:16]
    return f"{slug}-{digest}.sqlite3"


class PageIndex:
    """Pages fetched or crawled by each tenant, searchable by that tenant alone."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._ready: set[Path] = set()

    async def add(self, tenant_id: str, page: Page) -> None:
        """Store `page` for `tenant_id`, replacing an earlier copy of the same final URL."""
        text = unicodedata.normalize("NFC", page.text)
        title = unicodedata.normalize("NFC", page.title)
        async with self._connect(tenant_id) as db:
            await db.execute("BEGIN IMMEDIATE")
            cursor = await db.execute(
                "SELECT id FROM pages WHERE tenant_id = ? AND url = ?", (tenant_id, page.final_url)
            )
            existing = await cursor.fetchone()
            if existing is not None:
                await db.execute("DELETE FROM pages_fts WHERE rowid = ?", (existing[0],))
                await db.execute("DELETE FROM pages WHERE id = ?", (existing[0],))
            cursor = await db.execute(
                "INSERT INTO pages (tenant_id, url, requested_url, title, body, kind, fetched_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (tenant_id, page.final_url, page.url, title, text, page.kind, page.fetched_at.isoformat()),
            )
            await db.execute(
                "INSERT INTO pages_fts (rowid, tenant_id, title, body) VALUES (?, ?, ?, ?)",
                (cursor.lastrowid, tenant_id, fold(title), fold(text)),
            )
            await db.commit()

    async def search(self, tenant_id: str, query: str, top_k: int) -> IndexSearch:
        """Pages of `tenant_id` best matching `query`: those with every word first (by BM25),
        then, if there are fewer than `top_k` of them, pages with some of the words."""
        terms = query_terms(query)
        if not terms:
            raise InvalidQuery("the query has no words to search for")
        async with self._connect(tenant_id) as db:
            total = await self._count(db, tenant_id)
            hits = await self._hits(db, tenant_id, " AND ".join(terms), top_k, all_terms=True)
            if len(hits) < top_k and len(terms) > 1:
                seen = {hit.url for hit in hits}
                more = await self._hits(db, tenant_id, " OR ".join(terms), top_k, all_terms=False)
                hits += [hit for hit in more if hit.url not in seen][: top_k - len(hits)]
        match: Match = "none" if not hits else "all_terms" if hits[0].all_terms else "any_terms"
        return IndexSearch(query=query, match=match, hits=hits, indexed_pages=total)

    async def count(self, tenant_id: str) -> int:
        """How many pages `tenant_id` has indexed."""
        async with self._connect(tenant_id) as db:
            return await self._count(db, tenant_id)

    async def _count(self, db: aiosqlite.Connection, tenant_id: str) -> int:
        cursor = await db.execute("SELECT count(*) FROM pages WHERE tenant_id = ?", (tenant_id,))
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _hits(
        self, db: aiosqlite.Connection, tenant_id: str, expression: str, top_k: int, *, all_terms: bool
    ) -> list[IndexHit]:
        cursor = await db.execute(_SEARCH, {"match": expression, "tenant": tenant_id, "limit": top_k})
        return [
            IndexHit(
                url=url,
                title=title,
                snippet=restore_snippet(excerpt, body),
                score=round(-rank, 6),
                all_terms=all_terms,
                fetched_at=datetime.fromisoformat(fetched_at),
            )
            for url, title, body, fetched_at, rank, excerpt in await cursor.fetchall()
        ]

    async def delete_tenant(self, tenant_id: str) -> int:
        """Delete the tenant's index file (it holds nothing of anyone else); how many pages it had."""
        path = self._directory / tenant_file_name(tenant_id)
        if not path.exists():
            return 0
        pages = await self.count(tenant_id)
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        self._ready.discard(path)
        return pages

    @contextlib.asynccontextmanager
    async def _connect(self, tenant_id: str) -> AsyncIterator[aiosqlite.Connection]:
        """A connection to the tenant's file with the schema in place; unfinished work is rolled back."""
        path = self._directory / tenant_file_name(tenant_id)
        self._directory.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await db.execute("PRAGMA busy_timeout = 5000")
            # In WAL mode NORMAL still never corrupts the file; a power cut may lose the last
            # pages added, which a re-fetch restores. FULL would fsync every page of a crawl.
            await db.execute("PRAGMA synchronous = NORMAL")
            if path not in self._ready:
                await db.execute("PRAGMA journal_mode = WAL")
                for statement in _SCHEMA:
                    await db.execute(statement)
                self._ready.add(path)
            yield db
        finally:
            if db.in_transaction:
                await db.rollback()
            await db.close()


def restore_snippet(excerpt: str, original: str) -> str:
    """Map an FTS5 snippet of the folded text back onto the original, marking matches **so**.

    The folded text has the same length as the original, so the passage's position in one is
    its position in the other.
    """
    core = excerpt.strip(_CUT)
    plain = core.replace(_OPEN, "").replace(_CLOSE, "")
    start = fold(original).find(plain)
    source = original[start : start + len(plain)] if start >= 0 else plain
    pieces: list[str] = ["…"] if excerpt.startswith(_CUT) else []
    position = 0
    for char in core:
        if char in (_OPEN, _CLOSE):
            pieces.append("**")
        else:
            pieces.append(source[position])
            position += 1
    if excerpt.endswith(_CUT):
        pieces.append("…")
    return "".join(pieces)
