"""Signing in to the console with an OpenID Connect provider: authorization code + PKCE (S256).

The provider is read from its discovery document (`{issuer}/.well-known/openid-configuration`);
authlib's OAuth 2 client builds the authorization URL (state, nonce, code challenge), exchanges
the code with its verifier, and refreshes tokens. The ID token is checked here (signature with
the provider's JWKS, issuer, audience, expiry and the nonce of this sign-in) before the access
token is used: that one the gateway verifies itself on every API call, like any bearer token.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from pydantic import BaseModel

from agentmesh.settings import Settings
from gateway.jwks import JwksKeySet, KeySetUnavailable, UnknownKey

DISCOVERY_PATH = "/.well-known/openid-configuration"
HTTP_TIMEOUT_SECONDS = 10.0
DEFAULT_EXPIRES_IN = 300


class OidcError(Exception):
    """The provider could not be reached, or answered something that is not a valid sign-in."""


class TokenSet(BaseModel):
    """A provider's tokens for one console session."""

    access_token: str
    expires_at: float
    refresh_token: str | None = None


class Authorization(BaseModel):
    """Where to send the browser, and what the callback must match."""

    url: str
    state: str
    code_verifier: str
    nonce: str


class OidcClient:
    """One configured provider (issuer and client), with its discovery document cached."""

    def __init__(self, settings: Settings, *, http: httpx.AsyncClient | None = None) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id, "OIDC needs an issuer and a client id"
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self._client_secret = (
            settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
        )
        self._scopes = settings.oidc_scopes
        self.redirect_url = settings.oidc_redirect_url
        self._leeway = settings.jwt_leeway_seconds
        self._http = http or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS)
        self._metadata: dict[str, Any] | None = None
        self._keys: JwksKeySet | None = None

    @classmethod
    def configured(cls, settings: Settings) -> OidcClient | None:
        if settings.oidc_issuer and settings.oidc_client_id:
            return cls(settings)
        return None

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._keys is not None:
            await self._keys.aclose()

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once, then kept)."""
        if self._metadata is None:
            try:
                response = await self._http.get(self.issuer + DISCOVERY_PATH)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise OidcError(
                    f"cannot read the provider's discovery document: {type(exc).__name__}"
                ) from exc
            missing = {"authorization_endpoint", "token_endpoint", "jwks_uri"} - set(document)
            if document.get("issuer", "").rstrip("/") != self.issuer or missing:
                raise OidcError("the provider's discovery document does not describe this issuer")
            self._metadata = document
        return self._metadata

    def _client(self, redirect_uri: str | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            scope=self._scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self._client_secret else "none",
            timeout=HTTP_TIMEOUT_SECONDS,
        )

    async def authorization(self, redirect_uri: str) -> Authorization:
        """A fresh authorization request: state, nonce and PKCE verifier of its own."""
        metadata = await self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
            )
        return Authorization(url=url, state=state, code_verifier=verifier, nonce=nonce)

    async def exchange(self, code: str, *, redirect_uri: str, code_verifier: str, nonce: str) -> TokenSet:
        """The tokens for an authorization code; the ID token must be valid and carry `nonce`."""
        metadata = await self.metadata()
        async with self._client(redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            except (OAuthError, httpx.HTTPError, ValueError) as exc:
                raise OidcError(f"the code exchange failed: {_describe(exc)}") from exc
        if not token.get("id_token"):
            raise OidcError("the provider returned no ID token")
        await self._check_id_token(str(token["id_token"]), nonce)
        return _token_set(token)

    async def refresh(self, refresh_token: str) -> TokenSet:
        metadata = await self.metadata()
        async with self._client() as client:
            try:
                token = await client.refresh_token(metadata["token_endpoint"], refresh_token=refresh_token)
            except (OAuthError, httpx.HTTPError, ValueError) as exc:
                raise OidcError(f"the refresh failed: {_describe(exc)}") from exc
        refreshed = _token_set(token)
        if refreshed.refresh_token is None:  # providers that do not rotate keep the first one valid
            refreshed = refreshed.model_copy(update={"refresh_token": refresh_token})
        return refreshed

    async def _check_id_token(self, id_token: str, nonce: str) -> None:
        metadata = await self.metadata()
        if self._keys is None:
            self._keys = JwksKeySet(str(metadata["jwks_uri"]), http=httpx.AsyncClient(timeout=5.0))
        try:
            header = jwt.get_unverified_header(id_token)
            key = await self._keys.key_for(header.get("kid"))
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=[key.algorithm_name],
                audience=self.client_id,
                issuer=metadata["issuer"],
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, UnknownKey, KeySetUnavailable) as exc:
            raise OidcError(f"the ID token is not valid: {_describe(exc)}") from exc
        if claims.get("nonce") != nonce:
            raise OidcError("the ID token was not issued for this sign-in (nonce mismatch)")


def _token_set(token: dict[str, Any]) -> TokenSet:
    if not token.get("access_token"):
        raise OidcError("the provider returned no access token")
    expires_at = token.get("expires_at") or time.time() + float(token.get("expires_in") or DEFAULT_EXPIRES_IN)
    return TokenSet(
        access_token=str(token["access_token"]),
        expires_at=float(expires_at),
        refresh_token=token.get("refresh_token"),
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
