"""Input size caps a tenant's policy sets: checked before any work, refused with a clear error.

Tool argument sizes are checked inside `decide` (a call over the cap is denied naming the rule);
messages and attachments are checked here by the gateway or the host as they arrive.
"""

from __future__ import annotations

from agentmesh.errors import AgentmeshError
from policies.limits import Limits


class InputTooLarge(AgentmeshError):
    """An input over the size its tenant's policy accepts."""

    code = "too_large"

    def __init__(self, what: str, size: int, limit: int, unit: str, limit_name: str) -> None:
        self.what = what
        self.size = size
        self.limit = limit
        self.limit_name = limit_name
        super().__init__(
            f"{what} is {size:,} {unit}; at most {limit:,} {unit} are accepted (policy limit {limit_name})",
            details={"size": size, "limit": limit, "limit_name": limit_name},
        )


def check_message(limits: Limits, message: str) -> None:
    """Raise `InputTooLarge` when `message` is longer than `limits.max_message_chars`."""
    cap = limits.max_message_chars
    if cap is not None and len(message) > cap:
        raise InputTooLarge("the message", len(message), cap, "characters", "max_message_chars")


def check_attachment(limits: Limits, name: str, size_bytes: int) -> None:
    """Raise `InputTooLarge` when the attachment `name` is larger than `limits.max_attachment_bytes`."""
    cap = limits.max_attachment_bytes
    if cap is not None and size_bytes > cap:
        raise InputTooLarge(f"the attachment '{name}'", size_bytes, cap, "bytes", "max_attachment_bytes")


def base64_decoded_size(content_base64: str) -> int:
    """The number of bytes `content_base64` decodes to, without decoding it."""
    text = content_base64.strip()
    return len(text) * 3 // 4 - (len(text) - len(text.rstrip("=")))
