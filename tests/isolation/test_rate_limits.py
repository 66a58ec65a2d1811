"""Rate-limit buckets are per tenant: acme running out of requests leaves globex's bucket as it was.

Both tenants get small request limits for the test (a platform admin's override); acme spends
all of its own, and a globex user's and a globex admin's next requests are still admitted, with
globex's own allowance short by exactly the request they made.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from tests.isolation.acme_data import ACME_OVERRIDE, GLOBEX_OVERRIDE, AcmeData
from tests.isolation.attackers import ALICE, PLATFORM_ADMIN
from tests.isolation.leaks import leaked
from tests.support.whole_mesh import WholeMesh

pytestmark = pytest.mark.slow

ACME_LIMIT = 4
GLOBEX_LIMIT = 30
RATE_LIMIT = re.compile(r'"(?P<quota>[\w-]+)";r=(?P<remaining>\d+)')
# People who made no request yet, so their tenant's allowance is the tightest one they are shown.
FRESH_GLOBEX = {"globex_user": ("globex", "gwen"), "globex_admin": ("globex", "gus", "tenant_admin")}


def tenant_remaining(response: httpx.Response) -> int:
    """What the tenant has left this minute, from the `RateLimit` header (its tightest quota)."""
    found = RATE_LIMIT.match(response.headers["RateLimit"])
    assert found and found["quota"] == "tenant-requests", response.headers["RateLimit"]
    return int(found["remaining"])


def set_policy(mesh: WholeMesh, tenant: str, override: Mapping[str, Any]) -> None:
    path = f"/api/admin/tenants/{tenant}/policy"
    response = mesh.request("PUT", path, mesh.headers(*PLATFORM_ADMIN), override)
    assert response.status_code == 200, response.text


@pytest.fixture
def small_limits(mesh: WholeMesh) -> Iterator[None]:
    set_policy(mesh, "acme", {**ACME_OVERRIDE, "limits": {"requests_per_minute": ACME_LIMIT}})
    set_policy(mesh, "globex", {**GLOBEX_OVERRIDE, "limits": {"requests_per_minute": GLOBEX_LIMIT}})
    try:
        yield
    finally:
        set_policy(mesh, "acme", ACME_OVERRIDE)
        set_policy(mesh, "globex", GLOBEX_OVERRIDE)
    deadline = time.monotonic() + 10
    while mesh.request("GET", "/api/acme/sessions", mesh.headers(*ALICE)).status_code == 429:
        assert time.monotonic() < deadline, "acme's requests were still refused after its limit was restored"
        time.sleep(0.2)


@pytest.mark.parametrize(
    "attacker", sorted(FRESH_GLOBEX), ids=lambda a: f"rate_limits-after_acme_ran_out-http-{a}"
)
def test_acme_running_out_of_requests_leaves_globex_its_own(
    mesh: WholeMesh, acme: AcmeData, small_limits: None, attacker: str
) -> None:
    globex = mesh.headers(*FRESH_GLOBEX[attacker])
    before = mesh.request("GET", "/api/globex/sessions", globex)
    assert before.status_code == 200, before.text

    alice = mesh.headers(*ALICE)
    answers = [mesh.request("GET", "/api/acme/sessions", alice) for _ in range(ACME_LIMIT + 2)]
    refused = answers[-1]
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["details"]["quota"] == "tenant-requests"

    after = mesh.request("GET", "/api/globex/sessions", globex)
    assert after.status_code == 200, after.text
    assert f'"tenant-requests";q={GLOBEX_LIMIT}' in after.headers["RateLimit-Policy"]
    # Globex's own next request spent one of globex's allowance; acme's requests spent none of it.
    assert tenant_remaining(after) >= tenant_remaining(before) - 1
    assert leaked(after.text, acme.secrets) == [], after.text
