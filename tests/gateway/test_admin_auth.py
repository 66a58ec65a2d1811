"""Admin scoping: platform admins administer every tenant, tenant admins only their own, users nothing.

The HTTP cases run over every documented admin operation, so a new endpoint is covered the day
it is added.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from gateway.admin_auth import PLATFORM_ADMIN, TENANT_ADMIN, require_admin, require_platform_admin
from gateway.app import create_app
from gateway.auth import AuthenticatedUser
from gateway.errors import ApiError
from gateway.openapi import Operation
from gateway.routes import admin

PLATFORM_ONLY = {"putPolicy", "deletePolicy", "renameTenant", "exportTenant", "deleteTenant"}
"""Operations under a tenant's path that only platform admins may use."""


def user(tenant: str, *roles: str) -> AuthenticatedUser:
    return AuthenticatedUser(tenant_id=tenant, subject="someone", roles=list(roles) or ["user"])


def test_platform_admin_administers_any_tenant() -> None:
    assert require_admin(user("platform", PLATFORM_ADMIN), "acme") == PLATFORM_ADMIN
    assert require_admin(user("platform", PLATFORM_ADMIN), "globex") == PLATFORM_ADMIN
    assert require_platform_admin(user("platform", PLATFORM_ADMIN)) == PLATFORM_ADMIN


def test_tenant_admin_administers_only_its_own_tenant() -> None:
    assert require_admin(user("acme", TENANT_ADMIN), "acme") == TENANT_ADMIN
    with pytest.raises(ApiError) as refused:
        require_admin(user("acme", TENANT_ADMIN), "globex")
    assert (refused.value.status, refused.value.code) == (403, "forbidden_tenant")
    with pytest.raises(ApiError) as refused:
        require_platform_admin(user("acme", TENANT_ADMIN))
    assert (refused.value.status, refused.value.code) == (403, "platform_admin_required")


def test_user_administers_nothing() -> None:
    with pytest.raises(ApiError) as refused:
        require_admin(user("acme"), "acme")
    assert (refused.value.status, refused.value.code) == (403, "admin_required")


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(AGENTMESH_DATA_DIR=tmp_path_factory.mktemp("admin-auth"))


@pytest.fixture(scope="module")
def client(module_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(module_settings, servers={})) as test_client:
        yield test_client


def _path(operation: Operation, tenant: str) -> str:
    values = {"tenant_id": tenant, "name": "some-name", "server": "erp", "tool": "some_tool"}
    values |= {"job_id": "job1", "document_id": "doc1", "approval_id": "a1", "webhook_id": "wh_" + "0" * 32}
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], operation.openapi_path)


def _send(client: TestClient, operation: Operation, tenant: str, token: str | None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {} if operation.body is not None else None
    return client.request(operation.method, _path(operation, tenant), json=body, headers=headers)


OPERATIONS = [pytest.param(op, id=op.operation_id) for op in admin.operations]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_admin_operation_needs_a_token(client: TestClient, operation: Operation) -> None:
    response = _send(client, operation, "acme", None)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_admin_operation_refuses_a_plain_user(
    client: TestClient, module_settings: Settings, operation: Operation
) -> None:
    token = issue_dev_token(module_settings, tenant_id="acme", user="alice")
    response = _send(client, operation, "acme", token)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] in {"admin_required", "platform_admin_required"}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_tenant_admin_cannot_reach_another_tenant_or_the_platform(
    client: TestClient, module_settings: Settings, operation: Operation
) -> None:
    token = issue_dev_token(module_settings, tenant_id="globex", user="gina", roles=["tenant_admin"])
    response = _send(client, operation, "acme", token)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] in {"forbidden_tenant", "platform_admin_required"}


@pytest.mark.parametrize(
    "operation", [p for p in OPERATIONS if "{tenant_id}" in p.values[0].path and p.id not in PLATFORM_ONLY]
)
def test_a_tenant_admin_passes_authorisation_for_its_own_tenant(
    client: TestClient, module_settings: Settings, operation: Operation
) -> None:
    token = issue_dev_token(module_settings, tenant_id="acme", user="ada", roles=["tenant_admin"])
    response = _send(client, operation, "acme", token)
    assert response.status_code not in (401, 403, 500), response.text


def test_a_tenant_admin_of_another_tenant_learns_nothing_about_which_tenants_exist(
    client: TestClient, module_settings: Settings
) -> None:
    token = issue_dev_token(module_settings, tenant_id="globex", user="gina", roles=["tenant_admin"])
    headers = {"Authorization": f"Bearer {token}"}
    existing = client.get("/api/admin/tenants/acme", headers=headers)
    missing = client.get("/api/admin/tenants/no-such-tenant", headers=headers)
    assert existing.status_code == missing.status_code == 403
    assert existing.json()["error"]["code"] == missing.json()["error"]["code"] == "forbidden_tenant"
