"""Development end-user tokens, signed with the dev user key in the data directory.

Production deployments point the gateway at their identity provider's JWKS instead; these
tokens carry the same claims such a provider is configured to issue.
"""

from __future__ import annotations

import time
import uuid

import jwt

from agentmesh.keys import dev_user_key
from agentmesh.settings import Settings


def issue_dev_token(
    settings: Settings,
    *,
    tenant_id: str,
    user: str,
    roles: list[str] | None = None,
    ttl_seconds: int = 3600,
    extra_claims: dict[str, object] | None = None,
) -> str:
    """A signed RS256 user token with `tenant_id` and `roles` claims."""
    key = dev_user_key(settings.keys_dir)
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": user,
        "tenant_id": tenant_id,
        "roles": roles or ["user"],
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
        **(extra_claims or {}),
    }
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})
