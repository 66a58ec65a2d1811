"""Tenant deletion and export know every store: each table naming a tenant is declared by a store,
each in-process backend forgets a tenant, and only a platform admin may export or delete.

The whole lifecycle against real servers, PostgreSQL and Redis is `test_tenant_lifecycle_live.py`.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.migrations import declared_metadata
from agentmesh.settings import Settings
from gateway.app import create_app
from gateway.backends import Backends, open_backends
from gateway.ratelimit import Charge, Quota
from gateway.sessions import SessionKey
from gateway.state import GatewayState
from gateway.tenant_records import OWNED_THROUGH_PARENT, PLATFORM_TABLES, declared_rows

TENANT_COLUMNS = {"tenant_id", "owner"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, servers={})) as running:
        yield running


def headers(settings: Settings, tenant: str, user: str, *roles: str) -> dict[str, str]:
    token = issue_dev_token(settings, tenant_id=tenant, user=user, roles=list(roles) or None)
    return {"Authorization": f"Bearer {token}"}


def test_every_table_that_names_a_tenant_is_declared_by_a_store(client: TestClient) -> None:
    state: GatewayState = client.app.state.gateway  # type: ignore[attr-defined]
    declared = {(rows.table, rows.column) for rows in declared_rows(state)}
    naming_a_tenant = {
        (table.name, column.name)
        for table in declared_metadata().tables.values()
        for column in table.columns
        if column.name in TENANT_COLUMNS
    } | {("tenants", "id")}
    assert declared == naming_a_tenant
    every_table = set(declared_metadata().tables)
    assert every_table - {table for table, _ in declared} == PLATFORM_TABLES | set(OWNED_THROUGH_PARENT)
    for child, parent in OWNED_THROUGH_PARENT.items():
        (reference,) = declared_metadata().tables[child].foreign_keys
        assert reference.column.table.name == parent and reference.ondelete == "CASCADE"


async def test_in_process_backends_forget_one_tenant_and_keep_the_others(settings: Settings) -> None:
    backends: Backends = await open_backends(settings)
    quota = Quota(name="tenant-requests", limit=10)
    for tenant in ("acme", "globex"):
        await backends.limiter.hit_all([Charge(key=f"{{{tenant}}}:requests", quota=quota)])
        await backends.slots.acquire(tenant, 5)
        await backends.cache.set(f"tenant:{{{tenant}}}", "1", 60)
        key = SessionKey(tenant_id=tenant, user_id="u", session_id=f"s-{tenant}")
        await backends.windows.store(key, [], {"mst": "1"}, replace=True)

    assert await backends.forget_tenant("acme") == 4
    assert await backends.forget_tenant("acme") == 0
    assert await backends.slots.in_use("acme") == 0 and await backends.slots.in_use("globex") == 1
    assert (
        await backends.cache.get("tenant:{acme}") is None
        and await backends.cache.get("tenant:{globex}") == "1"
    )
    assert await backends.windows.load(SessionKey(tenant_id="acme", user_id="u", session_id="s-acme")) is None
    kept = await backends.windows.load(SessionKey(tenant_id="globex", user_id="u", session_id="s-globex"))
    assert kept is not None and kept.memory == {"mst": "1"}


def test_only_a_platform_admin_exports_or_deletes_a_tenant(client: TestClient, settings: Settings) -> None:
    for who in (("acme", "ada", "tenant_admin"), ("acme", "alice")):
        for method, path in (
            ("GET", "/api/admin/tenants/acme/export"),
            ("DELETE", "/api/admin/tenants/acme"),
        ):
            refused = client.request(method, path, headers=headers(settings, *who))
            assert refused.status_code == 403, refused.text
    platform = headers(settings, "platform", "root", "platform_admin")
    assert client.get("/api/admin/tenants/nobody/export", headers=platform).status_code == 404
    for reserved in ("*", "platform"):
        refused = client.delete(f"/api/admin/tenants/{reserved}", headers=platform)
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "tenant_reserved")


def test_a_tenant_without_servers_is_exported_and_deleted_in_process(
    client: TestClient, settings: Settings
) -> None:
    platform = headers(settings, "platform", "root", "platform_admin")
    assert (
        client.post("/api/admin/tenants", json={"id": "orbit", "name": "Orbit"}, headers=platform).status_code
        == 201
    )
    user = headers(settings, "orbit", "olga")
    upload = client.post("/api/orbit/uploads?filename=a.txt", content=b"orbit bytes", headers=user)
    assert upload.status_code == 201, upload.text

    exported = client.get("/api/admin/tenants/orbit/export", headers=platform)
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(exported.content), mode="r:gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        stored = tar.extractfile(f"uploads/{upload.json()['handle']}/a.txt").read()  # type: ignore[union-attr]
    assert manifest["tenant_id"] == "orbit" and stored == b"orbit bytes"
    assert "knowledge" not in manifest["contents"]  # no server behind this gateway

    report = client.delete("/api/admin/tenants/orbit", headers=platform).json()
    assert report["tenant_existed"] and report["uploads"] == 1 and report["servers"] == [], report
    assert report["sql_rows"]["tenants"] == 1 and report["sql_rows"]["audit_events"] >= 1, report
    assert client.get("/api/admin/tenants/orbit", headers=platform).status_code == 404
    assert client.get(f"/api/orbit/uploads/{upload.json()['handle']}", headers=user).status_code == 404
