"""`/api/admin/tenants/{tenant_id}/llm`: the model provider a tenant's agents use, with its key.

The key is encrypted at rest and never returned: reads show `has_api_key` and the key's last
four characters; a tenant without one reads `configured: false`. Agents whose model is `default`
use it from the next turn on.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from agentmesh.outbound import SAVED_URL_RULE
from gateway.admin_auth import TENANT_PATH, tenant_admin
from gateway.openapi import Operation
from host.llm_config import LlmConfigIn, LlmConfigView

PATH = "/api/admin/tenants/{tenant_id}/llm"

GET = Operation(
    "GET",
    PATH,
    "getLlmConfig",
    "Read the tenant's LLM configuration (never its key); `configured: false` when it has none",
    "llm",
    LlmConfigView,
    errors=(403, 404),
    path_schemas=TENANT_PATH,
)
PUT = Operation(
    "PUT",
    PATH,
    "putLlmConfig",
    "Set the tenant's LLM provider, model and API key (encrypted at rest)",
    "llm",
    LlmConfigView,
    body=LlmConfigIn,
    errors=(400, 403, 404, 413),
    path_schemas=TENANT_PATH,
    description=f"The `base_url` receives the tenant's key with every request. {SAVED_URL_RULE}",
)
DELETE = Operation(
    "DELETE",
    PATH,
    "deleteLlmConfig",
    "Remove the tenant's LLM configuration (agents fall back to the platform's or the local planner)",
    "llm",
    None,
    status=204,
    errors=(403, 404),
    path_schemas=TENANT_PATH,
)


async def get_llm(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    return GET.reply(await access.state.admin.llm.view(access.tenant_id))


async def put_llm(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    body = await PUT.read_body(request, access.state.settings.max_body_bytes)
    view = await access.state.admin.llm.set(access.tenant_id, body)
    await access.record(
        "llm.put",
        f"llm:{body.provider}:{body.model}",
        arguments=body.model_dump(mode="json", exclude={"api_key"}),
    )
    return PUT.reply(view)


async def delete_llm(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    await access.state.admin.llm.delete(access.tenant_id)
    await access.record("llm.delete", "llm")
    return DELETE.reply()


operations = [GET.bind(get_llm), PUT.bind(put_llm), DELETE.bind(delete_llm)]
