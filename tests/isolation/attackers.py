"""Who acts in the isolation suite: acme's own people, and those who try to reach acme's data."""

from __future__ import annotations

ALICE = ("acme", "alice")
"""The acme user whose session, approval and usage the attackers go after."""
ACME_ADMIN = ("acme", "ada", "tenant_admin")
PLATFORM_ADMIN = ("platform", "root", "platform_admin")

ATTACKERS: dict[str, tuple[str, ...]] = {
    "globex_user": ("globex", "gary"),
    "globex_admin": ("globex", "gina", "tenant_admin"),
    "acme_user": ("acme", "bob"),
}
"""A user and a tenant admin of the other tenant, and (for sessions) another user of acme."""
