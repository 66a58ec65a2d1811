"""Signing keys of the platform, kept as PEM files in the data directory.

Two keys exist: the *dev user key* (RS256) that signs end-user tokens for local use
(`agentmesh token`), and the *mesh key* (ES256) with which the host signs the short-lived,
audience-bound tokens it presents to each MCP server. Both are created on first use; their
public halves are published as JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

Algorithm = Literal["RS256", "ES256"]

DEV_USER_KEY_FILE = "dev_user_private.pem"
MESH_KEY_FILE = "mesh_private.pem"
MESH_JWKS_FILE = "mesh_jwks.json"


@dataclass(frozen=True)
class SigningKey:
    """A private key with its algorithm and key id (the RFC 7638 thumbprint of its public JWK)."""

    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    algorithm: Algorithm
    kid: str

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_jwk(self) -> dict[str, Any]:
        jwk = _public_jwk(self.private_key)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}


def _public_jwk(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    public = private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return dict(RSAAlgorithm.to_jwk(public, as_dict=True))
    return dict(ECAlgorithm.to_jwk(public, as_dict=True))


def _thumbprint(jwk: dict[str, Any]) -> str:
    members = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: jwk[k] for k in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _generate(algorithm: Algorithm) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def write_exclusive(path: Path, data: bytes) -> None:
    """Write `data` to `path` only if it does not exist yet, atomically and mode 0600.

    Several processes may start at once on a fresh data directory; the first link wins and
    every other process reads the winner's key.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        os.write(fd, data)
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def load_or_create_key(path: Path, algorithm: Algorithm) -> SigningKey:
    """Load the PEM private key at `path`, generating it first if the file does not exist."""
    if not path.exists():
        pem = _generate(algorithm).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        write_exclusive(path, pem)
    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} holds an unsupported key type")
    return SigningKey(private_key, algorithm, _thumbprint(_public_jwk(private_key)))


def dev_user_key(keys_dir: Path) -> SigningKey:
    """The RS256 key that signs development end-user tokens."""
    return load_or_create_key(keys_dir / DEV_USER_KEY_FILE, "RS256")


def mesh_key(keys_dir: Path) -> SigningKey:
    """The ES256 key that signs host-to-server tokens; also writes its JWKS next to it."""
    key = load_or_create_key(keys_dir / MESH_KEY_FILE, "ES256")
    jwks_path = keys_dir / MESH_JWKS_FILE
    if not jwks_path.exists():
        write_exclusive(jwks_path, json.dumps(key.jwks(), indent=2).encode())
    return key
