"""What the authorization server keeps in the platform database: clients, codes, refresh tokens.

Secrets are never stored: a client secret, an authorization code and a refresh token are each kept
as the SHA-256 digest of the random value handed out, so a copy of the database grants nothing.
Codes and refresh tokens belong to the tenant of the user who granted them (`TENANT_ROWS`: a
deleted tenant's grants go with it); clients are registered before anyone signs in and belong
to no tenant.

Using a code or a refresh token is one conditional `UPDATE` (used once, never twice, even by two
requests at the same instant). Presenting a used code or a rotated refresh token again is the
sign of a stolen credential: the whole family of refresh tokens that grant started is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentmesh.tenant_rows import TenantRows
from gateway.tables import OAuthAuthorizationCodeRow, OAuthClientRow, OAuthRefreshTokenRow

CODE_SECONDS = 300
"""How long an authorization code may wait for its exchange (RFC 6749 recommends at most 10 minutes)."""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A random credential (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; the platform stores UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Grantee:
    """Who granted access, and to which resource: the user behind a code or a refresh token."""

    tenant_id: str
    subject: str
    roles: tuple[str, ...]
    resource: str


@dataclass(frozen=True)
class RegisteredClient:
    """A client as the store keeps it: its id, its metadata (RFC 7591) and its secret's digest."""

    client_id: str
    client_metadata: dict[str, Any]
    secret_sha256: str | None
    issued_at: datetime

    def secret_matches(self, secret: str) -> bool:
        return self.secret_sha256 is not None and hmac.compare_digest(self.secret_sha256, digest(secret))


@dataclass(frozen=True)
class IssuedCode:
    """A code the user granted, as its exchange reads it."""

    grantee: Grantee
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    family_id: str


@dataclass(frozen=True)
class RefreshGrant:
    """A live refresh token, as the refresh grant reads it (its value is never kept)."""

    token_sha256: str
    grantee: Grantee
    client_id: str
    scope: str
    family_id: str
    expires_at: datetime


class OAuthStore:
    """Clients, authorization codes and refresh tokens, in the platform database."""

    TENANT_ROWS = (
        TenantRows("oauth_refresh_tokens", secrets=("token_sha256",)),
        TenantRows("oauth_authorization_codes", secrets=("code_sha256",)),
    )

    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db

    # -- clients -------------------------------------------------------------------------------

    async def add_client(
        self, client_id: str, metadata: dict[str, Any], secret: str | None
    ) -> RegisteredClient:
        row = OAuthClientRow(
            client_id=client_id,
            client_metadata=metadata,
            secret_sha256=digest(secret) if secret else None,
            issued_at=_now(),
        )
        async with self._db() as db, db.begin():
            db.add(row)
        return RegisteredClient(client_id, metadata, row.secret_sha256, row.issued_at)

    async def client(self, client_id: str) -> RegisteredClient | None:
        if len(client_id) > 64:
            return None
        async with self._db() as db:
            row = await db.get(OAuthClientRow, client_id)
        if row is None:
            return None
        return RegisteredClient(
            row.client_id, dict(row.client_metadata), row.secret_sha256, _aware(row.issued_at)
        )

    # -- authorization codes -------------------------------------------------------------------

    async def add_code(self, code: str, issued: IssuedCode) -> None:
        now = _now()
        grantee = issued.grantee
        async with self._db() as db, db.begin():
            # Codes live minutes: whatever expired a while ago is of no further use, reuse included.
            await db.execute(
                delete(OAuthAuthorizationCodeRow).where(
                    OAuthAuthorizationCodeRow.expires_at < now - timedelta(seconds=CODE_SECONDS)
                )
            )
            db.add(
                OAuthAuthorizationCodeRow(
                    code_sha256=digest(code),
                    tenant_id=grantee.tenant_id,
                    subject=grantee.subject,
                    roles=list(grantee.roles),
                    client_id=issued.client_id,
                    redirect_uri=issued.redirect_uri,
                    scope=issued.scope,
                    resource=grantee.resource,
                    code_challenge=issued.code_challenge,
                    code_challenge_method=issued.code_challenge_method,
                    family_id=issued.family_id,
                    expires_at=now + timedelta(seconds=CODE_SECONDS),
                )
            )

    async def use_code(self, code: str, client_id: str) -> IssuedCode | None:
        """The code's grant, marking it used; None if unknown, expired, another client's, or used
        before (then the refresh tokens its first exchange started are revoked)."""
        key = digest(code)
        now = _now()
        async with self._db() as db, db.begin():
            used = await db.execute(
                update(OAuthAuthorizationCodeRow)
                .where(
                    OAuthAuthorizationCodeRow.code_sha256 == key,
                    OAuthAuthorizationCodeRow.client_id == client_id,
                    OAuthAuthorizationCodeRow.used_at.is_(None),
                    OAuthAuthorizationCodeRow.expires_at > now,
                )
                .values(used_at=now)
            )
            row = await db.get(OAuthAuthorizationCodeRow, key)
            if row is None or row.client_id != client_id:
                return None
            if used.rowcount != 1:  # type: ignore[attr-defined]
                if row.used_at is not None:
                    await self._revoke_family(db, row.family_id, now)
                return None
            return IssuedCode(
                grantee=Grantee(row.tenant_id, row.subject, tuple(row.roles), row.resource),
                client_id=row.client_id,
                redirect_uri=row.redirect_uri,
                scope=row.scope,
                code_challenge=row.code_challenge,
                code_challenge_method=row.code_challenge_method,
                family_id=row.family_id,
            )

    # -- refresh tokens ------------------------------------------------------------------------

    async def add_refresh_token(
        self, token: str, *, grantee: Grantee, client_id: str, scope: str, family_id: str, lifetime: timedelta
    ) -> None:
        now = _now()
        async with self._db() as db, db.begin():
            db.add(
                OAuthRefreshTokenRow(
                    token_sha256=digest(token),
                    family_id=family_id,
                    tenant_id=grantee.tenant_id,
                    subject=grantee.subject,
                    roles=list(grantee.roles),
                    client_id=client_id,
                    scope=scope,
                    resource=grantee.resource,
                    issued_at=now,
                    expires_at=now + lifetime,
                )
            )

    async def use_refresh_token(self, token: str, client_id: str) -> RefreshGrant | None:
        """Rotate a refresh token: revoke it and return its grant; None if unknown, expired,
        another client's or already revoked (then its whole family is revoked: it was replayed)."""
        key = digest(token)
        now = _now()
        async with self._db() as db, db.begin():
            used = await db.execute(
                update(OAuthRefreshTokenRow)
                .where(
                    OAuthRefreshTokenRow.token_sha256 == key,
                    OAuthRefreshTokenRow.client_id == client_id,
                    OAuthRefreshTokenRow.revoked_at.is_(None),
                    OAuthRefreshTokenRow.expires_at > now,
                )
                .values(revoked_at=now)
            )
            row = await db.get(OAuthRefreshTokenRow, key)
            if row is None or row.client_id != client_id:
                return None
            if used.rowcount != 1:  # type: ignore[attr-defined]
                if row.revoked_at is not None:
                    await self._revoke_family(db, row.family_id, now)
                return None
            return RefreshGrant(
                token_sha256=key,
                grantee=Grantee(row.tenant_id, row.subject, tuple(row.roles), row.resource),
                client_id=row.client_id,
                scope=row.scope,
                family_id=row.family_id,
                expires_at=_aware(row.expires_at),
            )

    async def refresh_token_client(self, token: str) -> str | None:
        """The client a refresh token (live or not) was issued to."""
        async with self._db() as db:
            row = await db.get(OAuthRefreshTokenRow, digest(token))
        return row.client_id if row is not None else None

    async def revoke_refresh_token(self, token: str) -> None:
        """Revoke a refresh token and every token of its family (RFC 7009: the grant ends)."""
        async with self._db() as db, db.begin():
            row = await db.get(OAuthRefreshTokenRow, digest(token))
            if row is not None:
                await self._revoke_family(db, row.family_id, _now())

    @staticmethod
    async def _revoke_family(db: AsyncSession, family_id: str, now: datetime) -> None:
        await db.execute(
            update(OAuthRefreshTokenRow)
            .where(OAuthRefreshTokenRow.family_id == family_id, OAuthRefreshTokenRow.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    # -- tenants -------------------------------------------------------------------------------

    async def delete_tenant(self, db: AsyncSession, tenant_id: str) -> dict[str, int]:
        return {rows.table: await rows.delete(db, tenant_id) for rows in self.TENANT_ROWS}
