"""`/api/admin/tenants/{tenant_id}/search/provider`: the web search provider a tenant's agents use.

The API key is sealed before it is stored and never returned: reads show `has_api_key` only.
Without a provider, `web_search` answers from the tenant's local index and says so.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from agentmesh.outbound import SAVED_URL_RULE
from gateway.admin_auth import TENANT_PATH, tenant_admin
from gateway.errors import ApiError
from gateway.openapi import Operation
from mcp_servers.search.models import ProviderSettings, ProviderSummary

PATH = "/api/admin/tenants/{tenant_id}/search/provider"

GET = Operation(
    "GET",
    PATH,
    "getSearchProvider",
    "Read the tenant's web search provider (never its key)",
    "search",
    ProviderSummary,
    errors=(403, 404),
    path_schemas=TENANT_PATH,
)
PUT = Operation(
    "PUT",
    PATH,
    "putSearchProvider",
    "Set the tenant's web search provider: SearXNG (base_url), Brave, Tavily or Firecrawl (api_key)",
    "search",
    ProviderSummary,
    body=ProviderSettings,
    errors=(400, 403, 404, 413),
    path_schemas=TENANT_PATH,
    description=SAVED_URL_RULE,
)
DELETE = Operation(
    "DELETE",
    PATH,
    "deleteSearchProvider",
    "Remove the tenant's provider (web search falls back to the local index)",
    "search",
    None,
    status=204,
    errors=(403, 404),
    path_schemas=TENANT_PATH,
)


def _no_provider(tenant_id: str) -> ApiError:
    return ApiError("search_provider_not_set", f"tenant '{tenant_id}' has no web search provider")


async def get_provider(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    summary = await access.state.admin.search_providers.summary(access.tenant_id)
    if summary is None:
        raise _no_provider(access.tenant_id)
    return GET.reply(summary)


async def put_provider(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    body = await PUT.read_body(request, access.state.settings.max_body_bytes)
    summary = await access.state.admin.search_providers.put(access.tenant_id, body)
    await access.record(
        "search_provider.put",
        f"search-provider:{body.provider}",
        arguments=body.model_dump(mode="json", exclude={"api_key"}),
    )
    return PUT.reply(summary)


async def delete_provider(request: Request) -> Response:
    access = await tenant_admin(request)
    assert access.tenant_id is not None
    if not await access.state.admin.search_providers.remove(access.tenant_id):
        raise _no_provider(access.tenant_id)
    await access.record("search_provider.delete", "search-provider")
    return DELETE.reply()


operations = [GET.bind(get_provider), PUT.bind(put_provider), DELETE.bind(delete_provider)]
