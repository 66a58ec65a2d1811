"""Choosing the model of an agent for a tenant from its `local`, `default` or `provider:model`.

- `local`: the deterministic local planner, always.
- `default`: the tenant's configured LLM (`host.llm_config`), else the local planner.
- `provider:model`: that provider and model, with the tenant's stored key when the tenant
  configured that provider, else the platform's key from the settings, else `ModelUnavailable`.

Tenant configurations are cached and dropped when the `llm` configuration version moves; provider
clients are cached per (provider, model, key, base URL) and share one pooled HTTP client.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping

import httpx2

from agentmesh.errors import AgentmeshError
from agentmesh.outbound import OutboundGuard
from agentmesh.outbound_http import guarded_client
from agentmesh.settings import Settings
from host.llm_config import PROVIDERS, LlmConfigStore, LlmCredentials, Provider
from host.models.anthropic import AnthropicModel
from host.models.base import Model
from host.models.gemini import GeminiModel
from host.models.local import LocalPlanner
from host.models.openai import OpenAIModel
from host.models.options import ProviderOptions
from host.models.pricing import PriceTable
from host.models.retry import RetryPolicy

_MAX_CLIENTS = 1_000

ADAPTERS: Mapping[Provider, Callable[..., Model]] = {
    "anthropic": AnthropicModel,
    "openai": OpenAIModel,
    "gemini": GeminiModel,
}


class UnknownModel(AgentmeshError):
    """The agent names a provider this host does not know."""

    code = "unknown_model"


class ModelUnavailable(AgentmeshError):
    """The provider is known but no API key is configured for it."""

    code = "model_unavailable"


def parse_spec(spec: str) -> tuple[str, str]:
    """`provider:model` -> (provider, model); `local` and `default` have no model part."""
    provider, _, model = spec.partition(":")
    return provider, model


class ModelRegistry:
    """Resolves an agent's model spec to a `Model` for one tenant."""

    def __init__(
        self,
        local: LocalPlanner | None = None,
        *,
        llm_configs: LlmConfigStore | None = None,
        options: ProviderOptions | None = None,
        platform_keys: Mapping[str, str] | None = None,
        platform_base_urls: Mapping[str, str] | None = None,
    ) -> None:
        self._local = local or LocalPlanner()
        self._llm_configs = llm_configs
        self._options = options
        self._platform_keys = dict(platform_keys or {})
        self._platform_base_urls = dict(platform_base_urls or {})
        self._tenant_configs: dict[str, LlmCredentials | None] = {}
        self._version: int | None = None
        self._clients: OrderedDict[tuple[str, str, str, str | None], Model] = OrderedDict()
        self._tenant_clients: dict[str, set[tuple[str, str, str, str | None]]] = {}
        """The clients built on each tenant's own key, to drop with the tenant."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        llm_configs: LlmConfigStore | None = None,
        local: LocalPlanner | None = None,
        outbound: OutboundGuard | None = None,
    ) -> ModelRegistry:
        """Providers over one pooled HTTP client whose every connection passes `outbound` (default:
        the platform's guard from settings): a tenant's base URL receives its API key."""
        keys = {
            provider: secret.get_secret_value()
            for provider, secret in (
                ("anthropic", settings.anthropic_api_key),
                ("openai", settings.openai_api_key),
                ("gemini", settings.gemini_api_key),
            )
            if secret is not None
        }
        options = ProviderOptions(
            http_client=guarded_client(
                outbound or OutboundGuard.from_settings(settings),
                timeout=httpx2.Timeout(settings.llm_timeout_seconds, connect=10.0),
                limits=httpx2.Limits(max_connections=200, max_keepalive_connections=50),
            ),
            timeout_seconds=settings.llm_timeout_seconds,
            retry=RetryPolicy(
                max_retries=settings.llm_max_retries, base_seconds=settings.llm_retry_base_seconds
            ),
            prices=PriceTable.from_file(settings.llm_prices_file),
        )
        base_urls = {"openai": settings.openai_base_url} if settings.openai_base_url else {}
        return cls(
            local, llm_configs=llm_configs, options=options, platform_keys=keys, platform_base_urls=base_urls
        )

    @property
    def local(self) -> LocalPlanner:
        return self._local

    async def aclose(self) -> None:
        if self._options is not None:
            await self._options.http_client.aclose()

    async def resolve(self, spec: str, *, tenant_id: str, llm_version: int = 0) -> Model:
        """The model `spec` means for `tenant_id` (`llm_version`: the current `llm` config version)."""
        provider, model = parse_spec(spec)
        if provider == "local":
            return self._local
        if llm_version != self._version:
            self._tenant_configs.clear()
            self._version = llm_version
        tenant = await self._tenant_config(tenant_id)
        if provider == "default":
            if tenant is None:
                return self._local
            return self._client(
                tenant.provider,
                tenant.model,
                tenant.api_key.get_secret_value(),
                tenant.base_url,
                owner=tenant_id,
            )
        if provider not in PROVIDERS:
            raise UnknownModel(
                f"model provider '{provider}' is not available on this host (use {', '.join(PROVIDERS)})"
            )
        if tenant is not None and tenant.provider == provider:
            return self._client(
                provider, model, tenant.api_key.get_secret_value(), tenant.base_url, owner=tenant_id
            )
        key = self._platform_keys.get(provider)
        if key is None:
            raise ModelUnavailable(
                f"no API key for {provider}: set one in your organisation's LLM configuration"
            )
        return self._client(provider, model, key, self._platform_base_urls.get(provider))

    async def _tenant_config(self, tenant_id: str) -> LlmCredentials | None:
        if self._llm_configs is None:
            return None
        if tenant_id not in self._tenant_configs:
            self._tenant_configs[tenant_id] = await self._llm_configs.credentials(tenant_id)
        return self._tenant_configs[tenant_id]

    def forget_tenant(self, tenant_id: str) -> None:
        """Drop the tenant's LLM settings and every client holding its key (tenant deletion)."""
        self._tenant_configs.pop(tenant_id, None)
        for cache_key in self._tenant_clients.pop(tenant_id, set()):
            self._clients.pop(cache_key, None)

    def _client(
        self, provider: str, model: str, api_key: str, base_url: str | None, *, owner: str | None = None
    ) -> Model:
        if self._options is None:
            raise ModelUnavailable("remote model providers are not configured on this host")
        key_id = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        cache_key = (provider, model, key_id, base_url)
        if owner is not None:
            self._tenant_clients.setdefault(owner, set()).add(cache_key)
        client = self._clients.get(cache_key)
        if client is None:
            client = ADAPTERS[provider](model, api_key=api_key, options=self._options, base_url=base_url)  # type: ignore[index]
            self._clients[cache_key] = client
            if len(self._clients) > _MAX_CLIENTS:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(cache_key)
        return client
