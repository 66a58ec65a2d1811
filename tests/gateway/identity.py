"""A stand-in identity provider for tests: signing keys, a JWKS endpoint, and token minting."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ISSUER = "https://idp.example.test"
AUDIENCE = "agentmesh-gateway"


@dataclass
class IdpKey:
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    algorithm: str
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @classmethod
    def rsa(cls) -> IdpKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")

    @classmethod
    def ec(cls) -> IdpKey:
        return cls(ec.generate_private_key(ec.SECP256R1()), "ES256")

    def jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            fields = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            fields = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**fields, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "tenant_id": "acme",
        "roles": ["user"],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    # An override of None removes the claim.
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def sign(key: IdpKey, *, kid: str | None = "same", **claim_overrides: Any) -> str:
    headers = {"kid": key.kid if kid == "same" else kid} if kid is not None else {}
    return jwt.encode(claims(**claim_overrides), key.private_key, algorithm=key.algorithm, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge_hmac_with_public_key(key: IdpKey, **claim_overrides: Any) -> str:
    """The classic key-confusion forgery: HS256 "signed" with the verifier's public key as secret."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    payload = _b64(json.dumps(claims(**claim_overrides)).encode())
    signature = hmac.new(key.public_pem(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def unsigned(**claim_overrides: Any) -> str:
    return jwt.encode(claims(**claim_overrides), key=None, algorithm="none")  # type: ignore[arg-type]


class IdentityProvider:
    """Serves `/jwks.json` with the current keys and counts how often it is fetched."""

    def __init__(self, keys: list[IdpKey]) -> None:
        self.keys = keys
        self.fetches = 0
        self.available = True

    def app(self) -> Starlette:
        async def jwks(request: Request) -> Response:
            self.fetches += 1
            if not self.available:
                return JSONResponse({"error": "down"}, status_code=503)
            return JSONResponse({"keys": [key.jwk() for key in self.keys]})

        return Starlette(routes=[Route("/jwks.json", jwks)])
