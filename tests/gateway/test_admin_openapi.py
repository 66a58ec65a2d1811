"""`/openapi.json` describes the whole HTTP API, and the API keeps to it.

Schemathesis generates requests from the document for every operation (a bounded number each, so
the run takes a minute or two) and sends them, as a platform admin, as a tenant admin and as a
plain user of that tenant, to a gateway with a real RAG server behind it: no answer may be a 5xx,
and every answer must be one the document declares, with the declared content type and body
schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agentmesh.dev_tokens import issue_dev_token
from agentmesh.settings import Settings, load_settings
from gateway.app import public_operations
from gateway.routes import admin
from tests.support.gateway import running_gateway
from tests.support.processes import free_port, running_server

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 4
CALLERS = {
    "platform-admin": ("platform", "root", "platform_admin"),
    "acme-admin": ("acme", "ada", "tenant_admin"),
    "acme-user": ("acme", "uma", "user"),
}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class Gateway:
    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings

    def headers(self, caller: str) -> dict[str, str]:
        tenant, user, role = CALLERS[caller]
        token = issue_dev_token(self.settings, tenant_id=tenant, user=user, roles=[role])
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("openapi")
    settings = load_settings(AGENTMESH_DATA_DIR=data_dir, AGENTMESH_RATE_LIMIT_RPM=100_000)
    port = free_port()  # the RAG server reads uploaded documents back from this gateway
    uploads = f"http://127.0.0.1:{port}/internal/uploads"
    with (
        running_server(
            "rag", data_dir, AGENTMESH_RAG_DEMO_KB="false", AGENTMESH_UPLOADS_URL=uploads
        ) as rag_url,
        running_gateway(settings, {"rag": rag_url}, port=port) as url,
    ):
        yield Gateway(url, settings)


@pytest.fixture(scope="module")
def document(gateway: Gateway) -> dict[str, Any]:
    response = httpx.get(f"{gateway.url}/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def test_the_document_is_openapi_3_1_with_every_admin_route(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert {(op.method, op.openapi_path) for op in admin.operations} <= documented
    assert ("POST", "/api/{tenant_id}/chat") in documented


def test_every_operation_declares_its_errors_with_the_error_schema(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert ("401" in operation["responses"]) == bool(operation["security"]), f"{method} {path}"
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (
                        f"{method} {path} {status}"
                    )


def test_secrets_are_write_only_in_the_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("LlmConfigIn", "ProviderSettings", "CredentialIn"):
        if name in schemas:
            secret = next(p for p in schemas[name]["properties"].values() if "password" in str(p))
            assert "writeOnly" in str(secret) or "password" in str(secret)
    for name, schema in schemas.items():
        if name.endswith(("View", "Summary")):
            assert not {"api_key", "secret"} & set(schema.get("properties", {})), name


@pytest.fixture(scope="module")
def api_schema(gateway: Gateway) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")


DOCUMENTED = [
    pytest.param(op.method, op.openapi_path, id=f"{op.method} {op.openapi_path}")
    for op in public_operations()
]


def _in_a_real_tenant(case: schemathesis.Case) -> schemathesis.Case:
    # Random tenant ids mostly meet 404s; half the cases go to a tenant that exists, to reach the stores.
    if case.path_parameters and "tenant_id" in case.path_parameters:
        case.path_parameters["tenant_id"] = "acme"
    return case


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize(("method", "path"), DOCUMENTED)
def test_no_request_the_document_allows_makes_the_gateway_fail(
    api_schema: schemathesis.BaseSchema, gateway: Gateway, method: str, path: str, caller: str
) -> None:
    strategy = api_schema[path][method].as_strategy()

    @given(case=strategies.one_of(strategy, strategy.map(_in_a_real_tenant)))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=gateway.url,
            headers=gateway.headers(caller),
            checks=CHECKS,
            timeout=60,
        )

    run()
