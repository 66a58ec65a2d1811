"""Webhook signatures as the Standard Webhooks specification defines them.

Each webhook has its own secret, `whsec_` and 32 random bytes in base64, shown to the admin once
and stored sealed. A delivery carries `webhook-id` (the same on every retry of it),
`webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`:
`v1,<base64 HMAC-SHA256 over "<id>.<timestamp>.<body>" keyed with the secret's bytes>`. A receiver
recomputes it with any Standard Webhooks library and refuses old timestamps against replay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature_headers(secret: str, delivery_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers that let the receiver check who sent `body`, and when."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{digest}",
    }
