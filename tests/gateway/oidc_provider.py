"""A small OpenID Connect provider on a loopback port, for the console's sign-in tests.

It does what a real provider does at the wire for the authorization code flow with PKCE:
discovery, an authorization endpoint that signs the configured user in at once and redirects
back with a one-time code, a token endpoint that checks the client, the redirect URI and the
code verifier against the S256 challenge (authlib's own function) before it issues an ID token
(with the sign-in's nonce), a JWT access token the gateway accepts, and a refresh token; and its
JWKS. Every request it refused is kept, for a test to read why.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.gateway.identity import IdpKey

CLIENT_ID = "agentmesh-console"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    nonce: str | None


@dataclass
class OidcProvider:
    """The provider; `issuer` is set once it is served (its base URL)."""

    audience: str
    user: dict[str, Any] = field(
        default_factory=lambda: {"sub": "carol", "tenant_id": "acme", "roles": ["user"]}
    )
    access_seconds: int = 600
    key: IdpKey = field(default_factory=IdpKey.rsa)
    issuer: str = ""
    refused: list[str] = field(default_factory=list)
    refreshes: int = 0
    _codes: dict[str, Grant] = field(default_factory=dict)
    _refresh_tokens: set[str] = field(default_factory=set)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", self.jwks),
            ]
        )

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.jwk()]})

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        if query.get("response_type") != "code" or query.get("client_id") != CLIENT_ID:
            return self._refuse("authorize: not a code request from the known client")
        if not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
            return self._refuse("authorize: PKCE S256 is required")
        code = secrets.token_urlsafe(24)
        self._codes[code] = Grant(
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            challenge=query["code_challenge"],
            method=query["code_challenge_method"],
            nonce=query.get("nonce"),
        )
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return RedirectResponse(target, status_code=302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") == "refresh_token":
            refresh = str(form.get("refresh_token"))
            if refresh not in self._refresh_tokens:
                return self._refuse("token: unknown refresh token")
            self._refresh_tokens.discard(refresh)
            self.refreshes += 1
            return JSONResponse(self._tokens(nonce=None))
        grant = self._codes.pop(str(form.get("code")), None)  # a code works once
        if grant is None:
            return self._refuse("token: unknown or used code")
        if form.get("client_id") != grant.client_id or form.get("redirect_uri") != grant.redirect_uri:
            return self._refuse("token: client or redirect URI differs from the authorization")
        verifier = str(form.get("code_verifier") or "")
        if create_s256_code_challenge(verifier) != grant.challenge:
            return self._refuse("token: the code verifier does not match the challenge")
        return JSONResponse(self._tokens(nonce=grant.nonce))

    def _tokens(self, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        headers = {"kid": self.key.kid}
        access = jwt.encode(
            {
                **self.user,
                "iss": self.issuer,
                "aud": self.audience,
                "iat": now,
                "exp": now + self.access_seconds,
                "jti": secrets.token_hex(8),
            },
            self.key.private_key,
            algorithm=self.key.algorithm,
            headers=headers,
        )
        id_claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": self.user["sub"],
            "iat": now,
            "exp": now + 600,
        }
        if nonce is not None:
            id_claims["nonce"] = nonce
        refresh = secrets.token_urlsafe(24)
        self._refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_seconds,
            "refresh_token": refresh,
            "id_token": jwt.encode(
                id_claims, self.key.private_key, algorithm=self.key.algorithm, headers=headers
            ),
        }

    def _refuse(self, why: str) -> Response:
        self.refused.append(why)
        return JSONResponse({"error": "invalid_grant", "error_description": why}, status_code=400)
