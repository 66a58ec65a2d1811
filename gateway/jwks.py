"""Signing keys of an identity provider, fetched from its JWKS URL and cached by `kid`.

The set is refetched when it is older than `cache_seconds`, and when a token names a `kid` the
cache lacks (the provider rotated its keys). That second refetch is bounded: at most one per
`min_refetch_seconds`, however many unknown key ids arrive, so a flood of forged `kid`s cannot
turn the gateway into a load generator against the provider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import structlog

log = structlog.get_logger(__name__)

# The algorithm a key of each kind and curve signs with; other key kinds are never used.
SIGNING_ALGORITHMS: dict[tuple[Any, Any], str] = {("RSA", None): "RS256", ("EC", "P-256"): "ES256"}


class UnknownKey(Exception):
    """No key of the set has the token's `kid` (after a refetch, when one was allowed)."""


class KeySetUnavailable(Exception):
    """The JWKS could not be fetched and no cached key can stand in."""


def signing_algorithm(jwk: dict[str, Any]) -> str | None:
    """The algorithm this JWK may verify, or None when it is not a signing key we accept."""
    if jwk.get("use") not in (None, "sig"):
        return None
    algorithm = SIGNING_ALGORITHMS.get((jwk.get("kty"), jwk.get("crv")))
    if algorithm is None or jwk.get("alg") not in (None, algorithm):
        return None
    return algorithm


class JwksKeySet:
    """The provider's public keys by `kid`, fetched with one shared HTTP client."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 600.0,
        min_refetch_seconds: float = 30.0,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._cache_seconds = cache_seconds
        self._min_refetch_seconds = min_refetch_seconds
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        """The key for `kid` (a token without `kid` is accepted only when the set has one key)."""
        if self._is_stale():
            await self._refresh(only_if_fetched_before=self._fetched_at)
        key = self._lookup(kid)
        if key is None and self._may_refetch():
            await self._refresh(only_if_fetched_before=self._fetched_at)
            key = self._lookup(kid)
        if key is None and not self._keys:
            raise KeySetUnavailable(f"no signing keys are available from {self._url}")
        if key is None:
            raise UnknownKey(kid)
        return key

    async def aclose(self) -> None:
        await self._http.aclose()

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _is_stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._cache_seconds

    def _may_refetch(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._min_refetch_seconds

    async def _refresh(self, *, only_if_fetched_before: float | None) -> None:
        async with self._lock:
            # Concurrent requests that saw the same stale set share the one fetch made here.
            if self._fetched_at != only_if_fetched_before:
                return
            self._fetched_at = self._clock()
            self.fetches += 1
            try:
                response = await self._http.get(self._url, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("jwks_fetch_failed", url=self._url, error=f"{type(exc).__name__}: {exc}"[:200])
                if not self._keys:
                    raise KeySetUnavailable(f"cannot fetch the signing keys from {self._url}") from exc
                return
            self._keys = self._parse(document)
            log.info("jwks_fetched", url=self._url, kids=sorted(self._keys))

    def _parse(self, document: Any) -> dict[str, jwt.PyJWK]:
        keys: dict[str, jwt.PyJWK] = {}
        entries = document.get("keys", []) if isinstance(document, dict) else []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            algorithm = signing_algorithm(entry)
            if algorithm is None:
                continue
            try:
                key = jwt.PyJWK(entry, algorithm=algorithm)
            except jwt.PyJWTError as exc:
                log.warning("jwks_key_skipped", url=self._url, kid=entry.get("kid"), error=str(exc)[:200])
                continue
            keys[str(entry.get("kid") or f"#{index}")] = key
        return keys
